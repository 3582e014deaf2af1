"""Registering again a legal id that a former partner held (offboarded, after an incident)
warns with that history: the API answers 409 ``partner-history`` until ``confirm_history``
is sent, the page shows the former partner with links and a box to tick; both audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser


async def _former_partner(
    client: Client, new_partner: NewPartner, procurement: User, risk_owner: User
) -> Any:
    former = await new_partner(contacts=[])
    opened = await client.post(
        f"/api/v1/partners/{former['id']}/incidents",
        json={
            "title": "客户税号泄露",
            "severity": "high",
            "detected_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "playbook": "partner-data-leak",
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    for to in ("offboarding", "offboarded"):
        moved = await client.post(
            f"/api/v1/partners/{former['id']}/transitions",
            json={"to": to, "reason": "泄露后终止合作"},
            headers=risk_owner["headers"],
        )
        assert moved.status_code == 200, moved.text
    return former


async def test_the_api_asks_to_confirm_a_legal_id_with_a_history(
    client: Client,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    pool: asyncpg.Pool,
) -> None:
    former = await _former_partner(client, new_partner, procurement, risk_owner)
    body = {
        "name": "云账房（新）",
        "legal_name": former["legal_name"],
        "credit_code": former["credit_code"],
        "business_criticality": "medium",
    }
    refused = await client.post(
        "/api/v1/partners", json=body, headers={**procurement["headers"], "Accept-Language": "en"}
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("partner-history")
    assert problem["confirm"] == "confirm_history"
    [seen] = problem["history"]
    assert seen["id"] == former["id"]
    assert seen["incidents"] == 1
    assert (
        await pool.fetchval("SELECT count(*) FROM partners WHERE credit_code = $1", former["credit_code"])
        == 1
    )

    created = await client.post(
        "/api/v1/partners", json={**body, "confirm_history": True}, headers=procurement["headers"]
    )
    assert created.status_code == 201, created.text
    after = await pool.fetchval(
        "SELECT after FROM audit_events WHERE entity_id = $1 AND action = 'partner.created'",
        created.json()["id"],
    )
    assert former["id"] in str(after)


async def test_the_page_warns_with_links_and_a_box_to_tick(
    client: Client,
    browser: OpenBrowser,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    former = await _former_partner(client, new_partner, procurement, risk_owner)
    me = await browser(procurement)
    form = await me.get("/ui/partners/new", lang="zh-CN")
    fields = {
        "_csrf_token": csrf_of(form.text),
        "name": "云账房（再次登记）",
        "legal_name": former["legal_name"],
        "country": "CN",
        "credit_code": former["credit_code"],
        "business_criticality": "medium",
    }
    warned = await me.post("/ui/partners", fields, lang="zh-CN")
    assert warned.status_code == 409, warned.text
    for text in (
        "该信用代码曾属于已离场的合作方",
        former["name"],
        "1 起安全事件",
        "请先查看上述记录，并勾选确认后再保存",
    ):
        assert text in warned.text, text
    assert f'href="/ui/partners/{former["id"]}"' in warned.text
    assert "云账房（再次登记）" in warned.text  # what was typed is kept
    english = await me.post("/ui/partners", fields, lang="en")
    assert "This legal id belonged to a former partner" in english.text
    confirmed = await me.post("/ui/partners", {**fields, "confirm_history": "on"}, lang="zh-CN")
    assert confirmed.status_code == 303, confirmed.text
