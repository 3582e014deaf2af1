"""Live links and signing secrets are never stored in the clear, and delivered messages keep
only their metadata once the retention has passed."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx
import pytest

from tests.helpers import Mailbox
from tests.integration.worker.test_outbox_email import queue_email, smtp
from tests.integration.worker.test_outbox_webhooks import subscribe
from vendor_risk.notify import repository as repo
from vendor_risk.notify.delivery import deliver_due
from vendor_risk.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_outbox")


async def test_an_email_with_a_link_is_sealed_until_sent_and_purged_after_the_retention(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    message_id = await queue_email(pool, to="li@example.com", subject="问卷 / questionnaire")
    row = await pool.fetchrow("SELECT *, payload::text AS clear FROM outbox WHERE id = $1", message_id)
    # A pg_dump shows no link: the content is sealed, only the list's metadata is readable.
    assert "/q/" not in row["clear"]
    assert b"/q/" not in row["sealed"]
    assert row["payload"] == {"to": "li@example.com", "subject": "问卷 / questionnaire", "lang": "en"}
    assert row["key_id"] == worker_settings.data_keys[0].key_id

    assert await deliver_due(pool, http, smtp(worker_settings, port)) == {
        "delivered": 1,
        "retrying": 0,
        "dead": 0,
    }
    [arrived] = box.messages
    assert "https://example.com/q/x" in arrived.get_body(("html",)).get_content()  # type: ignore[union-attr]

    delivered_at = await pool.fetchval("SELECT delivered_at FROM outbox WHERE id = $1", message_id)
    # Within the retention the content stays (a resend after a complaint can use it) …
    assert await repo.purge_delivered(pool, 30, now=delivered_at + timedelta(days=29)) == 0
    # … after it only the metadata is left, and the admins' list still shows the message.
    assert await repo.purge_delivered(pool, 30, now=delivered_at + timedelta(days=31)) == 1
    purged = await pool.fetchrow("SELECT * FROM outbox WHERE id = $1", message_id)
    assert (purged["sealed"], purged["nonce"], purged["key_id"]) == (None, None, None)
    assert purged["payload"] == {"to": "li@example.com", "subject": "问卷 / questionnaire", "lang": "en"}
    assert purged["purged_at"] is not None
    listed = await repo.get_outbox_message(pool, message_id)  # type: ignore[arg-type]
    assert listed is not None
    assert (listed.recipient, listed.status) == ("li@example.com", "delivered")
    assert await repo.purge_delivered(pool, 30, now=delivered_at + timedelta(days=40)) == 0


async def test_a_delivered_webhook_event_keeps_its_type_after_the_purge(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    await pool.execute(
        "INSERT INTO outbox (channel, topic, payload, status, delivered_at)"
        " VALUES ('webhook', 'scope.approved', $1, 'delivered', now() - interval '31 days')",
        {"type": "scope.approved", "timestamp": "t", "data": {"x": 1}},
    )
    assert await repo.purge_delivered(pool, 30) == 1
    payload = await pool.fetchval("SELECT payload FROM outbox WHERE topic = 'scope.approved'")
    assert payload == {"type": "scope.approved", "timestamp": "t"}


async def test_webhook_signing_secrets_are_stored_sealed(pool: asyncpg.Pool) -> None:
    webhook_id, secret = await subscribe(pool, "https://example.com/hook", ["*"])
    row = await pool.fetchrow("SELECT * FROM webhooks WHERE id = $1", webhook_id)
    assert row["secret"] is None
    assert secret.encode() not in row["secret_sealed"]
    assert row["secret_key_id"] == "test"
