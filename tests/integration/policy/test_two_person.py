"""Two-person approvals: the first approval leaves the decision pending and tells the
other risk owners, the same person approving twice or approving their own request is a
409 naming the rule, a second person completes it, all audited; and conditions of an
approval become findings with due dates."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from tests.helpers import new_credit_code
from vendor_risk.notify.outbox import open_email
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
async def people(make_user: MakeUser) -> dict[str, dict[str, Any]]:
    return {
        "procurement": await make_user("procurement"),
        "first": await make_user("risk_owner", name="风险负责人 甲", locale="zh-CN"),
        "second": await make_user("risk_owner", name="Risk Owner B", locale="en"),
        "reviewer": await make_user("risk_owner", name="评审人 丙"),
        "auditor": await make_user("auditor"),
    }


async def new_partner(client: Client, people: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    response = await client.post(
        "/api/v1/partners",
        json={
            "name": f"薪税通 {tag}",
            "legal_name": f"薪税通科技有限公司 {tag}",
            "credit_code": new_credit_code(),
            "business_criticality": "high",
            "contacts": [{"name": "韩梅梅", "email": f"han.{tag}@partner.example.com", "primary": True}],
        },
        headers=people["procurement"]["headers"],
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def critical_finding(client: Client, raiser: dict[str, Any], partner_id: str) -> str:
    response = await client.post(
        "/api/v1/findings",
        json={"partner_id": partner_id, "severity": "critical", "title": "网银 U 盾由外包人员保管"},
        headers=raiser["headers"],
    )
    assert response.status_code == 201, response.text
    finding_id: str = response.json()["id"]
    return finding_id


def acceptance(days: int = 90) -> dict[str, str]:
    return {"until": (TODAY + timedelta(days=days)).isoformat(), "justification": "补偿控制：付款须客户复核"}


async def test_a_critical_risk_needs_two_distinct_risk_owners(
    client: Client, db: asyncpg.Connection, settings: Settings, people: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, people)
    finding_id = await critical_finding(client, people["reviewer"], partner["id"])
    first, second = people["first"], people["second"]

    response = await client.post(
        f"/api/v1/findings/{finding_id}/accept", json=acceptance(), headers=first["headers"]
    )
    assert response.status_code == 202, response.text
    pending = response.json()
    assert pending["status"] == "pending"
    assert pending["rule_id"] == "critical-risk-acceptance"
    assert pending["decision"] == "risk_acceptance"
    assert pending["first_by"] == str(first["id"])
    assert pending["payload"] == acceptance()
    # Not accepted yet.
    finding = await client.get(f"/api/v1/findings/{finding_id}", headers=first["headers"])
    assert finding.json()["status"] == "open"
    listed = await client.get("/api/v1/approvals", headers=people["auditor"]["headers"])
    assert pending["id"] in [d["id"] for d in listed.json()["items"]]

    # The other risk owners are asked, each in their language; the first approver is not.
    rows = await db.fetch(
        """
        SELECT id, payload, key_id, nonce, sealed FROM outbox
        WHERE topic = 'approval.requested' AND dedupe_key LIKE $1
        """,
        f"approval.requested:{pending['id']}:%",
    )
    emails = [
        open_email(settings.data_keys, r["id"], r["payload"], r["key_id"], r["nonce"], r["sealed"])
        for r in rows
    ]
    by_address = {e.to: e for e in emails}
    assert first["email"] not in by_address
    mail = by_address[second["email"]]
    assert mail.lang == "en"
    assert mail.subject.startswith("Your second approval is needed: Accepting a finding's risk")
    assert "critical-risk-acceptance" in mail.text
    assert f"/ui/partners/{partner['id']}" in mail.text

    # The same person approving twice, through either endpoint, is refused naming the rule.
    again = await client.post(
        f"/api/v1/findings/{finding_id}/accept", json=acceptance(), headers=first["headers"]
    )
    assert again.status_code == 409
    assert again.json()["type"] == "urn:vendor-risk:problem:same-approver"
    assert again.json()["rule"] == "critical-risk-acceptance"
    assert "critical-risk-acceptance" in again.json()["detail"]
    twice = await client.post(f"/api/v1/approvals/{pending['id']}/approve", json={}, headers=first["headers"])
    assert twice.status_code == 409
    assert twice.json()["rule"] == "critical-risk-acceptance"

    # A second risk owner completes it with the first one's date and justification.
    done = await client.post(f"/api/v1/approvals/{pending['id']}/approve", json={}, headers=second["headers"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["second_by"] == str(second["id"])
    finding = await client.get(f"/api/v1/findings/{finding_id}", headers=first["headers"])
    assert finding.json()["status"] == "accepted"
    assert finding.json()["acceptance"]["until"] == acceptance()["until"]
    late = await client.post(f"/api/v1/approvals/{pending['id']}/approve", json={}, headers=second["headers"])
    assert late.status_code == 409
    assert late.json()["type"] == "urn:vendor-risk:problem:decision-completed"

    actions = [
        r["action"]
        for r in await db.fetch(
            "SELECT action FROM audit_events WHERE entity_type = 'finding' AND entity_id = $1 ORDER BY seq",
            finding_id,
        )
    ]
    assert actions == ["finding.opened", "approval.requested", "approval.completed", "finding.risk_accepted"]


async def test_no_one_approves_their_own_request(
    client: Client, db: asyncpg.Connection, people: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, people)
    finding_id = await critical_finding(client, people["first"], partner["id"])
    own = await client.post(
        f"/api/v1/findings/{finding_id}/accept", json=acceptance(), headers=people["first"]["headers"]
    )
    assert own.status_code == 409
    assert own.json()["type"] == "urn:vendor-risk:problem:own-request"
    assert own.json()["rule"] == "critical-risk-acceptance"
    assert not await db.fetchval(
        "SELECT count(*) FROM pending_decisions WHERE entity_id = $1", UUID(finding_id)
    )
    # Another risk owner's approval starts the two-person decision as usual.
    other = await client.post(
        f"/api/v1/findings/{finding_id}/accept", json=acceptance(), headers=people["second"]["headers"]
    )
    assert other.status_code == 202


async def test_a_high_finding_needs_one_risk_owner_only(
    client: Client, people: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, people)
    response = await client.post(
        "/api/v1/findings",
        json={"partner_id": partner["id"], "severity": "high", "title": "未定期复核权限"},
        headers=people["reviewer"]["headers"],
    )
    accepted = await client.post(
        f"/api/v1/findings/{response.json()['id']}/accept",
        json=acceptance(),
        headers=people["first"]["headers"],
    )
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"


async def test_approving_a_scope_with_conditions_raises_findings_due_on_their_dates(
    client: Client, people: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, people)
    headers = people["procurement"]["headers"]
    categories = (await client.get("/api/v1/data-categories", headers=headers)).json()
    [category] = [c["id"] for c in categories if c["code"] == "internal_business_data"]
    agreement = await client.post(
        f"/api/v1/partners/{partner['id']}/agreements",
        json={
            "kind": "nda",
            "title": "保密协议 2026",
            "signed_on": TODAY.isoformat(),
            "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "李四"}],
            "category_ids": [category],
        },
        headers=headers,
    )
    assert agreement.status_code == 201, agreement.text
    scope = await client.post(
        f"/api/v1/partners/{partner['id']}/scopes",
        json={
            "category_id": category,
            "purpose": "月度报表",
            "processing_methods": ["process"],
            "transfer_method": "sftp",
            "starts_on": TODAY.isoformat(),
            "retention_days": 30,
            "volume_band": "under_1k",
        },
        headers=headers,
    )
    assert scope.status_code == 201, scope.text
    due = TODAY + timedelta(days=30)
    approved = await client.post(
        f"/api/v1/partners/{partner['id']}/scopes/{scope.json()['id']}/approve",
        json={
            "note": "附条件批准",
            "conditions": [{"title": "30 天内启用 SFTP 密钥登录", "due_on": due.isoformat()}],
        },
        headers=people["first"]["headers"],
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    findings = await client.get(
        "/api/v1/findings", params={"partner_id": partner["id"]}, headers=people["first"]["headers"]
    )
    [condition] = findings.json()["items"]
    assert condition["title"]["zh-CN"] == "30 天内启用 SFTP 密钥登录"
    assert condition["due_on"] == due.isoformat()
    assert condition["severity"] == "medium"
    assert date.fromisoformat(condition["due_on"]) > TODAY
