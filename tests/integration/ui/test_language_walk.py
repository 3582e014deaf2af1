"""Every staff page walked as each role in zh-CN and in en.

In zh-CN a page fails on a raw code from the code lists or an ASCII colon right after a
CJK character; in en on any CJK text except what people typed (names, purposes). Add
your pages to ``PAGES`` (a path template over the walk's ``world``) and the codes they
could leak to ``CODES``; a page a role may not open (403) is skipped for that role.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.assessments.conftest import Client, NewPartner, User
from tests.integration.ui.conftest import OpenBrowser

CJK = re.compile(r"[\u3400-\u9fff]")
CJK_THEN_COLON = re.compile(r"[\u3400-\u9fff]:")

PAGES = [
    # console-partners
    "/ui/partners?q={partner_name}",
    "/ui/partners?q={partner_name}&sort=tier",
    "/ui/partners/new",
    "/ui/partners/{partner_id}",
    "/ui/partners/{partner_id}/edit",
    "/ui/partners/{partner_id}/agreements/new",
    "/ui/partners/{partner_id}/scopes/new",
    "/ui/partners/{partner_id}/impact-assessments/new",
]
# Codes of the code lists that must never reach a Chinese page as text.
CODES = [
    "sensitive_personal",
    "business_criticality",
    "processing_method",
    "1k_10k",
    "access_remotely",
    "agreement_missing",
    "dpa_missing",
    "impact_assessment_missing",
    "no_sub_entrustment_without_consent",
    "proposed",
    "onboarding",
]
# What people typed in the world below: it may be in any script.
TYPED = ["语言测试有限公司", "语言测试", "代理记账", "报税", "李雷", "甲方", "乙方", "中文"]


def visible_text(html: str) -> str:
    """The page's text without markup, the signed-in user's name, the owner choices and
    what people typed."""
    html = re.sub(r'<span class="who">.*?</span>', " ", html, flags=re.S)
    html = re.sub(r'<select id="f-owner_id".*?</select>', " ", html, flags=re.S)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    for typed in TYPED:
        text = text.replace(typed, " ")
    return text


@pytest.fixture
async def world(client: Client, new_partner: NewPartner, procurement: User) -> dict[str, Any]:
    partner = await new_partner(name="语言测试", legal_name="语言测试有限公司", services=["代理记账"])
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    sensitive = next(c for c in categories if c["sensitivity"] == "sensitive_personal")
    scope = await client.post(
        f"/api/v1/partners/{partner['id']}/scopes",
        json={
            "category_id": sensitive["id"],
            "purpose": "报税",
            "processing_methods": ["store", "access_remotely"],
            "transfer_method": "api",
            "starts_on": "2026-01-01",
            "retention_days": 30,
            "volume_band": "1k_10k",
            "cross_border": True,
        },
        headers=procurement["headers"],
    )
    assert scope.status_code == 201, scope.text
    dpa = await client.post(
        f"/api/v1/partners/{partner['id']}/agreements",
        json={
            "kind": "dpa",
            "title": "DPA 2026",
            "signed_on": "2026-01-01",
            "signatories": [{"party": "us", "name": "甲方"}, {"party": "partner", "name": "乙方"}],
            "category_ids": [sensitive["id"]],
            "clauses": ["purpose"],
        },
        headers=procurement["headers"],
    )
    assert dpa.status_code == 201, dpa.text
    return {"partner_id": partner["id"], "partner_name": partner["name"], "scope_id": scope.json()["id"]}


@pytest.mark.parametrize("role", ["procurement", "risk_owner", "auditor", "admin"])
async def test_every_page_speaks_one_language(
    role: str, browser: OpenBrowser, make_user: Any, world: dict[str, Any]
) -> None:
    me = await browser(await make_user(role))
    for lang in ("zh-CN", "en"):
        assert (await me.get("/ui", lang=lang)).status_code == 200
        walked = 0
        for template in PAGES:
            path = template.format(**world)
            page = await me.get(path)
            if page.status_code == 403:
                continue
            assert page.status_code == 200, (role, path, page.status_code)
            assert f'<html lang="{lang}">' in page.text
            walked += 1
            text = visible_text(page.text)
            if lang == "zh-CN":
                for code in CODES:
                    assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), (role, path, code)
                colon = CJK_THEN_COLON.search(text)
                assert colon is None, (
                    role,
                    path,
                    text[max(0, colon.start() - 30) : colon.end() + 10] if colon else "",
                )
            else:
                found = CJK.search(text)
                assert found is None, (
                    role,
                    path,
                    text[max(0, found.start() - 60) : found.start() + 20] if found else "",
                )
        assert walked >= 2, (role, lang)
