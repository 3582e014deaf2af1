"""Data key rotation: re-seal every document, outbox payload and secret (webhook signing
secrets, chat robot addresses and secrets, TOTP secrets, client ID numbers) under the current (first) data
key, so that older keys can be removed from the settings.

Each batch is its own short transaction that claims its rows with ``FOR UPDATE SKIP
LOCKED``: the service keeps running meanwhile, an interrupted run is simply run again
(rows already under the current key are not touched), and nothing is ever half-sealed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.clients.identity import seal_number
from vendor_risk.documents import (
    CHAT_URL,
    CLIENT_ID_NUMBER,
    DOCUMENT,
    OUTBOX_PAYLOAD,
    TOTP_SECRET,
    WEBHOOK_SECRET,
    seal,
    seal_text,
    unseal,
)
from vendor_risk.notify.outbox import Email, email_metadata
from vendor_risk.notify.repository import CHAT_SECRET
from vendor_risk.settings import DataKey

DEFAULT_BATCH = 200


class RotationError(RuntimeError):
    """A value cannot be opened (its key is not configured, or it was altered)."""


class Rotation(msgspec.Struct, kw_only=True):
    """How many values each kind had re-sealed; ``remaining`` counts values still under
    another key afterwards (0 once the old keys may go)."""

    documents: int = 0
    outbox_payloads: int = 0
    webhook_secrets: int = 0
    chat_channels: int = 0
    totp_secrets: int = 0
    client_id_numbers: int = 0
    remaining: dict[str, int] = msgspec.field(default_factory=dict)


async def _batches(conn: asyncpg.Connection, step: Callable[[asyncpg.Connection], Awaitable[int]]) -> int:
    total = 0
    while True:
        async with conn.transaction():
            done = await step(conn)
        total += done
        if done == 0:
            return total


def _open_text(keys: tuple[DataKey, ...], key_id: str, kind: str, row_id: UUID, blob: bytes) -> str:
    return _open(keys, key_id, kind, row_id, blob[:12], blob[12:]).decode()


def _open(
    keys: tuple[DataKey, ...], key_id: str, kind: str, row_id: UUID, nonce: bytes, data: bytes
) -> bytes:
    try:
        return unseal(keys, key_id, kind, row_id, nonce, data)
    except RuntimeError as exc:
        raise RotationError(
            f"{exc}; keep every key that is still in use in VENDOR_RISK_DATA_KEYS until rotation finishes"
        ) from None


async def rotate(conn: asyncpg.Connection, keys: tuple[DataKey, ...], batch: int = DEFAULT_BATCH) -> Rotation:
    """Re-seal everything not yet under ``keys[0]``; returns the counts."""
    if not keys:
        raise RotationError("VENDOR_RISK_DATA_KEYS is not set")
    current = keys[0]
    report = Rotation()

    async def documents(c: asyncpg.Connection) -> int:
        rows = await c.fetch(
            """
            SELECT id, key_id, nonce, ciphertext FROM documents
            WHERE key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            current.key_id,
            batch,
        )
        updates: list[tuple[Any, ...]] = []
        for r in rows:
            plain = _open(keys, r["key_id"], DOCUMENT, r["id"], r["nonce"], r["ciphertext"])
            nonce, sealed = seal(current, DOCUMENT, r["id"], plain)
            updates.append((r["id"], current.key_id, nonce, sealed))
        await c.executemany(
            "UPDATE documents SET key_id = $2, nonce = $3, ciphertext = $4 WHERE id = $1", updates
        )
        return len(updates)

    async def outbox(c: asyncpg.Connection) -> int:
        # Sealed under an older key, or an email written in the clear before sealing existed.
        rows = await c.fetch(
            """
            SELECT id, payload, key_id, nonce, sealed FROM outbox
            WHERE (key_id IS NOT NULL AND key_id <> $1)
               OR (channel = 'email' AND key_id IS NULL AND purged_at IS NULL AND payload ? 'text')
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            current.key_id,
            batch,
        )
        updates = []
        for r in rows:
            if r["sealed"] is None:
                email = msgspec.convert(r["payload"], Email)
                plain = msgspec.json.encode(email)
                payload = email_metadata(email)
            else:
                plain = _open(keys, r["key_id"], OUTBOX_PAYLOAD, r["id"], r["nonce"], r["sealed"])
                payload = r["payload"]
            nonce, sealed = seal(current, OUTBOX_PAYLOAD, r["id"], plain)
            updates.append((r["id"], payload, current.key_id, nonce, sealed))
        await c.executemany(
            "UPDATE outbox SET payload = $2, key_id = $3, nonce = $4, sealed = $5 WHERE id = $1", updates
        )
        return len(updates)

    report.documents = await _batches(conn, documents)
    report.outbox_payloads = await _batches(conn, outbox)
    await seal_secrets(conn, keys, batch, report)
    report.remaining = await keys_in_use(conn, exclude=current.key_id)
    return report


async def seal_secrets(
    conn: asyncpg.Connection,
    keys: tuple[DataKey, ...],
    batch: int = DEFAULT_BATCH,
    report: Rotation | None = None,
) -> Rotation:
    """Seal the secrets still in the clear (written before sealing existed, or while no data
    key was set) and re-seal those under an older key: webhook secrets, chat robots, TOTP
    secrets and client ID numbers. Small tables: start-up runs it, so no secret waits for an operator."""
    current = keys[0]
    report = report or Rotation()

    async def webhooks(c: asyncpg.Connection) -> int:
        rows = await c.fetch(
            """
            SELECT id, secret, secret_key_id, secret_nonce, secret_sealed FROM webhooks
            WHERE secret IS NOT NULL OR secret_key_id <> $1
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            current.key_id,
            batch,
        )
        updates = []
        for r in rows:
            if r["secret_sealed"] is None:
                plain = r["secret"].encode()
            else:
                plain = _open(
                    keys, r["secret_key_id"], WEBHOOK_SECRET, r["id"], r["secret_nonce"], r["secret_sealed"]
                )
            nonce, sealed = seal(current, WEBHOOK_SECRET, r["id"], plain)
            updates.append((r["id"], current.key_id, nonce, sealed))
        await c.executemany(
            """
            UPDATE webhooks SET secret = NULL, secret_key_id = $2, secret_nonce = $3, secret_sealed = $4
            WHERE id = $1
            """,
            updates,
        )
        return len(updates)

    async def chats(c: asyncpg.Connection) -> int:
        rows = await c.fetch(
            """
            SELECT id, url, url_key_id, url_sealed, secret, secret_key_id, secret_nonce, secret_sealed
            FROM chat_channels
            WHERE url IS NOT NULL OR url_key_id <> $1 OR secret IS NOT NULL OR secret_key_id <> $1
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            current.key_id,
            batch,
        )
        updates = []
        for r in rows:
            url = r["url"]
            if r["url_sealed"] is not None:
                url = _open_text(keys, r["url_key_id"], CHAT_URL, r["id"], r["url_sealed"])
            url_key_id, url_sealed = seal_text((current,), CHAT_URL, r["id"], url)
            secret_key_id, nonce, sealed = None, None, None
            plain: bytes | None = None
            if r["secret_sealed"] is not None:
                plain = _open(
                    keys, r["secret_key_id"], CHAT_SECRET, r["id"], r["secret_nonce"], r["secret_sealed"]
                )
            elif r["secret"] is not None:
                plain = r["secret"].encode()
            if plain is not None:
                nonce, sealed = seal(current, CHAT_SECRET, r["id"], plain)
                secret_key_id = current.key_id
            updates.append((r["id"], url_key_id, url_sealed, secret_key_id, nonce, sealed))
        await c.executemany(
            """
            UPDATE chat_channels SET url = NULL, url_key_id = $2, url_sealed = $3, secret = NULL,
                secret_key_id = $4, secret_nonce = $5, secret_sealed = $6
            WHERE id = $1
            """,
            updates,
        )
        return len(updates)

    async def totp(c: asyncpg.Connection) -> int:
        rows = await c.fetch(
            """
            SELECT id, totp_secret, totp_key_id, totp_sealed,
                   totp_pending_secret, totp_pending_key_id, totp_pending_sealed
            FROM users
            WHERE (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL
                   OR totp_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL)
              AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL
                   OR totp_key_id <> $1 OR totp_pending_key_id <> $1)
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            current.key_id,
            batch,
        )
        updates: list[tuple[Any, ...]] = []
        for r in rows:
            sealed_pair: list[Any] = []
            for clear, key_id, blob in (
                (r["totp_secret"], r["totp_key_id"], r["totp_sealed"]),
                (r["totp_pending_secret"], r["totp_pending_key_id"], r["totp_pending_sealed"]),
            ):
                secret = clear if blob is None else _open_text(keys, key_id, TOTP_SECRET, r["id"], blob)
                sealed_pair += (
                    [None, None] if secret is None else seal_text((current,), TOTP_SECRET, r["id"], secret)
                )
            updates.append((r["id"], *sealed_pair))
        await c.executemany(
            """
            UPDATE users SET totp_secret = NULL, totp_key_id = $2, totp_sealed = $3,
                totp_pending_secret = NULL, totp_pending_key_id = $4, totp_pending_sealed = $5
            WHERE id = $1
            """,
            updates,
        )
        return len(updates)

    async def client_numbers(c: asyncpg.Connection) -> int:
        # In the clear (written before sealing existed), or under an older key: the digest
        # is recomputed with the seal, under the same key.
        rows = await c.fetch(
            """
            SELECT id, id_number, id_number_key_id, id_number_sealed FROM clients
            WHERE id_number IS NOT NULL OR id_number_key_id <> $1
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            current.key_id,
            batch,
        )
        updates = []
        for r in rows:
            number = r["id_number"]
            if r["id_number_sealed"] is not None:
                number = _open_text(
                    keys, r["id_number_key_id"], CLIENT_ID_NUMBER, r["id"], r["id_number_sealed"]
                )
            updates.append((r["id"], *seal_number((current,), r["id"], number)))
        await c.executemany(
            """
            UPDATE clients SET id_number = NULL, id_number_key_id = $2, id_number_sealed = $3,
                id_number_digest = $4
            WHERE id = $1
            """,
            updates,
        )
        return len(updates)

    report.webhook_secrets += await _batches(conn, webhooks)
    report.chat_channels += await _batches(conn, chats)
    report.totp_secrets += await _batches(conn, totp)
    report.client_id_numbers += await _batches(conn, client_numbers)
    return report


async def keys_in_use(conn: asyncpg.Connection, exclude: str | None = None) -> dict[str, int]:
    """Key id -> how many stored values need it (documents, outbox payloads, webhook and
    chat secrets, chat addresses, TOTP secrets, client ID numbers); a key missing here can
    be removed from the settings."""
    rows = await conn.fetch(
        """
        SELECT key_id, count(*) AS n FROM (
            SELECT key_id FROM documents
            UNION ALL SELECT key_id FROM outbox WHERE key_id IS NOT NULL
            UNION ALL SELECT secret_key_id FROM webhooks WHERE secret_key_id IS NOT NULL
            UNION ALL SELECT url_key_id FROM chat_channels WHERE url_key_id IS NOT NULL
            UNION ALL SELECT secret_key_id FROM chat_channels WHERE secret_key_id IS NOT NULL
            UNION ALL SELECT totp_key_id FROM users WHERE totp_key_id IS NOT NULL
            UNION ALL SELECT totp_pending_key_id FROM users WHERE totp_pending_key_id IS NOT NULL
            UNION ALL SELECT id_number_key_id FROM clients WHERE id_number_key_id IS NOT NULL
        ) AS used
        WHERE $1::text IS NULL OR key_id <> $1
        GROUP BY key_id ORDER BY key_id
        """,
        exclude,
    )
    return {r["key_id"]: r["n"] for r in rows}
