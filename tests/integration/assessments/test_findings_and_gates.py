"""Findings and risk acceptance, and the partner gates they feed: a critical finding blocks
activation until its risk is accepted, an expired acceptance blocks it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

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
from vendor_risk.audit.models import SYSTEM
from vendor_risk.findings import service as findings_service
from vendor_risk.partners import repository as partners_repo


async def activate(client: Client, partner_id: str, risk_owner: User) -> tuple[int, list[str]]:
    response = await client.post(
        f"/api/v1/partners/{partner_id}/transitions",
        json={"to": "active", "reason": "评估通过"},
        headers=risk_owner["headers"],
    )
    codes = [u["code"] for u in response.json().get("unmet", [])] if response.status_code == 409 else []
    return response.status_code, codes


async def test_a_critical_finding_blocks_activation_until_its_risk_is_accepted(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    procurement: User,
    risk_owner: User,
    make_user: MakeUser,
) -> None:
    # Accepting a critical risk takes two risk owners (the policy's critical-risk-acceptance).
    second_owner = await make_user("risk_owner", name="第二审批人")
    partner = await new_partner()
    await make_active_ready(client, partner["id"], procurement)
    assert await activate(client, partner["id"], risk_owner) == (409, ["onboarding_assessment_missing"])

    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]), **{"ac-1": "no"})  # MFA missing: critical
    detail = await review(sent["assessment"]["id"])
    assert detail["score"] == 40.0  # capped by the failed critical question
    assert detail["score_breakdown"]["failed_critical"] == ["valid-example:ac-1"]
    assert detail["rating"]["level"] in ("high", "critical")
    [critical] = [f for f in detail["findings"] if f["severity"] == "critical"]
    assert critical["remediation"]["zh-CN"] == "为所有远程访问启用多因素认证。"

    assert await activate(client, partner["id"], risk_owner) == (409, ["critical_finding_open"])
    accepted = await client.post(
        f"/api/v1/findings/{critical['id']}/accept",
        json={
            "until": (datetime.now(UTC).date() + timedelta(days=90)).isoformat(),
            "justification": "VPN with client certificates",
        },
        headers=risk_owner["headers"],
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["rule_id"] == "critical-risk-acceptance"
    accepted = await client.post(
        f"/api/v1/findings/{critical['id']}/accept",
        json={
            "until": (datetime.now(UTC).date() + timedelta(days=90)).isoformat(),
            "justification": "VPN with client certificates",
        },
        headers=second_owner["headers"],
    )
    assert accepted.status_code == 200, accepted.text
    facts = await partners_repo.partner_facts(db, partner["id"])
    assert facts.unaccepted_critical_findings == []
    assert facts.approved_assessment_score == 40.0
    assert facts.onboarding_assessment_approved_on == datetime.now(UTC).date()

    # The acceptance expires: the gate sees it at once, the daily sweep reopens the finding.
    await db.execute("ALTER TABLE risk_acceptances DISABLE TRIGGER risk_acceptances_immutable")
    try:
        await db.execute(
            "UPDATE risk_acceptances SET until = current_date - 1 WHERE finding_id = $1", critical["id"]
        )
    finally:
        await db.execute("ALTER TABLE risk_acceptances ENABLE TRIGGER risk_acceptances_immutable")
    assert [
        f.title for f in (await partners_repo.partner_facts(db, partner["id"])).unaccepted_critical_findings
    ] == ["MFA is not enforced"]
    reopened = await findings_service.lapse_expired_acceptances(db, SYSTEM, datetime.now(UTC).date())
    assert [str(r) for r in reopened] == [critical["id"]]
    shown = (await client.get(f"/api/v1/findings/{critical['id']}", headers=risk_owner["headers"])).json()
    assert shown["status"] == "open"
    assert shown["acceptances"][0]["stale_reason"] == "expired"

    # Accept again and the partner can be activated.
    again = await client.post(
        f"/api/v1/findings/{critical['id']}/accept",
        json={
            "until": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
            "justification": "VPN with client certificates",
        },
        headers=risk_owner["headers"],
    )
    assert again.status_code == 202
    again = await client.post(
        f"/api/v1/approvals/{again.json()['id']}/approve", json={}, headers=second_owner["headers"]
    )
    assert again.status_code == 200
    again = await client.get(f"/api/v1/findings/{critical['id']}", headers=risk_owner["headers"])
    assert len(again.json()["acceptances"]) == 2
    assert await activate(client, partner["id"], risk_owner) == (200, [])


async def test_a_risk_acceptance_is_an_immutable_record(
    client: Client, db: asyncpg.Connection, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    finding = await client.post(
        "/api/v1/findings",
        json={
            "partner_id": partner["id"],
            "severity": "high",
            "title": "机房门禁失效",
            "remediation": "更换门禁",
        },
        headers=risk_owner["headers"],
    )
    assert finding.status_code == 201, finding.text
    accepted = await client.post(
        f"/api/v1/findings/{finding.json()['id']}/accept",
        json={
            "until": (datetime.now(UTC).date() + timedelta(days=10)).isoformat(),
            "justification": "guard on duty 24/7",
        },
        headers=risk_owner["headers"],
    )
    acceptance_id = accepted.json()["acceptances"][0]["id"]
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("UPDATE risk_acceptances SET justification = 'x' WHERE id = $1", acceptance_id)
    with pytest.raises(asyncpg.RaiseError, match="kept for good"):
        await db.execute("DELETE FROM risk_acceptances WHERE id = $1", acceptance_id)
    audit = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'finding.risk_accepted'",
        finding.json()["id"],
    )
    assert audit == 1


async def test_findings_are_managed_with_versions_and_roles(
    client: Client, new_partner: NewPartner, procurement: User, risk_owner: User, auditor: User
) -> None:
    partner = await new_partner()
    refused = await client.post(
        "/api/v1/findings",
        json={"partner_id": partner["id"], "severity": "low", "title": "x"},
        headers=procurement["headers"],
    )
    assert refused.status_code == 403
    created = await client.post(
        "/api/v1/findings",
        json={
            "partner_id": partner["id"],
            "severity": "medium",
            "title": "员工共用账号",
            "due_on": "2099-06-30",
        },
        headers=risk_owner["headers"],
    )
    finding = created.json()
    assert finding["source"] == "manual"
    assert finding["status"] == "open"

    updated = await client.patch(
        f"/api/v1/findings/{finding['id']}",
        json={
            "version": finding["version"],
            "status": "remediating",
            "remediation_plan": "本月内完成账号拆分",
        },
        headers=risk_owner["headers"],
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"] == "remediating"
    stale = await client.patch(
        f"/api/v1/findings/{finding['id']}",
        json={"version": finding["version"], "status": "resolved"},
        headers=risk_owner["headers"],
    )
    assert stale.status_code == 409
    accept_by_status = await client.patch(
        f"/api/v1/findings/{finding['id']}",
        json={"version": updated.json()["version"], "status": "accepted"},
        headers=risk_owner["headers"],
    )
    assert accept_by_status.status_code == 400
    listed = await client.get(
        "/api/v1/findings",
        params={"partner_id": partner["id"], "status": "remediating", "severity": "medium"},
        headers=auditor["headers"],
    )
    assert [f["id"] for f in listed.json()["items"]] == [finding["id"]]
    assert (
        await client.patch(
            f"/api/v1/findings/{finding['id']}",
            json={"version": 2, "status": "open"},
            headers=auditor["headers"],
        )
    ).status_code == 403


async def test_the_partner_answers_its_findings_with_a_plan(
    client: Client, new_partner: NewPartner, send: Send, review: Review, risk_owner: User
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    me = Partner(client, sent["link"])
    await complete(me, **{"dh-1": "none"})
    [finding] = (await review(sent["assessment"]["id"]))["findings"]

    page = await me.get("/findings")
    assert "存储加密不足" in page.text
    assert "使用 AES-256 加密存储的客户数据。" in page.text  # the guidance, shared with the partner
    assert "ISO/IEC 27001:2022 A.8.24" in page.text
    csrf = page.text.split('name="_csrf_token" value="')[1].split('"')[0]

    # A plan without a usable date is refused beside the finding, in Chinese, keeping the plan.
    for planned_on, message in (("2020-01-01", "预计完成日期不能早于今天"), ("明年三月", "请输入有效日期")):
        refused = await client.post(
            f"{me.base}/findings/{finding['id']}",
            params={"lang": "zh-CN"},
            data={"_csrf_token": csrf, "plan": "启用数据库透明加密", "planned_on": planned_on},
            follow_redirects=False,
        )
        assert refused.status_code == 422, refused.text
        assert message in refused.text
        assert "启用数据库透明加密</textarea>" in refused.text
    unchanged = (await client.get(f"/api/v1/findings/{finding['id']}", headers=risk_owner["headers"])).json()
    assert unchanged["status"] == "open"
    assert unchanged["partner_plan"] is None

    answered = await client.post(
        f"{me.base}/findings/{finding['id']}",
        params={"lang": "zh-CN"},
        data={"_csrf_token": csrf, "plan": "启用数据库透明加密", "planned_on": "2099-03-31"},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    shown = (await client.get(f"/api/v1/findings/{finding['id']}", headers=risk_owner["headers"])).json()
    assert shown["status"] == "remediating"
    assert shown["partner_plan"] == "启用数据库透明加密"
    assert shown["partner_planned_on"] == "2099-03-31"


async def test_the_offboarding_attestation_and_the_score_feed_the_gates(
    client: Client, db: asyncpg.Connection, new_partner: NewPartner, procurement: User, review: Review
) -> None:
    partner = await new_partner()
    sent = await client.post(
        f"/api/v1/partners/{partner['id']}/assessments",
        json={"kind": "offboarding"},
        headers=procurement["headers"],
    )
    assert sent.status_code == 201
    assessment_id = sent.json()["assessment"]["id"]
    assert (await partners_repo.partner_facts(db, partner["id"])).offboarding_attestation_approved_on is None
    # Answering the attestation is the portal flow tested elsewhere; here only its review matters.
    await db.execute(
        "UPDATE assessments SET status = 'submitted', submitted_at = now() WHERE id = $1", assessment_id
    )
    await review(assessment_id)
    facts = await partners_repo.partner_facts(db, partner["id"])
    assert facts.offboarding_attestation_approved_on == datetime.now(UTC).date()
    # An offboarding attestation is not a security assessment: no score for the gates.
    assert facts.approved_assessment_score is None
    assert facts.onboarding_assessment_approved_on is None
