"""Outbox emails reach a real SMTP server once, through refusals and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest

from tests.helpers import Mailbox
from tests.integration.worker.conftest import ctx_for
from vendor_risk.notify.delivery import MAX_ATTEMPTS, RETRY_CAP, deliver_due
from vendor_risk.notify.email import message_id_for
from vendor_risk.notify.outbox import Email, enqueue_email
from vendor_risk.settings import Settings
from vendor_risk.worker import deliver_outbox

pytestmark = pytest.mark.usefixtures("clean_outbox")


async def queue_email(pool: asyncpg.Pool, **fields: str) -> UUID:
    email = Email(
        to=fields.get("to", "partner@example.com"),
        subject=fields.get("subject", "请填写安全问卷 / Please fill in the security questionnaire"),
        text="Open the link to start.",
        html="<p>Open the <a href='https://example.com/q/x'>link</a> to start.</p>",
        lang="en",
    )
    async with pool.acquire() as conn, conn.transaction():
        message_id = await enqueue_email(conn, topic="test.email", email=email)
    assert message_id is not None
    return message_id


async def outbox_row(pool: asyncpg.Pool, message_id: UUID) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM outbox WHERE id = $1", message_id)
    assert row is not None
    return row


def smtp(settings: Settings, port: int) -> Settings:
    return msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")


async def test_email_arrives_with_text_html_and_stable_message_id(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    message_id = await queue_email(pool, to="zhang.wei@example.com")

    report = await deliver_outbox(ctx_for(pool, http, smtp(worker_settings, port)))

    assert report == {"delivered": 1, "retrying": 0, "dead": 0}
    [received] = box.messages
    assert received["To"] == "zhang.wei@example.com"
    assert received["From"] == worker_settings.mail_from
    assert received["Message-ID"] == message_id_for(message_id, worker_settings.mail_from)
    assert received["Message-ID"] == f"<{message_id}@localhost>"
    assert received["Subject"] == "请填写安全问卷 / Please fill in the security questionnaire"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert "Open the link" in text.get_content()
    assert html is not None
    assert "<a href=" in html.get_content()
    row = await outbox_row(pool, message_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    assert row["delivered_at"] is not None

    # Delivered is final: running again sends nothing more.
    assert await deliver_outbox(ctx_for(pool, http, smtp(worker_settings, port))) == {
        "delivered": 0,
        "retrying": 0,
        "dead": 0,
    }
    assert len(box.messages) == 1


async def test_server_refusing_twice_then_accepting_gets_one_email(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    box.refuse_next = 2
    settings = smtp(worker_settings, port)
    message_id = await queue_email(pool)
    now = datetime.now(UTC)

    first = await deliver_due(pool, http, settings, now=now)
    row = await outbox_row(pool, message_id)
    assert first["retrying"] == 1
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("SMTP 451")
    # Not due again until the backoff has passed.
    assert row["next_attempt_at"] > now
    assert await deliver_due(pool, http, settings, now=now) == {"delivered": 0, "retrying": 0, "dead": 0}

    second = await deliver_due(pool, http, settings, now=row["next_attempt_at"])
    row2 = await outbox_row(pool, message_id)
    assert second["retrying"] == 1
    assert row2["attempts"] == 2
    # Exponential: the second wait is longer than the first can be.
    assert row2["next_attempt_at"] - row["next_attempt_at"] > timedelta(minutes=1)

    third = await deliver_due(pool, http, settings, now=row2["next_attempt_at"])
    assert third == {"delivered": 1, "retrying": 0, "dead": 0}
    assert box.refusals == 2
    assert len(box.messages) == 1
    row3 = await outbox_row(pool, message_id)
    assert (row3["status"], row3["attempts"], row3["last_error"]) == ("delivered", 3, None)


async def test_unreachable_server_gives_up_after_the_bound(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    _, port = mailbox
    settings = msgspec.structs.replace(worker_settings, smtp_url="smtp://127.0.0.1:1")
    message_id = await queue_email(pool)
    now = datetime.now(UTC)
    for _ in range(MAX_ATTEMPTS):
        await deliver_due(pool, http, settings, now=now)
        now += RETRY_CAP
    row = await outbox_row(pool, message_id)
    assert (row["status"], row["attempts"]) == ("dead", MAX_ATTEMPTS)
    assert "ConnectError" in row["last_error"] or "connect" in row["last_error"].lower()
    # Dead stays dead until an admin revives it, however often the sweep runs.
    await deliver_due(pool, http, smtp(worker_settings, port), now=now + RETRY_CAP)
    assert (await outbox_row(pool, message_id))["status"] == "dead"


async def test_permanent_refusal_is_dead_at_once(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox

    async def refuse(server: object, session: object, envelope: object, address: str, options: object) -> str:
        return "550 5.1.1 no such mailbox"

    box.handle_RCPT = refuse  # type: ignore[attr-defined]
    message_id = await queue_email(pool, to="nobody@example.com")
    report = await deliver_outbox(ctx_for(pool, http, smtp(worker_settings, port)))
    assert report == {"delivered": 0, "retrying": 0, "dead": 1}
    row = await outbox_row(pool, message_id)
    assert (row["status"], row["attempts"]) == ("dead", 1)
    assert row["last_error"] == "SMTP 550 5.1.1 no such mailbox (nobody@example.com)"
    assert box.messages == []


async def test_one_inbox_gets_its_messages_in_the_order_they_were_written(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    # Three to one inbox (two written in one transaction, as a resend writes), one elsewhere.
    await queue_email(pool, to="Li.Lei@example.com", subject="1")
    email = Email(to="li.lei@example.com", subject="2", text="x")
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_email(conn, topic="test.email", email=email)
        await enqueue_email(conn, topic="test.email", email=msgspec.structs.replace(email, subject="3"))
    await queue_email(pool, to="han@example.com", subject="other")
    # A second worker racing the first cannot send a later message before an earlier one.
    settings = smtp(worker_settings, port)
    reports = [await deliver_due(pool, http, settings) for _ in range(2)]
    assert sum(r["delivered"] for r in reports) == 4
    assert [m["Subject"] for m in box.messages if m["To"].lower() == "li.lei@example.com"] == ["1", "2", "3"]


async def test_a_later_message_waits_for_an_earlier_one_that_is_retrying(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    box.refuse_next = 1
    first = await queue_email(pool, to="wang@example.com", subject="old link")
    second = await queue_email(pool, to="wang@example.com", subject="new link")
    settings = smtp(worker_settings, port)
    report = await deliver_due(pool, http, settings)
    assert report == {"delivered": 0, "retrying": 1, "dead": 0}
    assert (await outbox_row(pool, second))["attempts"] == 0
    # Once the first goes through, the second follows it.
    later = datetime.now(UTC) + RETRY_CAP + timedelta(minutes=1)
    assert (await deliver_due(pool, http, settings, now=later))["delivered"] == 2
    assert [m["Subject"] for m in box.messages] == ["old link", "new link"]
    assert (await outbox_row(pool, first))["status"] == "delivered"
