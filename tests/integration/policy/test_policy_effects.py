"""The policy in a running service: the questionnaires a partner is sent (by tier, service
type and section), gate and sweep results under a test policy, and the audit trail of the
policy's hash."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from tests.helpers import new_credit_code
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments.service import preselected_questionnaires
from vendor_risk.partners import service as partners_service
from vendor_risk.policy import parse_policy, record_policy_in_use
from vendor_risk.settings import Settings
from vendor_risk.sweeps import reassessments_due

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
async def staff(make_user: MakeUser) -> dict[str, dict[str, Any]]:
    return {
        "procurement": await make_user("procurement"),
        "risk_owner": await make_user("risk_owner"),
        "admin": await make_user("admin"),
    }


async def new_partner(client: Client, staff: dict[str, dict[str, Any]], **fields: Any) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    body = {
        "name": f"合作方 {tag}",
        "legal_name": f"合作方有限公司 {tag}",
        "credit_code": new_credit_code(),
        "business_criticality": "medium",
        "owner_id": str(staff["risk_owner"]["id"]),
        "contacts": [{"name": "李雷", "email": f"li.{tag}@partner.example.com", "primary": True}],
    } | fields
    response = await client.post("/api/v1/partners", json=body, headers=staff["procurement"]["headers"])
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def request_scope(
    client: Client, staff: dict[str, dict[str, Any]], partner_id: str, category: str, volume: str
) -> None:
    categories = await client.get("/api/v1/data-categories", headers=staff["procurement"]["headers"])
    [category_id] = [c["id"] for c in categories.json() if c["code"] == category]
    response = await client.post(
        f"/api/v1/partners/{partner_id}/scopes",
        json={
            "category_id": category_id,
            "purpose": "服务所需",
            "processing_methods": ["store"],
            "transfer_method": "api",
            "starts_on": date.today().isoformat(),  # noqa: DTZ011 - any start date does
            "retention_days": 365,
            "volume_band": volume,
        },
        headers=staff["procurement"]["headers"],
    )
    assert response.status_code == 201, response.text


async def send(client: Client, staff: dict[str, dict[str, Any]], partner_id: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/partners/{partner_id}/assessments",
        json={"kind": "onboarding"},
        headers=staff["procurement"]["headers"],
    )
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


async def sections_sent(db: asyncpg.Connection, assessment_id: str) -> dict[str, list[str]]:
    parts = await assessments_repo.get_parts(db, UUID(assessment_id))
    return {p.template_key: [s.id for s in p.template.sections] for p in parts}


async def test_a_cloud_backup_vendor_with_internal_data_gets_the_lite_screening_and_the_cloud_sections(
    client: Client, db: asyncpg.Connection, staff: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, staff, service_types=["cloud_saas"])
    await request_scope(client, staff, partner["id"], "internal_business_data", "10k_100k")
    shown = await client.get(f"/api/v1/partners/{partner['id']}", headers=staff["procurement"]["headers"])
    assert shown.json()["tier"] in ("low", "medium")
    assert shown.json()["service_types"] == ["cloud_saas"]
    sent = await send(client, staff, partner["id"])
    assert [q["key"] for q in sent["assessment"]["questionnaires"]] == ["lite-screening", "service-controls"]
    sections = await sections_sent(db, sent["assessment"]["id"])
    assert sections == {
        "lite-screening": ["basics", "protection", "data-handling"],
        "service-controls": ["cloud-hosting", "cloud-backup"],
    }
    # The reviewer's view of the assessment names the sections sent.
    detail = await client.get(
        f"/api/v1/assessments/{sent['assessment']['id']}", headers=staff["risk_owner"]["headers"]
    )
    assert [p["sections"] for p in detail.json()["answers"]] == [
        ["basics", "protection", "data-handling"],
        ["cloud-hosting", "cloud-backup"],
    ]
    # The partner sees those sections only, and no U-shield or paper-archive question.
    page = await client.get(sent["link"].removeprefix("http://testserver.local"))
    assert page.status_code == 200
    assert "云服务：备份与删除" in page.text
    assert "U 盾" not in page.text
    assert "薪酬与社保代办" not in page.text


async def test_a_critical_payroll_processor_gets_the_full_payroll_set(
    client: Client, db: asyncpg.Connection, staff: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(
        client, staff, business_criticality="critical", service_types=["payroll_social_insurance"]
    )
    await request_scope(client, staff, partner["id"], "payroll_employee_data", "100k_1m")
    shown = await client.get(f"/api/v1/partners/{partner['id']}", headers=staff["procurement"]["headers"])
    assert shown.json()["tier"] == "critical"
    sent = await send(client, staff, partner["id"])
    assert [q["key"] for q in sent["assessment"]["questionnaires"]] == [
        "baseline-security",
        "pipl-entrusted-processing",
        "bookkeeping-partner",
        "service-controls",
    ]
    sections = await sections_sent(db, sent["assessment"]["id"])
    assert len(sections["baseline-security"]) == 13
    assert len(sections["pipl-entrusted-processing"]) == 7
    assert sections["bookkeeping-partner"] == ["ledgers", "bank-u-shields", "staff-screens-printing"]
    assert sections["service-controls"] == ["payroll"]


async def test_the_partner_list_filters_by_service_type(
    client: Client, staff: dict[str, dict[str, Any]]
) -> None:
    printer = await new_partner(client, staff, service_types=["printing", "courier_archiving", "printing"])
    assert printer["service_types"] == ["printing", "courier_archiving"]
    listed = await client.get(
        "/api/v1/partners",
        params={"service_type": "courier_archiving"},
        headers=staff["procurement"]["headers"],
    )
    assert printer["id"] in [p["id"] for p in listed.json()["items"]]
    assert all("courier_archiving" in p["service_types"] for p in listed.json()["items"])
    refused = await client.post(
        "/api/v1/partners",
        json={"name": "x", "legal_name": "x", "business_criticality": "low", "service_types": ["gardening"]},
        headers=staff["procurement"]["headers"],
    )
    assert refused.status_code == 400
    assert "service_types" in refused.text


async def test_changing_the_mapping_in_a_policy_file_changes_the_preselection(
    client: Client, db: asyncpg.Connection, settings: Settings, staff: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, staff, service_types=["cloud_saas"])
    loaded = await partners_service.load(db, UUID(partner["id"]), settings)
    assert await preselected_questionnaires(db, loaded, settings.policy) == [
        "lite-screening",
        "service-controls",
    ]
    firm = parse_policy(
        b"questionnaires:\n  by_tier:\n"
        b"    low: {all: [baseline-security], cloud_saas: [pipl-entrusted-processing]}\n"
        b"    medium: {all: [baseline-security]}\n"
        b"    high: {all: [baseline-security]}\n"
        b"    critical: {all: [baseline-security]}\n",
        "firm.yaml",
    )
    assert await preselected_questionnaires(db, loaded, firm) == [
        "baseline-security",
        "pipl-entrusted-processing",
    ]


async def test_the_cadence_of_a_test_policy_changes_which_partners_the_sweep_reassesses(
    client: Client, db: asyncpg.Connection, staff: dict[str, dict[str, Any]]
) -> None:
    partner = await new_partner(client, staff)
    # Active for 10 months, never assessed: due only where a low tier's cadence is shorter.
    await db.execute(
        "UPDATE partners SET status = 'active', created_at = now() - interval '10 months' WHERE id = $1",
        UUID(partner["id"]),
    )
    now = datetime.now(UTC)
    shipped = {str(d.partner_id) for d in await reassessments_due(db, now)}
    assert partner["id"] not in shipped
    quick = parse_policy(b"cadence_months: {low: 6, medium: 6, high: 3, critical: 1}\n", "quick.yaml")
    due = {str(d.partner_id): d for d in await reassessments_due(db, now, quick.cadence_months)}
    assert partner["id"] in due
    assert "every 6 months" in due[partner["id"]].reason


async def test_starting_with_a_new_policy_records_its_hash_once(
    client: Client, db: asyncpg.Connection, settings: Settings, staff: dict[str, dict[str, Any]]
) -> None:
    # The session's database was prepared with the shipped policy: nothing new to record.
    assert not await record_policy_in_use(db, settings.policy)
    firm = parse_policy(b"scope_approval: {score_threshold: 80, home_country: CN}\n", "/etc/firm/policy.yaml")
    assert await record_policy_in_use(db, firm)
    assert not await record_policy_in_use(db, firm)
    events = await client.get(
        "/api/v1/audit-events", params={"action": "policy.changed"}, headers=staff["admin"]["headers"]
    )
    newest = events.json()["items"][0]
    assert newest["after"] == {"sha256": firm.sha256, "source": "/etc/firm/policy.yaml"}
    assert newest["before"]["sha256"] == settings.policy.sha256
    # Back to the shipped policy: recorded again, as the change it is.
    assert await record_policy_in_use(db, settings.policy)
