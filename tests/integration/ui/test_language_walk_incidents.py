"""Every staff page speaks one language: walked in zh-CN as each role it fails on a raw
code (an enum value, a category or step key) or an ASCII colon right after a Chinese
character; walked in en it fails on any Chinese text. The data the pages show is typed in
the walk's own language, so whatever is found came from the pages themselves.

Each area adds a test below that builds its data and walks its pages with ``walk``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import new_credit_code
from tests.integration.assessments.conftest import Client, User
from tests.integration.ui.conftest import Browser, OpenBrowser
from vendor_risk.incidents.loader import library
from vendor_risk.incidents.playbook import ACTION_NAMES

ROLES = ("admin", "procurement", "risk_owner", "auditor")
NAMES = {
    "zh-CN": {
        "admin": "管理员张伟",
        "procurement": "采购李娜",
        "risk_owner": "风控王芳",
        "auditor": "审计刘洋",
    },
    "en": {
        "admin": "Alex Admin",
        "procurement": "Pat Buyer",
        "risk_owner": "Rita Owner",
        "auditor": "Audrey Reader",
    },
}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
COLON_AFTER_CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]:")
# Codes that must only ever show by their label.
RAW_CODES = {
    "suspected",
    "dismissed",
    "pending",
    "skipped",
    "succeeded",
    "risk_owner",
    "procurement",
    "auditor",
    "sensitive_personal",
    "personal",
    "confidential",
    "critical",
    "medium",
    "high",
    "low",
    "in_force",
    "in_progress",
    "offboarding",
    "offboarded",
    *ACTION_NAMES,
    *library(),
    *(step.id for playbook in library().values() for step in playbook.steps),
}
CODE_WORD = re.compile(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*")


def visible(page: str) -> str:
    """The text a reader sees: no markup, no attribute values, entities decoded."""
    # <pre> shows a record verbatim, as stored (the audit log's before and after).
    page = re.sub(r"<(script|style|pre)\b.*?</\1>", " ", page, flags=re.S)
    # What a page shows verbatim as stored (data-verbatim: an email's subject, an actor's
    # label) is data, not the page's words; so are email addresses.
    page = re.sub(r"<(\w+)\b[^>]*\sdata-verbatim[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"[\w.+-]+@[\w.-]+", " ", page)
    # The language switch names each language in itself (lang="…" marks it).
    page = re.sub(r'<(a|span)\b[^>]*\slang="[^"]+"[^>]*>.*?</\1>', " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def problems_in(text: str, lang: str) -> list[str]:
    if lang == "en":
        return [
            f"Chinese text {m.group(0)!r} near {text[max(0, m.start() - 30) : m.end() + 30]!r}"
            for m in CJK.finditer(text)
        ]
    found = [
        f"ASCII colon after Chinese: {text[max(0, m.start() - 20) : m.end() + 20]!r}"
        for m in COLON_AFTER_CJK.finditer(text)
    ]
    found += [f"raw code {word!r}" for word in CODE_WORD.findall(text) if word in RAW_CODES]
    return found


async def walk(me: Browser, paths: Iterable[str], lang: str) -> list[str]:
    """Every problem on ``paths`` (each must answer 200, or 403 for a role the page
    refuses: the shell's error page is not walked here)."""
    found = []
    for path in paths:
        response = await me.get(path)
        assert response.status_code in (200, 403), (path, response.status_code)
        if response.status_code == 403:
            continue
        found += [f"{path}: {p}" for p in problems_in(visible(response.text), lang)]
    return found


async def staff(make_user: Any, browser: OpenBrowser, lang: str) -> dict[str, tuple[User, Browser]]:
    people = {}
    for role in ROLES:
        user = await make_user(role, name=NAMES[lang][role], locale=lang)
        me = await browser(user)
        await me.get("/ui", lang=lang)
        people[role] = (user, me)
    return people


# --- incidents (console-incidents) ------------------------------------------------------------


async def incident_data(client: Client, owner: User, procurement: User, lang: str) -> list[str]:
    """A partner with a leak incident half run (a step done, the record partly filled) and
    a suspected one: the incident pages' paths."""
    zh = lang == "zh-CN"
    partner = await client.post(
        "/api/v1/partners",
        json={
            "name": "云账房" if zh else "Cloud Ledger",
            "legal_name": "北京云账房网络科技有限公司" if zh else "Cloud Ledger Ltd",
            "credit_code": new_credit_code(),
            "country": "CN",
            "business_criticality": "high",
            "owner_id": str(owner["id"]),
        },
        headers=procurement["headers"],
    )
    assert partner.status_code == 201, partner.text
    pid = partner.json()["id"]
    detected = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    leak = await client.post(
        f"/api/v1/partners/{pid}/incidents",
        json={
            "title": "邮箱泄露" if zh else "Mailbox leak",
            "severity": "critical",
            "detected_at": detected,
            "playbook": "partner-data-leak",
            "affected_categories": ["invoices"],
            "description": "钓鱼邮件" if zh else "Phishing",
        },
        headers=owner["headers"],
    )
    assert leak.status_code == 201, leak.text
    iid = leak.json()["id"]
    done = await client.post(
        f"/api/v1/incidents/{iid}/steps/contain/complete",
        json={"note": "已处理" if zh else "handled", "evidence": ["SEC-1"]},
        headers=owner["headers"],
    )
    assert done.status_code == 200, done.text
    saved = await client.put(
        f"/api/v1/incidents/{iid}/notification-record",
        json={"version": 0, "categories": ["invoices"], "cause": "钓鱼" if zh else "phishing"},
        headers=owner["headers"],
    )
    assert saved.status_code == 200, saved.text
    suspected = await client.post(
        f"/api/v1/partners/{pid}/incidents",
        json={
            "title": "疑似泄露" if zh else "Possible leak",
            "severity": "medium",
            "detected_at": detected,
            "playbook": "partner-unavailable",
            "suspected": True,
        },
        headers=procurement["headers"],
    )
    assert suspected.status_code == 201, suspected.text
    return [
        f"/ui/incidents?partner={pid}",
        f"/ui/incidents?partner={pid}&status=open&severity=critical&overdue=true",
        f"/ui/incidents/{iid}",
        f"/ui/incidents/{suspected.json()['id']}",
        f"/ui/partners/{pid}/incidents/new",
    ]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_incident_pages_speak_one_language(
    client: Client, make_user: Any, browser: OpenBrowser, lang: str
) -> None:
    people = await staff(make_user, browser, lang)
    paths = await incident_data(client, people["risk_owner"][0], people["procurement"][0], lang)
    found = []
    for role, (_, me) in people.items():
        found += [f"{role} {p}" for p in await walk(me, paths, lang)]
    assert not found, "\n".join(found)


# --- the dashboard (console-incidents) ----------------------------------------------------------


async def test_the_dashboard_speaks_chinese_to_every_role(
    client: Client, make_user: Any, browser: OpenBrowser
) -> None:
    # Only in zh-CN: the dashboard lists the whole firm, whose data this package typed in Chinese.
    people = await staff(make_user, browser, "zh-CN")
    await incident_data(client, people["risk_owner"][0], people["procurement"][0], "zh-CN")
    found = []
    for role, (_, me) in people.items():
        found += [f"{role} {p}" for p in await walk(me, ["/ui"], "zh-CN")]
    assert not found, "\n".join(found)
