"""Side doors around an incident's containment and a scope's end: each is refused,
naming the incident or the rule."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.integration.incidents.conftest import Client, NewPartner, User, incident_body
from vendor_risk.incidents.automation import run_due_actions
from vendor_risk.settings import Settings


async def test_no_new_link_while_a_containing_incident_is_open(
    client: Client,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    partner = await partner_sharing("invoices")
    pid = partner["id"]
    sent = await client.post(
        f"/api/v1/partners/{pid}/assessments", json={"kind": "onboarding"}, headers=procurement["headers"]
    )
    assert sent.status_code == 201, sent.text
    aid = sent.json()["assessment"]["id"]
    opened = await client.post(
        f"/api/v1/partners/{pid}/incidents", json=incident_body(), headers=risk_owner["headers"]
    )
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    await run_due_actions(pool, settings)
    assert (await client.get(urlsplit(sent.json()["link"]).path)).status_code == 410
    links_before = await db.fetchval("SELECT count(*) FROM portal_links")

    for who in (procurement, risk_owner):
        resent = await client.post(f"/api/v1/assessments/{aid}/resend", json={}, headers=who["headers"])
        assert resent.status_code == 409, resent.text
        problem = resent.json()
        assert problem["type"] == "urn:vendor-risk:problem:incident-containment"
        assert problem["incident_id"] == iid
        assert iid in problem["detail"]
    cancelled = await client.post(
        f"/api/v1/assessments/{aid}/cancel", json={"reason": "重新发送"}, headers=procurement["headers"]
    )
    assert cancelled.status_code == 200, cancelled.text
    fresh = await client.post(
        f"/api/v1/partners/{pid}/assessments", json={"kind": "onboarding"}, headers=procurement["headers"]
    )
    assert fresh.status_code == 409, fresh.text
    assert fresh.json()["incident_id"] == iid
    assert await db.fetchval("SELECT count(*) FROM portal_links") == links_before

    # Once the incident is over, links can be issued again.
    for step in opened.json()["steps"]:
        skipped = await client.post(
            f"/api/v1/incidents/{iid}/steps/{step['id']}/skip",
            json={"reason": "测试：步骤已在线下完成"},
            headers=risk_owner["headers"],
        )
        assert skipped.status_code == 200, skipped.text
    closed = await client.post(f"/api/v1/incidents/{iid}/close", json={}, headers=risk_owner["headers"])
    assert closed.status_code == 200, closed.text
    again = await client.post(
        f"/api/v1/partners/{pid}/assessments", json={"kind": "onboarding"}, headers=procurement["headers"]
    )
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("status", ["approved", "suspended"])
async def test_only_a_risk_owner_revokes_a_live_scope(
    client: Client,
    db: asyncpg.Connection,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
    admin: User,
    status: str,
) -> None:
    partner = await partner_sharing("invoices")
    pid = partner["id"]
    scope: dict[str, Any] = partner["scopes"]["invoices"]
    path = f"/api/v1/partners/{pid}/scopes/{scope['id']}"
    if status == "suspended":
        suspended = await client.post(
            f"{path}/suspend", json={"reason": "核查"}, headers=risk_owner["headers"]
        )
        assert suspended.status_code == 200, suspended.text
    events = "SELECT count(*) FROM audit_events WHERE entity_id = $1"
    events_before = await db.fetchval(events, scope["id"])
    refused = await client.post(f"{path}/revoke", json={"reason": "不再需要"}, headers=procurement["headers"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "urn:vendor-risk:problem:scope-revoke-needs-risk-owner"
    current = await client.get(path, headers=procurement["headers"])
    assert current.json()["status"] == status
    assert (
        await db.fetchval("SELECT count(*) FROM audit_events WHERE entity_id = $1", scope["id"])
        == events_before
    )
    revoked = await client.post(f"{path}/revoke", json={"reason": "不再需要"}, headers=risk_owner["headers"])
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"


async def test_procurement_still_withdraws_a_request(
    client: Client, partner_sharing: NewPartner, procurement: User
) -> None:
    partner = await partner_sharing()
    pid = partner["id"]
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    requested = await client.post(
        f"/api/v1/partners/{pid}/scopes",
        json={
            "category_id": next(c["id"] for c in categories if c["code"] == "invoices"),
            "purpose": "代理记账",
            "processing_methods": ["store"],
            "transfer_method": "api",
            "starts_on": "2025-01-01",
            "retention_days": 365,
            "volume_band": "1k_10k",
        },
        headers=procurement["headers"],
    )
    assert requested.status_code == 201, requested.text
    withdrawn = await client.post(
        f"/api/v1/partners/{pid}/scopes/{requested.json()['id']}/revoke",
        json={"reason": "需求取消"},
        headers=procurement["headers"],
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "revoked"
