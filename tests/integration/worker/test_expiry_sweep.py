"""The daily expiry sweep: expiring alerts once per window, an expired agreement suspends
the scopes it covered and tells the risk owner, ended scopes expire."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest

from tests.helpers import Mailbox
from tests.integration.worker.conftest import Receiver, ctx_for
from tests.integration.worker.test_outbox_webhooks import subscribe
from vendor_risk.agreements.models import AgreementCreate, Signatory
from vendor_risk.agreements.service import create_agreement
from vendor_risk.audit.models import SYSTEM, Actor
from vendor_risk.auth.models import Role, UserCreate
from vendor_risk.auth.service import create_user
from vendor_risk.notify.delivery import deliver_due
from vendor_risk.partners.models import ContactIn, PartnerCreate
from vendor_risk.partners.service import create_partner, today_utc
from vendor_risk.scopes.models import ScopeApproval, ScopeCreate
from vendor_risk.scopes.service import approve_scope, request_scope
from vendor_risk.settings import Settings
from vendor_risk.sweeps import ExpirySweep, sweep_expiries
from vendor_risk.worker import sweep_expiries as sweep_expiries_job

pytestmark = pytest.mark.usefixtures("clean_outbox")

NOTHING = ExpirySweep()


class World(msgspec.Struct, kw_only=True):
    partner_id: UUID
    agreement_id: UUID
    expires_on: date
    ending_scope_id: UUID
    open_scope_id: UUID
    owner_email: str


async def build_world(pool: asyncpg.Pool, settings: Settings, *, owner_locale: str = "zh-CN") -> World:
    """A partner whose NDA (covering ledgers) expires in ten days, with two approved
    scopes on ledgers: one ending in five days, one without an end."""
    today = today_utc()
    tag = secrets.token_hex(3)
    async with pool.acquire() as conn:
        owner = await create_user(
            conn,
            SYSTEM,
            UserCreate(
                email=f"risk-{tag}@example.com", name="王芳", role=Role.RISK_OWNER, locale=owner_locale
            ),
        )
        partner = await create_partner(
            conn,
            SYSTEM,
            PartnerCreate(
                name=f"云账房 {tag}",
                legal_name=f"Cloud Ledger Pte. Ltd. {tag}",
                country="SG",
                registration_number=f"2019{secrets.randbelow(10**5):05d}K",
                business_criticality="medium",
                owner_id=owner.user.id,
                contacts=[ContactIn(name="Lee", email=f"lee-{tag}@example.com", primary=True)],
            ),
            settings,
        )
        ledgers = await conn.fetchval("SELECT id FROM data_categories WHERE code = 'financial_statements'")
        agreement = await create_agreement(
            conn,
            SYSTEM,
            partner.id,
            AgreementCreate(
                kind="nda",
                title="保密协议 2024",
                signed_on=today - timedelta(days=300),
                expires_on=today + timedelta(days=10),
                signatories=[Signatory(party="us", name="张三"), Signatory(party="partner", name="Lee")],
                category_ids=[ledgers],
            ),
            settings,
        )
        approver = Actor(id=owner.user.id, label="王芳")
        scopes = []
        for ends_on in (today + timedelta(days=5), None):
            scope = await request_scope(
                conn,
                SYSTEM,
                partner.id,
                ScopeCreate(
                    category_id=ledgers,
                    purpose="代理记账" if ends_on is None else "年度审计",
                    processing_methods=["store", "process"],
                    transfer_method="api",
                    starts_on=today - timedelta(days=30),
                    ends_on=ends_on,
                    retention_days=365,
                    volume_band="1k_10k",
                    cross_border=True,  # the partner is in Singapore
                ),
            )
            await approve_scope(conn, approver, partner.id, scope.id, ScopeApproval(note="ok"), settings)
            scopes.append(scope.id)
    return World(
        partner_id=partner.id,
        agreement_id=agreement.id,
        expires_on=today + timedelta(days=10),
        ending_scope_id=scopes[0],
        open_scope_id=scopes[1],
        owner_email=owner.user.email,
    )


async def scope_status(pool: asyncpg.Pool, scope_id: UUID) -> str:
    status: str = await pool.fetchval("SELECT status FROM scopes WHERE id = $1", scope_id)
    return status


async def counts(pool: asyncpg.Pool) -> tuple[int, int]:
    """Outbox messages and audit events: a repeated sweep must add neither."""
    return (
        await pool.fetchval("SELECT count(*) FROM outbox"),
        await pool.fetchval("SELECT count(*) FROM audit_events"),
    )


async def test_expired_agreement_suspends_its_scopes_and_tells_the_risk_owner(
    worker_settings: Settings,
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    mailbox: tuple[Mailbox, int],
    receiver: Receiver,
) -> None:
    box, port = mailbox
    settings = msgspec.structs.replace(worker_settings, smtp_url=f"smtp://127.0.0.1:{port}")
    await subscribe(pool, receiver.url, ["scope.suspended", "scope.expired", "agreement.expired"])
    world = await build_world(pool, settings)
    await pool.execute("TRUNCATE outbox")  # what setting up the world sent is not under test

    report = await sweep_expiries(pool, settings, today=world.expires_on + timedelta(days=1))

    assert report == ExpirySweep(scopes_expired=1, agreements_expired=1, scopes_suspended=1, expiry_alerts=0)
    # The scope that had simply ended expired; the one the agreement alone covered is suspended.
    assert await scope_status(pool, world.ending_scope_id) == "expired"
    assert await scope_status(pool, world.open_scope_id) == "suspended"
    reason = await pool.fetchval("SELECT status_reason FROM scopes WHERE id = $1", world.open_scope_id)
    assert "保密协议 2024" in reason
    assert "expired on" in reason
    actions = await pool.fetch(
        """
        SELECT action, actor_label FROM audit_events
        WHERE entity_id = ANY($1::text[]) ORDER BY seq DESC LIMIT 3
        """,
        [str(world.agreement_id), str(world.ending_scope_id), str(world.open_scope_id)],
    )
    assert sorted(r["action"] for r in actions) == ["agreement.expired", "scope.expired", "scope.suspended"]
    assert {r["actor_label"] for r in actions} == {"system: expiry sweep"}

    before = await counts(pool)
    assert await sweep_expiries(pool, settings, today=world.expires_on + timedelta(days=1)) == NOTHING
    assert await sweep_expiries(pool, settings, today=world.expires_on + timedelta(days=2)) == NOTHING
    assert await counts(pool) == before

    await deliver_due(pool, http, settings)
    [email] = [m for m in box.messages if m["To"] == world.owner_email]
    assert email["Subject"].startswith("协议已到期：云账房")
    assert "1 个数据共享范围已暂停" in email["Subject"]
    text = email.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "财务报表及账套（代理记账）" in body
    assert "年度审计" not in body  # the ended scope was not suspended
    events = sorted(d.json()["type"] for d in receiver.deliveries)
    assert events == ["agreement.expired", "scope.expired", "scope.suspended"]


async def test_expiring_agreement_alerts_once_per_window_in_the_owners_language(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = msgspec.structs.replace(worker_settings, smtp_url=f"smtp://127.0.0.1:{port}")
    world = await build_world(pool, settings, owner_locale="en")
    await pool.execute("TRUNCATE outbox")

    def days_before(n: int) -> date:
        return world.expires_on - timedelta(days=n)

    async def alerts_after_sweeping(day: date) -> int:
        await sweep_expiries(pool, settings, today=day)
        alerts: int = await pool.fetchval(
            "SELECT count(*) FROM notices WHERE key LIKE $1", f"agreement.expiring:{world.agreement_id}:%"
        )
        return alerts

    # Each window alerts once, however often the sweep runs in it.
    seen = [await alerts_after_sweeping(days_before(n)) for n in (70, 70, 60, 60, 59, 45, 31, 30, 30, 29)]
    assert seen == [0, 0, 1, 1, 1, 1, 1, 2, 2, 2]
    # A worker down for a week: the 7-day alert still goes out, once.
    assert [await alerts_after_sweeping(days_before(n)) for n in (3, 2)] == [3, 3]

    await deliver_due(pool, http, settings)
    subjects = [m["Subject"] for m in box.messages if m["To"] == world.owner_email]
    # One email per window, in the owner's language (delivered concurrently: any order).
    assert sorted(s.split(": ")[0] for s in subjects) == [
        "Agreement expires in 3 days",
        "Agreement expires in 30 days",
        "Agreement expires in 60 days",
    ]
    assert all(s.split(": ")[1].startswith("保密协议 2024 with 云账房") for s in subjects)


async def test_renewed_agreement_raises_no_alarm(
    worker_settings: Settings, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    await subscribe(pool, receiver.url, ["agreement.expired"])
    world = await build_world(pool, worker_settings)
    async with pool.acquire() as conn:
        ledgers = await conn.fetchval("SELECT id FROM data_categories WHERE code = 'financial_statements'")
        await create_agreement(
            conn,
            SYSTEM,
            world.partner_id,
            AgreementCreate(
                kind="nda",
                title="保密协议 2025–2027",
                signed_on=today_utc(),
                expires_on=world.expires_on + timedelta(days=730),
                signatories=[Signatory(party="us", name="张三"), Signatory(party="partner", name="Lee")],
                category_ids=[ledgers],
            ),
            worker_settings,
        )
    await pool.execute("TRUNCATE outbox")

    await sweep_expiries(pool, worker_settings, today=world.expires_on - timedelta(days=7))
    await sweep_expiries(pool, worker_settings, today=world.expires_on + timedelta(days=1))

    assert await scope_status(pool, world.open_scope_id) == "approved"
    emails = await pool.fetchval("SELECT count(*) FROM outbox WHERE payload ->> 'to' = $1", world.owner_email)
    assert emails == 0
    [event] = await pool.fetch(
        """
        SELECT payload FROM outbox
        WHERE topic = 'agreement.expired' AND payload -> 'data' ->> 'agreement_id' = $1
        """,
        str(world.agreement_id),
    )
    assert event["payload"]["data"]["renewed"] is True
    assert event["payload"]["data"]["suspended_scope_ids"] == []


async def test_the_job_runs_from_a_worker_context(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    report: dict[str, Any] = await sweep_expiries_job(ctx_for(pool, http, worker_settings))
    assert set(report) == {
        "scopes_expired",
        "agreements_expired",
        "scopes_suspended",
        "expiry_alerts",
        "acceptances_lapsed",
        "findings_overdue",
        "certificate_alerts",
        "counters_repaired",
    }
