"""Activating a critical partner takes two distinct risk owners (the shipped policy's
critical-partner-activation rule); the second may attach conditions, which become findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from tests.conftest import MakeUser
from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Review,
    Send,
    User,
    complete,
    make_active_ready,
)


async def test_a_critical_partner_is_activated_by_two_risk_owners(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    procurement: User,
    risk_owner: User,
    make_user: MakeUser,
) -> None:
    second = await make_user("risk_owner", name="复核人 乙")
    partner = await new_partner(business_criticality="critical")
    await make_active_ready(client, partner["id"], procurement)
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]))
    await review(sent["assessment"]["id"])
    # Its scopes would make it critical; set directly, as tiering is tested with partners.
    await db.execute("UPDATE partners SET tier = 'critical' WHERE id = $1", UUID(partner["id"]))
    path = f"/api/v1/partners/{partner['id']}/transitions"

    first = await client.post(
        path, json={"to": "active", "reason": "评估通过"}, headers=risk_owner["headers"]
    )
    assert first.status_code == 202, first.text
    assert first.json()["rule_id"] == "critical-partner-activation"
    shown = await client.get(f"/api/v1/partners/{partner['id']}", headers=procurement["headers"])
    assert shown.json()["status"] == "onboarding"

    again = await client.post(path, json={"to": "active", "reason": "再次"}, headers=risk_owner["headers"])
    assert again.status_code == 409
    assert again.json()["rule"] == "critical-partner-activation"

    due = (datetime.now(UTC).date() + timedelta(days=45)).isoformat()
    done = await client.post(
        f"/api/v1/approvals/{first.json()['id']}/approve",
        json={"conditions": [{"title": "45 天内提交等保测评报告", "due_on": due, "severity": "high"}]},
        headers=second["headers"],
    )
    assert done.status_code == 200, done.text
    assert done.json()["second_by"] == str(second["id"])
    shown = await client.get(f"/api/v1/partners/{partner['id']}", headers=procurement["headers"])
    assert shown.json()["status"] == "active"
    findings = await client.get(
        "/api/v1/findings", params={"partner_id": partner["id"]}, headers=risk_owner["headers"]
    )
    conditions = [f for f in findings.json()["items"] if f["title"]["zh-CN"] == "45 天内提交等保测评报告"]
    assert [(c["due_on"], c["severity"]) for c in conditions] == [(due, "high")]
    actions = [
        r["action"]
        for r in await db.fetch(
            "SELECT action FROM audit_events WHERE entity_type = 'partner' AND entity_id = $1 ORDER BY seq",
            partner["id"],
        )
    ]
    steps = [a for a in actions if a.startswith(("approval.", "partner.status_changed"))]
    assert steps[-3:] == ["approval.requested", "approval.completed", "partner.status_changed"]
