"""Data key rotation: re-seal every document, outbox payload and webhook secret under the
current (first) data key, so that older keys can be removed from the settings.

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

from vendor_risk.documents import DOCUMENT, OUTBOX_PAYLOAD, WEBHOOK_SECRET, seal, unseal
from vendor_risk.notify.outbox import Email, email_metadata
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
    remaining: dict[str, int] = msgspec.field(default_factory=dict)


async def _batches(conn: asyncpg.Connection, step: Callable[[asyncpg.Connection], Awaitable[int]]) -> int:
    total = 0
    while True:
        async with conn.transaction():
            done = await step(conn)
        total += done
        if done == 0:
            return total


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

    report.documents = await _batches(conn, documents)
    report.outbox_payloads = await _batches(conn, outbox)
    report.webhook_secrets = await _batches(conn, webhooks)
    report.remaining = await keys_in_use(conn, exclude=current.key_id)
    return report


async def keys_in_use(conn: asyncpg.Connection, exclude: str | None = None) -> dict[str, int]:
    """Key id -> how many stored values need it (documents, outbox payloads, webhook
    secrets); a key missing here can be removed from the settings."""
    rows = await conn.fetch(
        """
        SELECT key_id, count(*) AS n FROM (
            SELECT key_id FROM documents
            UNION ALL SELECT key_id FROM outbox WHERE key_id IS NOT NULL
            UNION ALL SELECT secret_key_id FROM webhooks WHERE secret_key_id IS NOT NULL
        ) AS used
        WHERE $1::text IS NULL OR key_id <> $1
        GROUP BY key_id ORDER BY key_id
        """,
        exclude,
    )
    return {r["key_id"]: r["n"] for r in rows}
