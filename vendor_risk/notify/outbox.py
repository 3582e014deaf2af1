"""Writing to the outbox, in the transaction of the change that causes the message.

The worker delivers what is written here; nothing is sent from a request handler, so a
rolled-back change never sends a message and a committed one always does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec


class Email(msgspec.Struct, kw_only=True):
    to: str
    subject: str
    text: str
    html: str | None = None
    lang: str = "zh-CN"
    # Whom the recipient's Reply reaches, when not the (often no-reply) sender.
    reply_to: str | None = None


async def enqueue_email(
    conn: asyncpg.Connection, *, topic: str, email: Email, dedupe_key: str | None = None
) -> UUID | None:
    """Queue one email; with ``dedupe_key`` a second call for the same key does nothing."""
    row = await conn.fetchrow(
        """
        INSERT INTO outbox (channel, topic, payload, dedupe_key) VALUES ('email', $1, $2, $3)
        ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
        """,
        topic,
        msgspec.to_builtins(email),
        dedupe_key,
    )
    return row["id"] if row else None


async def emit_event(
    conn: asyncpg.Connection, event_type: str, data: Any, *, dedupe_key: str | None = None
) -> int:
    """Fan an event out to every active webhook subscribed to it; returns how many.

    Each subscription gets its own outbox row, whose id is the Standard Webhooks
    ``webhook-id``, so retries carry the same id and receivers can deduplicate.
    """
    payload = {
        "type": event_type,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": msgspec.to_builtins(data),
    }
    result: str = await conn.execute(
        """
        INSERT INTO outbox (channel, topic, webhook_id, payload, dedupe_key)
        SELECT 'webhook', $1, w.id, $2, CASE WHEN $3::text IS NULL THEN NULL ELSE $3 || ':' || w.id END
        FROM webhooks w
        WHERE w.disabled_at IS NULL AND ($1 = ANY (w.events) OR '*' = ANY (w.events))
        ON CONFLICT (dedupe_key) DO NOTHING
        """,
        event_type,
        payload,
        dedupe_key,
    )
    # Chat robots subscribed to the event get it too (vendor_risk.notify.chat).
    from vendor_risk.notify.chat import fan_out

    await fan_out(conn, event_type, data, dedupe_key)
    return int(result.rsplit(" ", 1)[-1])
