"""Reassessments go out when due, once, even with two workers; reminders arrive once each
at D-7, D-3, D-1, then the escalation, then expiry after the grace (time injected)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_DATA_KEY
from tests.helpers import outbox_emails
from tests.integration.worker.conftest import ctx_for
from vendor_risk.assessments.service import send_due_assessment
from vendor_risk.audit.models import SYSTEM
from vendor_risk.auth.models import Role, UserCreate
from vendor_risk.auth.service import create_user
from vendor_risk.db import create_pool
from vendor_risk.partners.models import ContactIn, PartnerCreate
from vendor_risk.partners.rules import cadence_months
from vendor_risk.partners.service import create_partner
from vendor_risk.settings import Settings, parse_data_keys
from vendor_risk.sweeps import send_reminders, sweep_reassessments
from vendor_risk.worker import send_reminders as send_reminders_job
from vendor_risk.worker import sweep_reassessments as sweep_reassessments_job

pytestmark = pytest.mark.usefixtures("clean_outbox")


async def active_partner(pool: asyncpg.Pool, settings: Settings, *, approved_months_ago: int | None) -> UUID:
    """An active partner with an English-speaking primary contact whose last approved
    assessment is ``approved_months_ago`` old (set directly: how assessments get
    approved and partners activated is tested with those domains)."""
    tag = secrets.token_hex(3)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        owner = await create_user(
            conn,
            SYSTEM,
            UserCreate(email=f"owner-{tag}@example.com", name="王芳", role=Role.RISK_OWNER),
        )
        partner = await create_partner(
            conn,
            SYSTEM,
            PartnerCreate(
                name=f"Payroll Co {tag}",
                legal_name=f"Payroll Co Ltd {tag}",
                country="HK",
                registration_number=f"HK{secrets.randbelow(10**7):07d}",
                business_criticality="low",
                owner_id=owner.user.id,
                contacts=[ContactIn(name="Ann", email=f"ann-{tag}@example.com", primary=True, locale="en")],
            ),
            settings,
        )
        await conn.execute("UPDATE partners SET status = 'active' WHERE id = $1", partner.id)
        if approved_months_ago is not None:
            approved_at = now - timedelta(days=31 * approved_months_ago)
            sent = await send_due_assessment(
                conn, partner.id, "periodic", settings, now=approved_at - timedelta(days=20)
            )
            assert sent is not None
            await conn.execute(
                """
                UPDATE assessments
                SET status = 'approved', submitted_at = $2::timestamptz - interval '1 day', reviewed_at = $2
                WHERE id = $1
                """,
                sent.assessment.id,
                approved_at,
            )
    return partner.id


async def assessments_of(pool: asyncpg.Pool, partner_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, kind, status, reason, due_on FROM assessments WHERE partner_id = $1 ORDER BY sent_at",
        partner_id,
    )


async def emails_to(pool: asyncpg.Pool, address_like: str, topic: str) -> list[dict[str, str]]:
    return await outbox_emails(
        pool,
        parse_data_keys("test", TEST_DATA_KEY),
        "topic = $1 AND payload ->> 'to' LIKE $2",
        topic,
        address_like,
    )


async def test_partner_past_its_cadence_gets_exactly_one_assessment(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    tier = "low"
    overdue = await active_partner(pool, worker_settings, approved_months_ago=cadence_months(tier) + 1)
    recent = await active_partner(pool, worker_settings, approved_months_ago=1)
    risen = await active_partner(pool, worker_settings, approved_months_ago=1)
    await pool.execute(
        """
        UPDATE partners SET reassessment_due_at = now(),
               reassessment_due_reason = 'tier rose to high: scope approved for payroll data'
        WHERE id = $1
        """,
        risen,
    )
    await pool.execute("TRUNCATE outbox")

    # Two workers sweep at once, then the sweep runs again.
    second_pool = await create_pool(worker_settings.database_url or "", 1, 5)
    try:
        await asyncio.gather(
            sweep_reassessments(pool, worker_settings), sweep_reassessments(second_pool, worker_settings)
        )
    finally:
        await second_pool.close()
    assert await sweep_reassessments_job(ctx_for(pool, http, worker_settings)) == 0

    [_, periodic] = await assessments_of(pool, overdue)
    assert (periodic["kind"], periodic["status"]) == ("periodic", "sent")
    assert "assessed every 36 months" in periodic["reason"]
    assert len(await assessments_of(pool, recent)) == 1
    [_, triggered] = await assessments_of(pool, risen)
    assert (triggered["kind"], triggered["reason"]) == (
        "triggered",
        "tier rose to high: scope approved for payroll data",
    )
    invitations = await emails_to(pool, "ann-%", "assessment.invitation")
    assert len(invitations) == 2
    assert {e["lang"] for e in invitations} == {"en"}


async def test_reminders_arrive_once_each_then_escalation_then_expiry(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    partner = await active_partner(pool, worker_settings, approved_months_ago=40)
    assert await sweep_reassessments(pool, worker_settings) >= 1
    [_, assessment] = await assessments_of(pool, partner)
    due: date = assessment["due_on"]
    contact = (await pool.fetchval("SELECT email FROM partner_contacts WHERE partner_id = $1", partner)) or ""
    owner = await pool.fetchval(
        "SELECT u.email FROM partners p JOIN users u ON u.id = p.owner_id WHERE p.id = $1", partner
    )

    async def reminders_on(day: date) -> int:
        await send_reminders(pool, worker_settings, today=day)
        return len(await emails_to(pool, contact, "assessment.reminder"))

    days = [-8, -7, -7, -5, -3, -3, -1, 0, 1, 1, 5]
    assert [await reminders_on(due + timedelta(days=d)) for d in days] == [0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    reminders = await emails_to(pool, contact, "assessment.reminder")
    assert {r["lang"] for r in reminders} == {"en"}
    # Overdue: the partner's owner hears of it, once.
    escalations = await emails_to(pool, owner, "assessment.escalation")
    assert len(escalations) == 1
    assert escalations[0]["lang"] == "zh-CN"

    grace = worker_settings.assessment_grace_days
    statuses = []
    for d in (grace, grace + 1):
        await send_reminders(pool, worker_settings, today=due + timedelta(days=d))
        statuses.append([a["status"] for a in await assessments_of(pool, partner)])
    assert statuses == [["approved", "sent"], ["approved", "expired"]]
    assert len(await emails_to(pool, contact, "assessment.reminder")) == 4
    # An expired reassessment is followed up by people: the hourly sweep does not re-send it.
    later = datetime.combine(due + timedelta(days=grace + 2), datetime.min.time(), tzinfo=UTC)
    await sweep_reassessments(pool, worker_settings, now=later)
    assert len(await assessments_of(pool, partner)) == 2
    assert set(await send_reminders_job(ctx_for(pool, http, worker_settings))) == {
        "reminders",
        "expired",
        "finding_reminders",
        "finding_escalations",
    }
