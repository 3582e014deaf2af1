"""The security notice pages speak one language: walked in zh-CN as each staff role they
fail on a raw code or an ASCII colon after a Chinese character, in en on any Chinese text;
the contact's link page likewise in both languages. The partner's data is typed in English,
so whatever Chinese an en page shows came from the page itself."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.conftest import Settings
from tests.helpers import new_credit_code, outbox_emails
from tests.integration.assessments.conftest import Client, User
from tests.integration.ui.conftest import OpenBrowser

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
CJK_THEN_COLON = re.compile(r"[\u3400-\u9fff]:")
CODES = [
    "requirement",
    "guidance",
    "advisory",
    "policy_change",
    "data_category",
    "service_type",
    "ack_required",
]
KEYS = [
    "partner-security-baseline",
    "entrusted-processing-pipl21",
    "phishing-social-engineering",
    "incident-reporting",
]


def text_of(html: str) -> str:
    html = re.sub(r'<span class="who">.*?</span>', " ", html, flags=re.S)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    # The language switch names each language in itself.
    html = re.sub(r'<nav class="lang".*?</nav>', " ", html, flags=re.S)
    # The publisher's name, as the fixture's risk owner typed it.
    return re.sub(r"<[^>]+>", " ", html).replace("王芳", " ")


def check(text: str, lang: str, where: str) -> None:
    if lang == "zh-CN":
        for code in CODES:
            assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), (where, code)
        colon = CJK_THEN_COLON.search(text)
        assert colon is None, (where, text[max(0, colon.start() - 30) : colon.end() + 10] if colon else "")
    else:
        found = CJK.search(text)
        assert found is None, (where, text[max(0, found.start() - 60) : found.start() + 20] if found else "")


@pytest.fixture
async def world(
    client: Client, procurement: User, risk_owner: User, db: asyncpg.Connection, settings: Settings
) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    created = await client.post(
        "/api/v1/partners",
        json={
            "name": f"Walk Payroll {tag}",
            "legal_name": f"Walk Payroll Ltd {tag}",
            "credit_code": new_credit_code(),
            "country": "CN",
            "business_criticality": "high",
            "owner_id": str(risk_owner["id"]),
            "contacts": [
                {
                    "name": "Ann Lee",
                    "email": f"ann-{tag}@partner.example.com",
                    "primary": True,
                    "locale": "en",
                }
            ],
        },
        headers=procurement["headers"],
    )
    assert created.status_code == 201, created.text
    partner = created.json()
    published = await client.post(
        "/api/v1/notice-publications",
        json={
            "notice_key": "entrusted-processing-pipl21",
            "notice_version": 1,
            "audience": "partner",
            "audience_value": partner["id"],
            "due_on": (datetime.now(UTC).date() + timedelta(days=9)).isoformat(),
        },
        headers=risk_owner["headers"],
    )
    assert published.status_code == 201, published.text
    [email] = await outbox_emails(
        db,
        settings.data_keys,
        "topic = 'notice.published' AND payload->>'to' = $1",
        f"ann-{tag}@partner.example.com",
    )
    token = re.search(r"/n/([A-Za-z0-9_-]{43})", email["text"])
    assert token is not None
    return {"partner_id": partner["id"], "publication_id": published.json()["id"], "token": token.group(1)}


@pytest.mark.parametrize("role", ["procurement", "risk_owner", "auditor", "admin"])
async def test_the_notice_pages_speak_one_language(
    role: str, browser: OpenBrowser, make_user: Any, world: dict[str, Any], client: Client
) -> None:
    me = await browser(await make_user(role))
    pages = [
        "/ui/notices",
        *(f"/ui/notices/{key}/1" for key in KEYS),
        f"/ui/notices/publications/{world['publication_id']}",
        f"/ui/partners/{world['partner_id']}/notices",
    ]
    for lang in ("zh-CN", "en"):
        assert (await me.get("/ui", lang=lang)).status_code == 200
        for path in pages:
            page = await me.get(path)
            assert page.status_code == 200, (role, path, page.status_code)
            assert f'<html lang="{lang}">' in page.text
            check(text_of(page.text), lang, f"{role} {lang} {path}")
        link = await client.get(f"/n/{world['token']}", params={"lang": lang})
        assert link.status_code == 200
        check(text_of(link.text), lang, f"link {lang}")
        gone = await client.get("/n/" + "x" * 43, params={"lang": lang})
        check(text_of(gone.text), lang, f"unknown link {lang}")
