"""SQL for webhook subscriptions and the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from vendor_risk.db import data_keys_of
from vendor_risk.documents import CHAT_URL, WEBHOOK_SECRET, open_text, seal, seal_text, unseal
from vendor_risk.notify.models import ChatChannel, ChatChannelCreate, OutboxMessage, Webhook
from vendor_risk.settings import DataKey

WEBHOOK_COLUMNS = "id, url, events, description, created_at, created_by"


def _webhook(row: asyncpg.Record) -> Webhook:
    return Webhook(**dict(row))


async def insert_webhook(
    conn: asyncpg.Connection,
    *,
    url: str,
    events: list[str],
    secret: str,
    description: str,
    created_by: UUID | None,
) -> Webhook:
    """Store a subscription; its signing secret is sealed with the connection's current
    data key (in the clear only on a bare test connection without keys)."""
    webhook_id = uuid4()
    keys = data_keys_of(conn)
    if keys:
        nonce, sealed = seal(keys[0], WEBHOOK_SECRET, webhook_id, secret.encode())
        plain, key_id = None, keys[0].key_id
    else:
        plain, key_id, nonce, sealed = secret, None, None, None
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhooks (id, url, events, secret, secret_key_id, secret_nonce, secret_sealed,
                              description, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {WEBHOOK_COLUMNS}
        """,
        webhook_id,
        url,
        events,
        plain,
        key_id,
        nonce,
        sealed,
        description,
        created_by,
    )
    return _webhook(row)


def open_webhook_secret(
    keys: tuple[DataKey, ...],
    webhook_id: UUID,
    plain: str | None,
    key_id: str | None,
    nonce: bytes | None,
    sealed: bytes | None,
) -> str | None:
    if sealed is None or key_id is None or nonce is None:
        return plain
    return unseal(keys, key_id, WEBHOOK_SECRET, webhook_id, nonce, sealed).decode()


async def list_webhooks(
    conn: asyncpg.Connection, after: tuple[datetime, UUID] | None, limit: int
) -> list[Webhook]:
    rows = await conn.fetch(
        f"""
        SELECT {WEBHOOK_COLUMNS} FROM webhooks
        WHERE disabled_at IS NULL
          AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_webhook(r) for r in rows]


async def get_webhook(conn: asyncpg.Connection, webhook_id: UUID) -> Webhook | None:
    row = await conn.fetchrow(
        f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND disabled_at IS NULL", webhook_id
    )
    return _webhook(row) if row else None


async def disable_webhook(conn: asyncpg.Connection, webhook_id: UUID) -> Webhook | None:
    """Stop a subscription; its row stays because delivered messages refer to it."""
    row = await conn.fetchrow(
        f"""
        UPDATE webhooks SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL
        RETURNING {WEBHOOK_COLUMNS}
        """,
        webhook_id,
    )
    return _webhook(row) if row else None


async def set_secret(conn: asyncpg.Connection, webhook_id: UUID, secret: str) -> Webhook | None:
    """Replace a live subscription's signing secret, sealed as ``insert_webhook`` seals it;
    None when there is no such live subscription."""
    keys = data_keys_of(conn)
    if keys:
        nonce, sealed = seal(keys[0], WEBHOOK_SECRET, webhook_id, secret.encode())
        plain, key_id = None, keys[0].key_id
    else:
        plain, key_id, nonce, sealed = secret, None, None, None
    row = await conn.fetchrow(
        f"""
        UPDATE webhooks SET secret = $2, secret_key_id = $3, secret_nonce = $4, secret_sealed = $5
        WHERE id = $1 AND disabled_at IS NULL
        RETURNING {WEBHOOK_COLUMNS}
        """,
        webhook_id,
        plain,
        key_id,
        nonce,
        sealed,
    )
    return _webhook(row) if row else None


async def abandon_webhook_messages(conn: asyncpg.Connection, webhook_id: UUID) -> int:
    """Mark the pending messages of a deleted subscription dead, so none is sent after it."""
    result: str = await conn.execute(
        """
        UPDATE outbox SET status = 'dead', last_error = 'the webhook subscription was deleted'
        WHERE webhook_id = $1 AND status = 'pending'
        """,
        webhook_id,
    )
    return int(result.rsplit(" ", 1)[-1])


# --- the outbox as admins see it -------------------------------------------------------

_OUTBOX_COLUMNS = """
    o.id, o.channel, o.topic,
    CASE o.channel WHEN 'email' THEN o.payload ->> 'to' ELSE w.url END AS recipient,
    CASE o.channel WHEN 'email' THEN o.payload ->> 'subject' END AS subject,
    o.webhook_id, o.status, o.attempts, o.next_attempt_at, o.last_error, o.created_at,
    o.delivered_at
"""


async def list_outbox(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    channel: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[OutboxMessage]:
    rows = await conn.fetch(
        f"""
        SELECT {_OUTBOX_COLUMNS}
        FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id
        WHERE ($1::text IS NULL OR o.status = $1)
          AND ($2::text IS NULL OR o.channel = $2)
          AND ($3::timestamptz IS NULL OR (o.created_at, o.id) < ($3, $4::uuid))
        ORDER BY o.created_at DESC, o.id DESC
        LIMIT $5
        """,
        status,
        channel,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [OutboxMessage(**dict(r)) for r in rows]


async def get_outbox_message(
    conn: asyncpg.Connection, message_id: UUID, *, for_update: bool = False
) -> OutboxMessage | None:
    lock = "FOR UPDATE OF o" if for_update else ""
    row = await conn.fetchrow(
        f"""
        SELECT {_OUTBOX_COLUMNS}
        FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id
        WHERE o.id = $1 {lock}
        """,
        message_id,
    )
    return OutboxMessage(**dict(row)) if row else None


async def revive(conn: asyncpg.Connection, message_id: UUID) -> OutboxMessage:
    """Give a dead message a fresh set of attempts, due now; the caller holds its lock."""
    row = await conn.fetchrow(
        f"""
        WITH o AS (
            UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now()
            WHERE id = $1 AND status = 'dead'
            RETURNING *
        )
        SELECT {_OUTBOX_COLUMNS} FROM o LEFT JOIN webhooks w ON w.id = o.webhook_id
        """,
        message_id,
    )
    return OutboxMessage(**dict(row))


# --- delivery --------------------------------------------------------------------------


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    """A message a worker holds until its lease ends; ``attempt`` fences its outcome."""

    id: UUID
    channel: str
    topic: str
    payload: Any
    key_id: str | None
    nonce: bytes | None
    sealed: bytes | None
    attempt: int
    webhook_id: UUID | None
    webhook_url: str | None
    webhook_secret: str | None
    webhook_secret_key_id: str | None
    webhook_secret_nonce: bytes | None
    webhook_secret_sealed: bytes | None
    webhook_active: bool
    # Chat alerts: the channel's robot, while it is not deleted.
    chat_channel_id: UUID | None = None
    chat_url: str | None = None
    chat_url_key_id: str | None = None
    chat_url_sealed: bytes | None = None
    chat_secret: str | None = None
    chat_secret_key_id: str | None = None
    chat_secret_nonce: bytes | None = None
    chat_secret_sealed: bytes | None = None
    chat_active: bool = False


async def claim_due(
    conn: asyncpg.Pool | asyncpg.Connection, *, now: datetime | None, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to ``limit`` due messages for one worker.

    One short statement (its own transaction): ``SKIP LOCKED`` lets concurrent workers take
    disjoint rows, and pushing ``next_attempt_at`` to the end of the lease hides the rows
    from them after the commit, while this worker sends outside any transaction. A worker
    that dies mid-send leaves its rows to be claimed again once the lease ends. The attempt
    counts at claim time, so a message that kills its worker cannot loop forever.

    Times are the database's (``now`` is for tests): messages are stamped by its clock, and
    a worker whose own clock lagged would leave fresh ones undelivered until the next sweep.
    """
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM outbox o
            WHERE status = 'pending' AND next_attempt_at <= coalesce($1, now())
              -- One recipient's messages go out in the order they were written: only the
              -- oldest pending one (claimed or not) of a recipient may be taken. A scalar
              -- subquery, one probe of outbox_pending_recipient_idx a row: as NOT EXISTS the
              -- planner may pick a hash anti-join, quadratic in one recipient's backlog.
              AND (o.recipient IS NULL
                   OR o.seq = (SELECT min(e.seq) FROM outbox e
                               WHERE e.recipient = o.recipient AND e.status = 'pending'))
            ORDER BY next_attempt_at
            LIMIT $3
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE outbox o
            SET attempts = o.attempts + 1, next_attempt_at = coalesce($1, now()) + $2::interval
            FROM due WHERE o.id = due.id
            RETURNING o.id, o.channel, o.topic, o.payload, o.key_id, o.nonce, o.sealed, o.attempts,
                      o.webhook_id, o.chat_channel_id
        )
        SELECT c.id, c.channel, c.topic, c.payload, c.key_id, c.nonce, c.sealed,
               c.attempts AS attempt, c.webhook_id, w.url AS webhook_url, w.secret AS webhook_secret,
               w.secret_key_id AS webhook_secret_key_id, w.secret_nonce AS webhook_secret_nonce,
               w.secret_sealed AS webhook_secret_sealed,
               (w.id IS NOT NULL AND w.disabled_at IS NULL) AS webhook_active,
               c.chat_channel_id, ch.url AS chat_url, ch.url_key_id AS chat_url_key_id,
               ch.url_sealed AS chat_url_sealed, ch.secret AS chat_secret,
               ch.secret_key_id AS chat_secret_key_id, ch.secret_nonce AS chat_secret_nonce,
               ch.secret_sealed AS chat_secret_sealed,
               (ch.id IS NOT NULL AND ch.disabled_at IS NULL) AS chat_active
        FROM claimed c LEFT JOIN webhooks w ON w.id = c.webhook_id
        LEFT JOIN chat_channels ch ON ch.id = c.chat_channel_id
        """,
        now,
        lease,
        limit,
    )
    return [Claimed(**dict(r)) for r in rows]


# Outcomes apply only while the message is still this claim's: if the lease ran out and
# another worker claimed it again, ``attempts`` moved on and the stale outcome is dropped.


async def mark_delivered(
    conn: asyncpg.Pool | asyncpg.Connection, claims: list[Claimed], now: datetime | None
) -> None:
    """Record a batch's deliveries in one statement."""
    if not claims:
        return
    await conn.execute(
        """
        UPDATE outbox o SET status = 'delivered', delivered_at = coalesce($3, now()), last_error = NULL
        FROM unnest($1::uuid[], $2::int[]) AS d(id, attempts)
        WHERE o.id = d.id AND o.attempts = d.attempts AND o.status = 'pending'
        """,
        [c.id for c in claims],
        [c.attempt for c in claims],
        now,
    )


async def release(conn: asyncpg.Pool | asyncpg.Connection, claims: list[Claimed]) -> None:
    """Hand back claims that were never tried: due again at once, the attempt not counted."""
    if not claims:
        return
    await conn.execute(
        """
        UPDATE outbox o SET attempts = o.attempts - 1, next_attempt_at = now()
        FROM unnest($1::uuid[], $2::int[]) AS d(id, attempts)
        WHERE o.id = d.id AND o.attempts = d.attempts AND o.status = 'pending'
        """,
        [c.id for c in claims],
        [c.attempt for c in claims],
    )


async def schedule_retry(
    conn: asyncpg.Pool | asyncpg.Connection,
    claim: Claimed,
    now: datetime | None,
    delay: timedelta,
    error: str,
) -> None:
    await conn.execute(
        """
        UPDATE outbox SET next_attempt_at = coalesce($3, now()) + $4::interval, last_error = $5
        WHERE id = $1 AND attempts = $2 AND status = 'pending'
        """,
        claim.id,
        claim.attempt,
        now,
        delay,
        error,
    )


async def mark_dead(conn: asyncpg.Pool | asyncpg.Connection, claim: Claimed, error: str) -> None:
    await conn.execute(
        """
        UPDATE outbox SET status = 'dead', last_error = $3
        WHERE id = $1 AND attempts = $2 AND status = 'pending'
        """,
        claim.id,
        claim.attempt,
        error,
    )


# --- retention -------------------------------------------------------------------------

PURGE_BATCH = 1000


async def purge_delivered(pool: asyncpg.Pool, retention_days: int, *, now: datetime | None = None) -> int:
    """Drop the content of messages delivered more than ``retention_days`` ago, keeping
    what the admins' list shows (recipient, subject, event type, times, attempts).

    In batches, each its own short transaction, so a first run over years of messages
    neither holds locks long nor grows one huge transaction; returns how many.
    """
    purged = 0
    while True:
        result: str = await pool.execute(
            """
            WITH due AS (
                SELECT id FROM outbox
                WHERE status = 'delivered' AND purged_at IS NULL
                  AND delivered_at < coalesce($1, now()) - make_interval(days => $2)
                ORDER BY delivered_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            UPDATE outbox o SET
                payload = CASE o.channel
                    WHEN 'email' THEN jsonb_build_object('to', o.payload -> 'to',
                        'subject', o.payload -> 'subject', 'lang', o.payload -> 'lang')
                    ELSE jsonb_build_object('type', o.payload -> 'type',
                        'timestamp', o.payload -> 'timestamp')
                END,
                key_id = NULL, nonce = NULL, sealed = NULL, purged_at = coalesce($1, now())
            FROM due WHERE o.id = due.id
            """,
            now,
            retention_days,
            PURGE_BATCH,
        )
        count = int(result.rsplit(" ", 1)[-1])
        purged += count
        if count < PURGE_BATCH:
            return purged


# --- chat channels ---------------------------------------------------------------------------

CHAT_COLUMNS = """
    id, platform, name, events, lang, (secret IS NOT NULL OR secret_sealed IS NOT NULL) AS signed,
    created_at, created_by
"""
CHAT_SECRET = "chat-secret"  # noqa: S105 - the label sealed secrets are bound to, not a secret


def open_chat_secret(
    keys: tuple[DataKey, ...],
    channel_id: UUID,
    plain: str | None,
    key_id: str | None,
    nonce: bytes | None,
    sealed: bytes | None,
) -> str | None:
    """A chat robot's signing secret, unsealed when sealed."""
    if sealed is None or key_id is None or nonce is None:
        return plain
    return unseal(keys, key_id, CHAT_SECRET, channel_id, nonce, sealed).decode()


def open_chat_url(
    keys: tuple[DataKey, ...], channel_id: UUID, plain: str | None, key_id: str | None, sealed: bytes | None
) -> str | None:
    """A chat robot's address, unsealed when sealed."""
    if sealed is None or key_id is None:
        return plain
    return open_text(keys, key_id, CHAT_URL, channel_id, sealed)


async def insert_chat_channel(
    conn: asyncpg.Connection, data: ChatChannelCreate, created_by: UUID | None
) -> ChatChannel:
    channel_id = uuid4()
    keys = data_keys_of(conn)
    plain, key_id, nonce, sealed = data.secret, None, None, None
    if keys and data.secret is not None:
        nonce, sealed = seal(keys[0], CHAT_SECRET, channel_id, data.secret.encode())
        plain, key_id = None, keys[0].key_id
    # The robot's address carries its key or access token: whoever has it can post to the group.
    url: str | None = data.url
    url_key_id: str | None = None
    url_sealed: bytes | None = None
    if keys:
        url_key_id, url_sealed = seal_text(keys, CHAT_URL, channel_id, data.url)
        url = None
    row = await conn.fetchrow(
        f"""
        INSERT INTO chat_channels (id, platform, name, url, url_key_id, url_sealed, secret, secret_key_id,
                                   secret_nonce, secret_sealed, events, lang, created_by)
        VALUES ($1, $2, $3, $4, $12, $13, $5, $6, $7, $8, $9, $10, $11)
        RETURNING {CHAT_COLUMNS}
        """,
        channel_id,
        data.platform,
        data.name,
        url,
        plain,
        key_id,
        nonce,
        sealed,
        sorted(set(data.events)),
        data.lang,
        created_by,
        url_key_id,
        url_sealed,
    )
    return ChatChannel(**dict(row))


async def list_chat_channels(
    conn: asyncpg.Connection, after: tuple[datetime, UUID] | None, limit: int
) -> list[ChatChannel]:
    rows = await conn.fetch(
        f"""
        SELECT {CHAT_COLUMNS} FROM chat_channels
        WHERE disabled_at IS NULL
          AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
        ORDER BY created_at DESC, id DESC
        LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [ChatChannel(**dict(r)) for r in rows]


async def disable_chat_channel(conn: asyncpg.Connection, channel_id: UUID) -> ChatChannel | None:
    row = await conn.fetchrow(
        f"""
        UPDATE chat_channels SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL
        RETURNING {CHAT_COLUMNS}
        """,
        channel_id,
    )
    if row is None:
        return None
    await conn.execute(
        """
        UPDATE outbox SET status = 'dead', last_error = 'the chat channel was deleted'
        WHERE chat_channel_id = $1 AND status = 'pending'
        """,
        channel_id,
    )
    return ChatChannel(**dict(row))
