"""A partner data leak from first report to closing, with the real worker functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.incidents.conftest import NewPartner, User, incident_body
from vendor_risk.incidents.automation import escalate_incident_steps, escalate_overdue_steps, run_due_actions
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]


def step(detail: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in detail["steps"] if s["id"] == step_id)
    return found


def kinds(detail: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in detail["timeline"]]


async def scope_statuses(client: Client, partner_id: str, user: User) -> dict[str, str]:
    response = await client.get(f"/api/v1/partners/{partner_id}/scopes", headers=user["headers"])
    assert response.status_code == 200
    return {s["category"]["code"]: s["status"] for s in response.json()["items"]}


async def test_data_leak_is_contained_escalated_recorded_and_closed(
    client: Client,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    partner_sharing: NewPartner,
    procurement: User,
    risk_owner: User,
    admin: User,
) -> None:
    partner = await partner_sharing("invoices", "financial_statements")
    pid = partner["id"]
    sent = await client.post(
        f"/api/v1/partners/{pid}/assessments", json={"kind": "onboarding"}, headers=procurement["headers"]
    )
    assert sent.status_code == 201, sent.text
    portal = urlsplit(sent.json()["link"]).path
    assert (await client.get(portal)).status_code == 200

    opened = await client.post(
        f"/api/v1/partners/{pid}/incidents", json=incident_body(), headers=risk_owner["headers"]
    )
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    iid = incident["id"]
    detected = datetime.fromisoformat(incident["detected_at"])
    assert incident["status"] == "open"
    assert incident["playbook_key"] == "partner-data-leak"
    assert [(s["id"], datetime.fromisoformat(s["due_at"]) - detected) for s in incident["steps"]] == [
        ("contain", timedelta(hours=2)),
        ("assess", timedelta(days=1)),
        ("notify-authority", timedelta(days=2)),
        ("notify-persons", timedelta(days=2)),
        ("remediate", timedelta(days=14)),
        ("review", timedelta(days=30)),
    ]
    assert [s["id"] for s in incident["steps"] if s["ready"]] == ["contain"]
    assert [a["action"] for a in step(incident, "contain")["actions"]] == [
        "suspend_scopes",
        "revoke_portal_links",
        "notify",
    ]
    assert kinds(incident) == ["opened", "actions_queued"]
    assert {c["code"]: c["affected"] for c in incident["candidate_categories"]} == {
        "invoices": True,
        "financial_statements": False,
    }

    # The worker contains the leak: the affected category's scope stops, the other stays,
    # and the partner's open link dies (a leaked mailbox must not answer for it).
    await run_due_actions(pool, settings)
    assert await scope_statuses(client, pid, risk_owner) == {
        "invoices": "suspended",
        "financial_statements": "approved",
    }
    dead = await client.get(portal)
    assert dead.status_code == 410
    runs = await db.fetch(
        "SELECT action, status, finished_at FROM incident_action_runs"
        " WHERE incident_id = $1 AND step_id = 'contain'",
        UUID(iid),
    )
    contain_due = datetime.fromisoformat(step(incident, "contain")["due_at"])
    assert {r["action"]: r["status"] for r in runs} == {
        "suspend_scopes": "succeeded",
        "revoke_portal_links": "succeeded",
    }
    assert all(r["finished_at"] < contain_due for r in runs)
    detail = (await client.get(f"/api/v1/incidents/{iid}", headers=admin["headers"])).json()
    assert step(detail, "contain")["actions"][0]["status"] == "succeeded"
    lines = [e["summary"]["en"] for e in detail["timeline"] if e["kind"] == "action_succeeded"]
    assert lines == [
        "Suspended 1 data-sharing scope(s): Invoices",
        "Killed 1 questionnaire link(s) and ended 0 self-service session(s)",
    ]

    # Running again changes nothing: each action ran once.
    await run_due_actions(pool, settings)
    count = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'scope.suspended' AND entity_id = $1",
        partner["scopes"]["invoices"]["id"],
    )
    assert count == 1

    # Steps wait for their dependencies.
    blocked = await client.post(
        f"/api/v1/incidents/{iid}/steps/assess/complete", json={"note": "x"}, headers=risk_owner["headers"]
    )
    assert blocked.status_code == 409
    assert blocked.json()["type"] == "urn:vendor-risk:problem:step-blocked"
    assert blocked.json()["unmet"] == ["contain"]

    # The contain step passes its deadline: the sweep escalates it once, at level 1.
    late = contain_due + timedelta(minutes=1)
    await escalate_overdue_steps(pool, settings, now=late)
    await escalate_overdue_steps(pool, settings, now=late)
    await escalate_incident_steps({"db_pool": pool, "settings": settings})
    levels = await db.fetch(
        "SELECT step_id, level, roles FROM incident_escalations WHERE incident_id = $1", UUID(iid)
    )
    assert [(r["step_id"], r["level"], r["roles"]) for r in levels] == [("contain", 1, ["risk_owner"])]
    emails = await db.fetch(
        "SELECT payload FROM outbox WHERE channel = 'email' AND topic = 'incident.step_overdue'"
        " AND dedupe_key LIKE $1",
        f"incident.step_overdue:{iid}:contain:1:%",
    )
    to_risk_owner = [e["payload"] for e in emails if e["payload"]["to"] == risk_owner["email"]]
    assert len(to_risk_owner) == 1
    assert to_risk_owner[0]["lang"] == "zh-CN"
    assert to_risk_owner[0]["subject"].startswith("【逾期·第1级】")

    # Four hours later it reaches level 2, which also tells the admins.
    await escalate_overdue_steps(pool, settings, now=contain_due + timedelta(hours=4, minutes=1))
    levels = await db.fetch(
        "SELECT level, roles FROM incident_escalations WHERE incident_id = $1 ORDER BY level", UUID(iid)
    )
    assert [(r["level"], r["roles"]) for r in levels] == [(1, ["risk_owner"]), (2, ["risk_owner", "admin"])]
    detail = (await client.get(f"/api/v1/incidents/{iid}", headers=admin["headers"])).json()
    assert kinds(detail).count("escalated") == 2

    # Containment done: its completion notifies the admins.
    done = await client.post(
        f"/api/v1/incidents/{iid}/steps/contain/complete",
        json={"note": "已电话联系合作方负责人，邮箱密码已重置", "evidence": ["ticket SEC-1042"]},
        headers=risk_owner["headers"],
    )
    assert done.status_code == 200, done.text
    assert [s["id"] for s in done.json()["steps"] if s["ready"]] == ["assess"]
    await run_due_actions(pool, settings)
    notified = await db.fetch(
        "SELECT payload FROM outbox WHERE topic = 'incident.notify' AND payload ->> 'to' = $1", admin["email"]
    )
    assert len(notified) == 1

    # Closing is refused while steps are open, naming them.
    refused = await client.post(f"/api/v1/incidents/{iid}/close", json={}, headers=risk_owner["headers"])
    assert refused.status_code == 409
    assert refused.json()["open_steps"] == [
        "assess",
        "notify-authority",
        "notify-persons",
        "remediate",
        "review",
    ]

    # The art. 57 record, saved and exported in both languages.
    record = {
        "version": 0,
        "categories": ["invoices"],
        "persons_affected_approx": 350,
        "affected_persons": "三家客户的财务人员",
        "cause": "合作方员工邮箱被钓鱼窃取密码。",
        "possible_harm": "发票信息被用于诈骗。",
        "remedial_measures": "已暂停该合作方的发票数据共享并作废问卷链接。",
        "individual_measures": "警惕冒充我所的电话和邮件。",
        "contact": "privacy@example.com",
        "authority_name": "北京市互联网信息办公室",
        "authority_notified_at": (detected + timedelta(hours=20)).isoformat(),
        "authority_notified_how": "书面报告",
    }
    saved = await client.put(
        f"/api/v1/incidents/{iid}/notification-record", json=record, headers=risk_owner["headers"]
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1
    stale = await client.put(
        f"/api/v1/incidents/{iid}/notification-record", json=record, headers=risk_owner["headers"]
    )
    assert stale.status_code == 409
    for lang, heading, category in [
        ("zh-CN", "# 个人信息安全事件通知记录", "- 信息种类：发票"),
        ("en", "# Personal information security incident: notification record", "- Categories: Invoices"),
    ]:
        export = await client.get(
            f"/api/v1/incidents/{iid}/notification-record/export",
            params={"lang": lang},
            headers=admin["headers"],
        )
        assert export.status_code == 200
        assert export.headers["content-type"] == "text/markdown; charset=utf-8"
        assert f"art57-{lang}.md" in export.headers["content-disposition"]
        assert export.text.startswith(heading + "\n")
        assert category in export.text
        assert "合作方员工邮箱被钓鱼窃取密码。" in export.text

    # The rest of the playbook, one step skipped with the art. 57 para. 2 reason.
    for step_id in ("assess", "notify-authority", "remediate"):
        response = await client.post(
            f"/api/v1/incidents/{iid}/steps/{step_id}/complete", json={}, headers=risk_owner["headers"]
        )
        assert response.status_code == 200, response.text
    skipped = await client.post(
        f"/api/v1/incidents/{iid}/steps/notify-persons/skip",
        json={"reason": "措施已有效避免危害（第五十七条第二款）"},
        headers=risk_owner["headers"],
    )
    assert skipped.status_code == 200, skipped.text
    assert step(skipped.json(), "notify-persons")["skip_reason"] == "措施已有效避免危害（第五十七条第二款）"
    await client.post(
        f"/api/v1/incidents/{iid}/steps/review/complete", json={}, headers=risk_owner["headers"]
    )

    # Every step is finished, but art. 57 also needs the persons told (or why not): the
    # close is refused naming the missing fields, and the incident stays open.
    incomplete = await client.post(
        f"/api/v1/incidents/{iid}/close", json={"note": "复盘完成"}, headers=risk_owner["headers"]
    )
    assert incomplete.status_code == 409, incomplete.text
    assert incomplete.json()["type"] == "urn:vendor-risk:problem:notification-record-incomplete"
    assert incomplete.json()["missing"] == ["persons_notified_at", "persons_notified_how"]
    assert [e["field"] for e in incomplete.json()["errors"]] == [
        "persons_notified_at",
        "persons_notified_how",
    ]
    assert {u["code"] for u in incomplete.json()["unmet"]} == {"art57_missing"}
    still = (await client.get(f"/api/v1/incidents/{iid}", headers=risk_owner["headers"])).json()
    assert still["status"] == "open"
    record |= {"version": 1, "persons_not_notified_reason": "措施已有效避免危害（第五十七条第二款）"}
    saved = await client.put(
        f"/api/v1/incidents/{iid}/notification-record", json=record, headers=risk_owner["headers"]
    )
    assert saved.status_code == 200, saved.text

    closed = await client.post(
        f"/api/v1/incidents/{iid}/close", json={"note": "复盘完成"}, headers=risk_owner["headers"]
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert step(closed.json(), "review")["actions"][0]["action"] == "send_triggered_assessment"

    # Closing sends the partner a triggered reassessment; the onboarding assessment whose
    # link died gives way to it.
    await run_due_actions(pool, settings)
    assessments = await client.get(
        "/api/v1/assessments", params={"partner_id": pid}, headers=risk_owner["headers"]
    )
    assert {a["kind"]: a["status"] for a in assessments.json()["items"]} == {
        "triggered": "sent",
        "onboarding": "cancelled",
    }
    triggered = next(a for a in assessments.json()["items"] if a["kind"] == "triggered")
    assert triggered["reason"] == f"incident: {incident['title']}"
    assert triggered["recipient_email"] == partner["contacts"][0]["email"]
    invitation = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = 'assessment.invitation' AND payload ->> 'to' = $1",
        triggered["recipient_email"],
    )
    assert invitation == 2  # the onboarding one, then the reassessment
    detail = (await client.get(f"/api/v1/incidents/{iid}", headers=admin["headers"])).json()
    assert (
        detail["timeline"][-1]["summary"]["en"]
        == f"Sent a triggered reassessment to {triggered['recipient_email']}"
    )
    assert step(detail, "review")["actions"][0]["status"] == "succeeded"
    # The notify action's summary names roles and the event by their labels, not their codes.
    notified = next(e["summary"] for e in detail["timeline"] if e["summary"]["zh-CN"].startswith("已通知"))
    assert notified == {
        "zh-CN": "已通知 1 人（角色：管理员），事件：事件已控制",
        "en": "Emailed 1 user(s) (roles: Admin); event: Incident contained",
    }

    audited = await db.fetch(
        "SELECT action FROM audit_events WHERE entity_type = 'incident' AND entity_id = $1 ORDER BY seq", iid
    )
    actions = [r["action"] for r in audited]
    assert actions[0] == "incident.opened"
    assert actions.count("incident.step_completed") == 5
    assert actions.count("incident.step_skipped") == 1
    assert actions.count("incident.step_escalated") == 2
    assert "incident.notification_record_saved" in actions
    assert "incident.closed" in actions
    assert actions.count("incident.action_succeeded") == 4  # scopes, links, notify, reassessment


async def test_the_timeline_refuses_to_be_rewritten(
    client: Client, db: asyncpg.Connection, partner_sharing: NewPartner, risk_owner: User
) -> None:
    partner = await partner_sharing("contracts")
    opened = await client.post(
        f"/api/v1/partners/{partner['id']}/incidents",
        json=incident_body(affected_categories=["contracts"]),
        headers=risk_owner["headers"],
    )
    iid = UUID(opened.json()["id"])

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(
            "UPDATE incident_timeline SET actor_label = 'someone else' WHERE incident_id = $1", iid
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute("DELETE FROM incident_timeline WHERE incident_id = $1", iid)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute("TRUNCATE incident_timeline CASCADE")
    assert await db.fetchval("SELECT count(*) FROM incident_timeline WHERE incident_id = $1", iid) == 2
