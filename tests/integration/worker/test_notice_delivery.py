"""Security notices end to end on the worker's database with a real SMTP server:
publishing to ``tier=high`` emails exactly those partners' contacts, each in their language
with a personal link stored only hashed; acknowledgements are counted; reminders go once
each before the due date and the owner is told once after it (time injected); the evidence
export lists who acknowledged which version."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
import openpyxl
import pytest

from tests.helpers import Mailbox, outbox_emails
from tests.integration.worker.conftest import ctx_for
from vendor_risk.audit.models import Actor
from vendor_risk.auth.models import Role, UserCreate
from vendor_risk.auth.service import create_user
from vendor_risk.notices import service
from vendor_risk.notices.evidence import export_evidence
from vendor_risk.notices.models import PublishToPartner, PublishToServiceType, PublishToTier
from vendor_risk.partners.models import ContactIn, PartnerCreate
from vendor_risk.partners.service import create_partner
from vendor_risk.settings import Settings
from vendor_risk.worker import deliver_outbox, sweep_notices

pytestmark = pytest.mark.usefixtures("clean_outbox")
LINK = re.compile(r"http://testserver\.local/n/([A-Za-z0-9_-]{43})")


async def risk_owner(pool: asyncpg.Pool, locale: str = "zh-CN") -> Actor:
    tag = secrets.token_hex(3)
    async with pool.acquire() as conn:
        created = await create_user(
            conn,
            Actor(id=None, label="test"),
            UserCreate(email=f"ro-{tag}@example.com", name="王芳", role=Role.RISK_OWNER),
        )
        await conn.execute("UPDATE users SET locale = $2 WHERE id = $1", created.user.id, locale)
    return Actor(id=created.user.id, label=f"王芳 <ro-{tag}@example.com>")


async def partner(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    name: str,
    tier: str = "low",
    status: str = "active",
    contacts: list[tuple[str, str]],
    owner: UUID | None = None,
    service_type: str | None = None,
) -> tuple[UUID, list[str]]:
    """A partner set directly to ``status`` and ``tier`` (how they are reached is tested with
    partners); returns its id and its contacts' addresses."""
    tag = secrets.token_hex(3)
    emails = [f"{who}-{tag}@partner.example.com" for who, _ in contacts]
    async with pool.acquire() as conn:
        created = await create_partner(
            conn,
            Actor(id=None, label="test"),
            PartnerCreate(
                name=f"{name} {tag}",
                legal_name=f"{name} {tag} 有限公司",
                country="HK",
                registration_number=f"HK{secrets.randbelow(10**7):07d}",
                business_criticality="low",
                owner_id=owner,
                contacts=[
                    ContactIn(name=who, email=email, primary=i == 0, locale=locale)  # type: ignore[arg-type]
                    for i, ((who, locale), email) in enumerate(zip(contacts, emails, strict=True))
                ],
            ),
            settings,
        )
        await conn.execute(
            "UPDATE partners SET status = $2, tier = $3, service_types = $4 WHERE id = $1",
            created.id,
            status,
            tier,
            [service_type] if service_type else [],
        )
    return created.id, emails


def smtp(settings: Settings, port: int) -> Settings:
    return msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")


async def test_publishing_to_tier_high_emails_exactly_those_partners_contacts(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    actor = await risk_owner(pool)
    _, high_a = await partner(
        pool, worker_settings, name="薪福通", tier="high", contacts=[("李雷", "zh-CN"), ("Han", "en")]
    )
    _, high_b = await partner(
        pool, worker_settings, name="票据印务", tier="high", contacts=[("赵敏", "zh-CN")]
    )
    _, low = await partner(pool, worker_settings, name="档案速递", tier="low", contacts=[("周杰", "zh-CN")])
    _, suspended = await partner(
        pool, worker_settings, name="停用公司", tier="high", status="suspended", contacts=[("吴磊", "zh-CN")]
    )
    expected = {
        r["email"]
        for r in await pool.fetch(
            """SELECT c.email FROM partners p JOIN partner_contacts c ON c.partner_id = p.id
               WHERE p.status = 'active' AND p.tier = 'high'"""
        )
    }
    assert set(high_a + high_b) <= expected
    assert not (set(low + suspended) & expected)

    async with pool.acquire() as conn:
        preview = await service.preview_audience(
            conn, msgspec.convert({"audience": "tier", "audience_value": "high"}, service.AudienceIn)
        )
        published = await service.publish(
            conn,
            actor,
            PublishToTier(
                notice_key="incident-reporting",
                notice_version=1,
                audience_value="high",
                due_on=datetime.now(UTC).date() + timedelta(days=14),
                message="请各合作方于两周内确认。",
            ),
            worker_settings,
        )
    assert (preview.contacts, published.contact_count) == (len(expected), len(expected))

    report = await deliver_outbox(ctx_for(pool, http, smtp(worker_settings, port)))
    assert report["delivered"] == len(expected)
    assert {m["To"] for m in box.messages} == expected

    [zh] = box.to(high_a[0])
    [en] = box.to(high_a[1])
    assert zh["Subject"] == "【安全通知】安全事件报告指引"
    assert en["Subject"] == "[Security notice] Security incident reporting guide"
    text = zh.get_body(("plain",)).get_content()
    assert "请阅读后于" in text
    assert "请各合作方于两周内确认。" in text
    token = LINK.search(text).group(1)  # type: ignore[union-attr]
    # Only the hash is stored, and the outbox keeps the email sealed.
    stored = await pool.fetchval(
        "SELECT count(*) FROM notice_recipients WHERE token_hash = $1",
        hashlib.sha256(token.encode()).digest(),
    )
    assert stored == 1
    assert not await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE payload::text LIKE '%' || $1 || '%'", token
    )
    event = await pool.fetchrow(
        "SELECT actor_id, after FROM audit_events WHERE action = 'notice.published' AND entity_id = $1",
        str(published.id),
    )
    assert event is not None
    assert event["actor_id"] == actor.id


async def _tokens(pool: asyncpg.Pool, settings: Settings, emails: list[str]) -> dict[str, str]:
    found = await outbox_emails(
        pool, settings.data_keys, "topic = 'notice.published' AND payload->>'to' = ANY($1::text[])", emails
    )
    return {e["to"]: LINK.search(e["text"]).group(1) for e in found}  # type: ignore[union-attr]


async def test_acknowledgements_are_counted_and_reminders_go_once_each(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    actor = await risk_owner(pool, locale="en")
    owner = actor.id
    a, a_mails = await partner(
        pool,
        worker_settings,
        name="云账房",
        contacts=[("李雷", "zh-CN"), ("Han", "en")],
        owner=owner,
        service_type="courier_archiving",
    )
    b, b_mails = await partner(
        pool,
        worker_settings,
        name="快递档案",
        contacts=[("赵敏", "zh-CN")],
        owner=owner,
        service_type="courier_archiving",
    )
    today = datetime.now(UTC).date()
    due = today + timedelta(days=10)
    async with pool.acquire() as conn:
        published = await service.publish(
            conn,
            actor,
            PublishToServiceType(
                notice_key="partner-security-baseline",
                notice_version=1,
                audience_value="courier_archiving",
                due_on=due,
            ),
            worker_settings,
        )
    assert (published.partner_count, published.contact_count) == (2, 3)
    tokens = await _tokens(pool, worker_settings, a_mails + b_mails)
    async with pool.acquire() as conn:
        opened = await service.open_link(conn, tokens[a_mails[1]], datetime.now(UTC))
        ack = await service.acknowledge(
            conn, opened.recipient["id"], "  Han   Meimei ", "link", datetime.now(UTC)
        )
        # A second acknowledgement keeps the first.
        again = await service.acknowledge(
            conn, opened.recipient["id"], "Someone Else", "link", datetime.now(UTC)
        )
        summary = await service.get_publication_summary(conn, published.id)
    assert (ack.acknowledged_name, ack.notice_version) == ("Han Meimei", 1)
    assert again.acknowledged_name == "Han Meimei"
    assert (summary.partners_acknowledged, summary.contacts_acknowledged) == (1, 1)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = 'notice.acknowledged' AND entity_id = $1",
            str(opened.recipient["id"]),
        )
        == 1
    )

    async def sweep_on(day: date) -> None:
        async with pool.acquire() as conn:
            await service.sweep_notices(conn, day, worker_settings, worker_settings.policy)

    def sent(rows: list[dict[str, Any]], topic: str) -> list[str]:
        return [r["to"] for r in rows if r["topic"] == topic]

    # D-7, twice (as two workers would), then D-3 and D-1: only B's contact, once each;
    # A has acknowledged through one of its contacts, so neither of A's is reminded.
    for day in (
        due - timedelta(days=7),
        due - timedelta(days=7),
        due - timedelta(days=3),
        due - timedelta(days=1),
        due - timedelta(days=1),
    ):
        await sweep_on(day)
    reminders = await outbox_emails(
        pool,
        worker_settings.data_keys,
        "topic = 'notice.reminder' AND payload->>'to' = ANY($1::text[])",
        a_mails + b_mails,
    )
    assert [r["to"] for r in reminders] == b_mails * 3
    assert "[Reminder]" not in reminders[0]["subject"]
    assert "请确认安全通知" in reminders[0]["subject"]
    # After the due date: one escalation to the owner (in the owner's language), once.
    await sweep_on(due + timedelta(days=1))
    await sweep_on(due + timedelta(days=2))
    owner_email = await pool.fetchval("SELECT email FROM users WHERE id = $1", owner)
    escalations = await outbox_emails(
        pool, worker_settings.data_keys, "topic = 'notice.escalated' AND payload->>'to' = $1", owner_email
    )
    assert len(escalations) == 1
    assert escalations[0]["subject"].startswith("[Overdue]")
    assert "快递档案" in escalations[0]["subject"]
    assert str(published.id) in escalations[0]["text"]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM notice_reminders m JOIN notice_recipients r ON r.id = m.recipient_id"
            " WHERE r.publication_id = $1",
            published.id,
        )
        == 3
    )
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = 'notice.escalated' AND entity_id = $1",
            str(published.id),
        )
        == 1
    )
    # The job runs the same sweep for today (nothing is due today for this publication).
    assert set(await sweep_notices(ctx_for(pool, http, worker_settings))) == {"reminders", "escalations"}
    assert a != b


async def test_the_evidence_export_lists_who_acknowledged_which_version(
    worker_settings: Settings, pool: asyncpg.Pool
) -> None:
    actor = await risk_owner(pool)
    p, mails = await partner(
        pool, worker_settings, name='=HYPERLINK("http://x")', contacts=[("李雷", "zh-CN"), ("-Han", "en")]
    )
    async with pool.acquire() as conn:
        published = await service.publish(
            conn,
            actor,
            PublishToPartner(
                notice_key="entrusted-processing-pipl21",
                notice_version=1,
                audience_value=p,
                due_on=datetime.now(UTC).date() + timedelta(days=7),
            ),
            worker_settings,
        )
        tokens = await _tokens(pool, worker_settings, mails)
        opened = await service.open_link(conn, tokens[mails[0]], datetime.now(UTC))
        await service.acknowledge(conn, opened.recipient["id"], "李雷", "link", datetime.now(UTC))
    download = await export_evidence(pool, actor, "csv", "zh-CN", publication_id=published.id)
    body = b"".join([chunk async for chunk in download.body])
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:6] == ["合作方", "联系人", "邮箱", "通知编号", "通知", "版本"]
    by_contact = {r[1]: r for r in rows[1:]}
    assert set(by_contact) == {"李雷", "'-Han"}
    acknowledged = by_contact["李雷"]
    assert acknowledged[0].startswith("'=HYPERLINK")
    assert acknowledged[3:6] == [
        "entrusted-processing-pipl21",
        "个人信息委托处理要求（《个人信息保护法》第二十一条）",
        "1",
    ]
    assert acknowledged[9].endswith("+08:00")
    assert acknowledged[10] == "李雷"
    assert acknowledged[11] == "邮件链接"
    assert by_contact["'-Han"][9:11] == ["", ""]

    xlsx = await export_evidence(pool, actor, "xlsx", "en", publication_id=published.id)
    data = b"".join([chunk async for chunk in xlsx.body])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:2] == ["Partner", "Contact"]
    assert all(not str(v).startswith("=") for row in values for v in row if v is not None)
    assert any(row[10] == "李雷" and row[5] == 1 for row in values[1:])
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM audit_events"
            " WHERE action = 'report.downloaded' AND entity_id = 'notice-acknowledgements'"
        )
        >= 2
    )
