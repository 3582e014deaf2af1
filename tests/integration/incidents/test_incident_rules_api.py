"""Who may do what to an incident, what is refused and why, and how lists filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.incidents.conftest import NewPartner, User, incident_body
from vendor_risk.incidents.automation import escalate_overdue_steps, run_due_actions
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]


async def open_incident(client: Client, partner_id: str, user: User, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/partners/{partner_id}/incidents", json=incident_body(**overrides), headers=user["headers"]
    )
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


async def queued(db: asyncpg.Connection, incident_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT action FROM incident_action_runs WHERE incident_id = $1 ORDER BY step_id, action_index",
        UUID(incident_id),
    )
    return [r["action"] for r in rows]


async def test_procurement_reports_a_suspected_incident_that_a_risk_owner_confirms(
    client: Client,
    db: asyncpg.Connection,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
    auditor: User,
) -> None:
    partner = await partner_sharing("invoices")
    url = f"/api/v1/partners/{partner['id']}/incidents"

    refused = await client.post(url, json=incident_body(), headers=procurement["headers"])
    assert refused.status_code == 403
    assert "only as suspected" in refused.json()["detail"]

    reported = await open_incident(client, partner["id"], procurement, suspected=True)
    iid = reported["id"]
    assert reported["status"] == "suspected"
    assert [e["kind"] for e in reported["timeline"]] == ["reported"]
    # Nothing is contained on a report alone; the risk owners are told to decide.
    assert await queued(db, iid) == []
    told = await db.fetch(
        "SELECT payload FROM outbox WHERE channel = 'email' AND topic = 'incident.opened'"
        " AND dedupe_key LIKE $1",
        f"%{iid}%",
    )
    assert risk_owner["email"] in [m["payload"]["to"] for m in told]
    assert all(
        m["payload"]["subject"].startswith("【疑似事件，待确认】")
        for m in told
        if m["payload"]["lang"] == "zh-CN"
    )

    blocked = await client.post(
        f"/api/v1/incidents/{iid}/steps/contain/complete", json={}, headers=risk_owner["headers"]
    )
    assert blocked.status_code == 409
    assert blocked.json()["type"] == "urn:vendor-risk:problem:incident-state"
    # The problem's status is the HTTP status (RFC 9457); the incident's is its own member.
    assert blocked.json()["status"] == 409
    assert blocked.json()["current_status"] == "suspected"

    assert (
        await client.post(f"/api/v1/incidents/{iid}/confirm", headers=auditor["headers"])
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/incidents/{iid}/confirm", headers=procurement["headers"])
    ).status_code == 403
    confirmed = await client.post(f"/api/v1/incidents/{iid}/confirm", headers=risk_owner["headers"])
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "open"
    assert await queued(db, iid) == ["suspend_scopes", "revoke_portal_links"]

    again = await client.post(f"/api/v1/incidents/{iid}/confirm", headers=risk_owner["headers"])
    assert again.status_code == 409


async def test_a_dismissed_report_runs_nothing_and_never_escalates(
    client: Client,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    partner = await partner_sharing("tax_returns")
    reported = await open_incident(client, partner["id"], procurement, suspected=True)
    iid = reported["id"]

    dismissed = await client.post(
        f"/api/v1/incidents/{iid}/dismiss",
        json={"reason": "误报：邮件为测试演练"},
        headers=risk_owner["headers"],
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    await escalate_overdue_steps(pool, settings, now=datetime.now(UTC) + timedelta(days=90))

    assert (
        await db.fetchval("SELECT count(*) FROM incident_escalations WHERE incident_id = $1", UUID(iid)) == 0
    )
    assert (
        await client.post(f"/api/v1/incidents/{iid}/confirm", headers=risk_owner["headers"])
    ).status_code == 409


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"playbook": "alien-invasion"}, "playbook", "unknown playbook 'alien-invasion'"),
        (
            {"playbook": "partner-credential-compromise", "severity": "low"},
            "severity",
            "playbook 'partner-credential-compromise' is for medium, high, critical incidents, not low",
        ),
        ({"affected_categories": ["invoices", "moon_rocks"]}, "affected_categories", "unknown data category"),
        ({"detected_at": "2099-01-01T00:00:00+00:00"}, "detected_at", "must not be in the future"),
        ({"detected_at": "2025-01-01T00:00:00"}, "detected_at", ""),
        ({"severity": "apocalyptic"}, "severity", ""),
        ({"urgency": "now"}, "urgency", ""),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    client: Client,
    db: asyncpg.Connection,
    partner_sharing: NewPartner,
    risk_owner: User,
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    partner = await partner_sharing("invoices")

    response = await client.post(
        f"/api/v1/partners/{partner['id']}/incidents",
        json=incident_body(**overrides),
        headers=risk_owner["headers"],
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert message in response.json()["errors"][0]["message"]
    assert await db.fetchval("SELECT count(*) FROM incidents WHERE partner_id = $1", UUID(partner["id"])) == 0


async def test_an_unknown_partner_or_incident_is_404(client: Client, risk_owner: User) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    response = await client.post(
        f"/api/v1/partners/{missing}/incidents", json=incident_body(), headers=risk_owner["headers"]
    )
    assert response.status_code == 404
    assert (
        await client.get(f"/api/v1/incidents/{missing}", headers=risk_owner["headers"])
    ).status_code == 404


async def test_auditors_read_everything_and_change_nothing(
    client: Client, partner_sharing: NewPartner, risk_owner: User, auditor: User
) -> None:
    partner = await partner_sharing("invoices")
    incident = await open_incident(client, partner["id"], risk_owner)
    iid = incident["id"]
    headers = auditor["headers"]

    assert (await client.get(f"/api/v1/incidents/{iid}", headers=headers)).status_code == 200
    assert (
        await client.get(f"/api/v1/incidents/{iid}/notification-record", headers=headers)
    ).status_code == 200
    assert (await client.get("/api/v1/playbooks", headers=headers)).status_code == 200
    for method, path, body in [
        ("POST", f"/api/v1/partners/{partner['id']}/incidents", incident_body()),
        ("POST", f"/api/v1/incidents/{iid}/steps/contain/complete", {}),
        ("POST", f"/api/v1/incidents/{iid}/steps/contain/skip", {"reason": "x"}),
        ("POST", f"/api/v1/incidents/{iid}/close", {}),
        ("PUT", f"/api/v1/incidents/{iid}/notification-record", {"version": 0}),
        ("PATCH", f"/api/v1/incidents/{iid}", {"version": 1, "title": "x"}),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)


async def test_a_step_is_completed_by_a_risk_owner_or_its_own_role(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    partner = await partner_sharing("invoices")
    incident = await open_incident(
        client,
        partner["id"],
        risk_owner,
        playbook="partner-unavailable",
        severity="critical",
        affected_categories=[],
    )
    iid = incident["id"]
    await run_due_actions(pool, settings)

    # Procurement owns the continuity step, not the confirmation.
    not_theirs = await client.post(
        f"/api/v1/incidents/{iid}/steps/confirm/complete", json={}, headers=procurement["headers"]
    )
    assert not_theirs.status_code == 403
    assert "belongs to the role risk_owner" in not_theirs.json()["detail"]
    for step_id in ("confirm", "deadlines-at-risk"):
        done = await client.post(
            f"/api/v1/incidents/{iid}/steps/{step_id}/complete", json={}, headers=risk_owner["headers"]
        )
        assert done.status_code == 200
    theirs = await client.post(
        f"/api/v1/incidents/{iid}/steps/continuity/complete",
        json={"note": "改由内部人工申报", "evidence": ["OA-2291"]},
        headers=procurement["headers"],
    )
    assert theirs.status_code == 200, theirs.text
    continuity = next(s for s in theirs.json()["steps"] if s["id"] == "continuity")
    assert continuity["status"] == "done"
    assert continuity["completed_by_label"].startswith("Procurement Li")
    assert continuity["evidence"] == ["OA-2291"]

    twice = await client.post(
        f"/api/v1/incidents/{iid}/steps/continuity/complete", json={}, headers=risk_owner["headers"]
    )
    assert twice.status_code == 409
    assert twice.json()["type"] == "urn:vendor-risk:problem:step-finished"
    assert twice.json()["status"] == 409
    assert twice.json()["current_status"] == "done"
    unknown = await client.post(
        f"/api/v1/incidents/{iid}/steps/nope/complete", json={}, headers=risk_owner["headers"]
    )
    assert unknown.status_code == 404


async def test_containment_of_a_critical_leak_skips_suspending_a_partner_not_yet_active(
    client: Client,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    partner_sharing: NewPartner,
    risk_owner: User,
) -> None:
    partner = await partner_sharing("invoices")
    incident = await open_incident(
        client, partner["id"], risk_owner, severity="critical", affected_categories=[]
    )

    await run_due_actions(pool, settings)

    outcome = await db.fetchrow(
        "SELECT status, outcome FROM incident_action_runs WHERE incident_id = $1 AND action = $2",
        UUID(incident["id"]),
        "suspend_partner",
    )
    assert outcome["status"] == "skipped"
    assert outcome["outcome"] == {"partner_status": "proposed"}
    detail = (await client.get(f"/api/v1/incidents/{incident['id']}", headers=risk_owner["headers"])).json()
    skipped = [e["summary"]["en"] for e in detail["timeline"] if e["kind"] == "action_skipped"]
    assert skipped == ["Partner not suspended: it is proposed"]
    # No category named yet: containment stops every scope.
    scopes = (
        await client.get(f"/api/v1/partners/{partner['id']}/scopes", headers=risk_owner["headers"])
    ).json()
    assert {s["status"] for s in scopes["items"]} == {"suspended"}


async def test_the_incident_can_be_corrected_with_its_version(
    client: Client, partner_sharing: NewPartner, risk_owner: User
) -> None:
    partner = await partner_sharing("invoices", "contracts")
    incident = await open_incident(client, partner["id"], risk_owner)
    url = f"/api/v1/incidents/{incident['id']}"

    updated = await client.patch(
        url,
        json={"version": incident["version"], "affected_categories": ["invoices", "contracts", "invoices"]},
        headers=risk_owner["headers"],
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["affected_categories"] == ["invoices", "contracts"]
    assert {c["code"] for c in updated.json()["candidate_categories"] if c["affected"]} == {
        "invoices",
        "contracts",
    }
    assert updated.json()["timeline"][-1]["kind"] == "updated"

    stale = await client.patch(
        url, json={"version": incident["version"], "title": "x"}, headers=risk_owner["headers"]
    )
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:vendor-risk:problem:stale-version"


async def test_lists_filter_by_status_severity_partner_and_overdue(
    client: Client, partner_sharing: NewPartner, procurement: User, risk_owner: User
) -> None:
    partner = await partner_sharing("invoices")
    pid = partner["id"]
    fresh = await open_incident(client, pid, risk_owner, severity="medium")
    late = await open_incident(
        client,
        pid,
        risk_owner,
        severity="high",
        detected_at=(datetime.now(UTC) - timedelta(hours=3)).isoformat(),
    )
    suspected = await open_incident(client, pid, procurement, suspected=True, severity="low")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(
            "/api/v1/incidents", params={"partner": pid, **params}, headers=risk_owner["headers"]
        )
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert await ids() == [suspected["id"], late["id"], fresh["id"]]
    assert await ids(status="suspected") == [suspected["id"]]
    assert await ids(severity=["high", "medium"]) == [late["id"], fresh["id"]]
    assert await ids(overdue="true") == [late["id"]]
    assert set(await ids(overdue="false")) == {fresh["id"], suspected["id"]}

    first = await client.get(
        "/api/v1/incidents", params={"partner": pid, "limit": 2}, headers=risk_owner["headers"]
    )
    second = await client.get(
        "/api/v1/incidents",
        params={"partner": pid, "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=risk_owner["headers"],
    )
    assert [i["id"] for i in first.json()["items"] + second.json()["items"]] == [
        suspected["id"],
        late["id"],
        fresh["id"],
    ]
    assert second.json()["next_cursor"] is None
    listed = next(i for i in first.json()["items"] if i["id"] == late["id"])
    assert listed["overdue"] is True
    assert listed["steps_total"] == 6
    assert listed["steps_open"] == 6


async def test_playbooks_are_listed_and_readable(client: Client, risk_owner: User) -> None:
    listed = await client.get("/api/v1/playbooks", headers=risk_owner["headers"])
    assert {p["key"]: p["steps"] for p in listed.json()} == {
        "partner-credential-compromise": 6,
        "partner-data-leak": 6,
        "partner-unavailable": 6,
    }
    leak = await client.get("/api/v1/playbooks/partner-data-leak", headers=risk_owner["headers"])
    assert leak.json()["steps"][0]["actions"][0] == {
        "action": "suspend_scopes",
        "severities": None,
        "categories": "affected",
        "when": "ready",
    }
    assert (await client.get("/api/v1/playbooks/nope", headers=risk_owner["headers"])).status_code == 404


async def test_an_action_a_domain_rule_refuses_is_recorded_as_failed_on_the_timeline(
    client: Client,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    partner = await partner_sharing()
    for to in ("offboarding", "offboarded"):
        moved = await client.post(
            f"/api/v1/partners/{partner['id']}/transitions",
            json={"to": to, "reason": "合同终止"},
            headers=procurement["headers"],
        )
        assert moved.status_code == 200, moved.text
    incident = await open_incident(
        client,
        partner["id"],
        risk_owner,
        playbook="partner-unavailable",
        severity="medium",
        affected_categories=[],
    )
    iid = incident["id"]
    for step in incident["steps"]:
        done = await client.post(
            f"/api/v1/incidents/{iid}/steps/{step['id']}/complete", json={}, headers=risk_owner["headers"]
        )
        assert done.status_code == 200, done.text
    closed = await client.post(f"/api/v1/incidents/{iid}/close", json={}, headers=risk_owner["headers"])
    assert closed.status_code == 200, closed.text

    await run_due_actions(pool, settings)

    detail = (await client.get(f"/api/v1/incidents/{iid}", headers=risk_owner["headers"])).json()
    failed = [e for e in detail["timeline"] if e["kind"] == "action_failed"]
    assert [e["summary"]["en"] for e in failed] == [
        'Automatic action "send a triggered reassessment" failed: '
        "an offboarded partner receives no assessments"
    ]
    assert failed[0]["step_id"] == "review"
    review = next(s for s in detail["steps"] if s["id"] == "review")
    assert review["actions"][0]["status"] == "failed"
    # The notify action of the first step ran when the incident opened.
    assert [a["status"] for a in detail["steps"][0]["actions"]] == ["succeeded"]
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'incident.action_failed'", iid
    )
    assert audited == 1
