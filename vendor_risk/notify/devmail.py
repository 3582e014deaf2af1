"""The development mailbox: a mail transport that keeps emails in PostgreSQL instead of
sending them, for `vendor-risk up` with no SMTP server configured (``Settings.dev_mailbox``).

A newcomer's first send then shows its email, with the partner's link, at ``/ui/dev/mail``
without any setup. ``serve`` and ``worker`` never turn it on: production mail is never
swallowed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.notify.outbox import Email


class CapturedMail(msgspec.Struct, kw_only=True):
    id: UUID
    outbox_id: UUID
    topic: str
    recipient: str
    subject: str
    body_text: str
    lang: str
    captured_at: datetime


_COLUMNS = "id, outbox_id, topic, recipient, subject, body_text, lang, captured_at"


async def capture(pool: asyncpg.Pool, outbox_id: UUID, topic: str, email: Email) -> None:
    """Keep one outbox email (once, however often its delivery is tried)."""
    await pool.execute(
        """
        INSERT INTO dev_mail (outbox_id, topic, recipient, subject, body_text, lang)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (outbox_id) DO NOTHING
        """,
        outbox_id,
        topic,
        email.to,
        email.subject,
        email.text,
        email.lang,
    )


async def list_mail(conn: asyncpg.Connection, after: list[Any] | None, limit: int) -> list[CapturedMail]:
    """Newest first, by (captured_at, id)."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM dev_mail
        WHERE $1::timestamptz IS NULL OR (captured_at, id) < ($1, $2::uuid)
        ORDER BY captured_at DESC, id DESC LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [msgspec.convert(dict(r), CapturedMail) for r in rows]


async def get_mail(conn: asyncpg.Connection, mail_id: UUID) -> CapturedMail | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM dev_mail WHERE id = $1", mail_id)
    return msgspec.convert(dict(row), CapturedMail) if row else None
