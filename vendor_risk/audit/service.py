"""Writing and verifying the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from vendor_risk.audit.chain import GENESIS, ChainBreak, ChainedEvent, link, verify_chain
from vendor_risk.audit.models import Actor

# One advisory lock id serialises appends so concurrent writers cannot fork the chain.
AUDIT_LOCK_ID = 0x617564697400


def _plain(value: Any) -> Any:
    """Structs, UUIDs, dates and enums as the JSON the chain hashes and jsonb stores."""
    if value is None:
        return None
    return msgspec.json.decode(msgspec.json.encode(value))


async def record(
    conn: asyncpg.Connection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: UUID | str,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one event; call it inside the transaction that makes the change.

    The lock is transaction-scoped, so it is held until the change commits: the next
    writer always sees this event as its predecessor.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record must run inside the change's transaction")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_ID)
    last = await conn.fetchrow("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    seq = 1 if last is None else last["seq"] + 1
    prev_hash = GENESIS if last is None else last["hash"]
    event = ChainedEvent(
        seq=seq,
        id=str(uuid4()),
        occurred_at=datetime.now(UTC),
        actor_id=str(actor.id) if actor.id else None,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_plain(before),
        after=_plain(after),
    )
    await conn.execute(
        """
        INSERT INTO audit_events (seq, id, occurred_at, actor_id, actor_label, action,
                                  entity_type, entity_id, before, after, prev_hash, hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        """,
        seq,
        UUID(event.id),
        event.occurred_at,
        actor.id,
        event.actor_label,
        action,
        entity_type,
        event.entity_id,
        event.before,
        event.after,
        prev_hash,
        link(prev_hash, event),
    )
    return seq


async def _chained_rows(
    conn: asyncpg.Connection, batch: int = 5000
) -> AsyncIterator[tuple[ChainedEvent, str, str]]:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor("SELECT * FROM audit_events ORDER BY seq", prefetch=batch):
            event = ChainedEvent(
                seq=row["seq"],
                id=str(row["id"]),
                occurred_at=row["occurred_at"].astimezone(UTC),
                actor_id=str(row["actor_id"]) if row["actor_id"] else None,
                actor_label=row["actor_label"],
                action=row["action"],
                entity_type=row["entity_type"],
                entity_id=row["entity_id"],
                before=row["before"],
                after=row["after"],
            )
            yield event, row["prev_hash"], row["hash"]


async def verify(conn: asyncpg.Connection) -> tuple[int, ChainBreak | None]:
    """Walk the whole chain; return how many events were checked and the first break."""
    rows = [item async for item in _chained_rows(conn)]
    return len(rows), verify_chain(rows)
