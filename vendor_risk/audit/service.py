"""Writing and verifying the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from vendor_risk.audit.chain import (
    CURRENT_SCHEME,
    GENESIS,
    ChainBreak,
    ChainedEvent,
    ChainVerifier,
    Checkpoint,
    link,
)
from vendor_risk.audit.models import Actor

# One advisory lock id serialises appends so concurrent writers cannot fork the chain.
AUDIT_LOCK_ID = 0x617564697400
# Rows the server-side cursor hands over at a time: memory stays flat however long the chain.
VERIFY_BATCH = 2000


def _plain(value: Any) -> Any:
    """Structs, UUIDs, dates and enums as the JSON that jsonb stores."""
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
    writer always sees this event as its predecessor. ``before`` and ``after`` are turned
    into jsonb text by PostgreSQL first, in the same round trip as reading the head, and
    the hash covers that text: exactly what is stored and read back by verify.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record must run inside the change's transaction")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_ID)
    head = await conn.fetchrow(
        """
        SELECT last.seq, last.hash, $1::jsonb::text AS before, $2::jsonb::text AS after
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON true
        """,
        _plain(before),
        _plain(after),
    )
    seq = 1 if head["seq"] is None else head["seq"] + 1
    prev_hash = GENESIS if head["hash"] is None else head["hash"]
    event = ChainedEvent(
        seq=seq,
        id=str(uuid4()),
        occurred_at=datetime.now(UTC),
        actor_id=str(actor.id) if actor.id else None,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=head["before"],
        after=head["after"],
    )
    await conn.execute(
        """
        INSERT INTO audit_events (seq, id, occurred_at, actor_id, actor_label, action, entity_type,
                                  entity_id, before, after, prev_hash, hash, hash_scheme)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10::text::jsonb, $11, $12, $13)
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
        CURRENT_SCHEME,
    )
    return seq


async def record_many(
    conn: asyncpg.Connection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    events: Sequence[tuple[UUID | str, Any, Any]],
) -> list[int]:
    """Append one event per ``(entity_id, before, after)``, in order, as ``record`` would
    one by one, in two round trips whatever their number: for a sweep's batch.

    Same lock, same canonical jsonb text, same hash: verify cannot tell them apart.
    """
    if not events:
        return []
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record_many must run inside the change's transaction")

    def text(value: Any) -> str | None:
        return None if value is None else msgspec.json.encode(value).decode()

    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_ID)
    rows = await conn.fetch(
        """
        SELECT last.seq, last.hash, e.before::jsonb::text AS before, e.after::jsonb::text AS after
        FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(before, after, ord)
        LEFT JOIN LATERAL (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last ON true
        ORDER BY e.ord
        """,
        [text(before) for _, before, _ in events],
        [text(after) for _, _, after in events],
    )
    head_seq = rows[0]["seq"] or 0
    prev_hash = GENESIS if rows[0]["hash"] is None else rows[0]["hash"]
    inserts = []
    for offset, ((entity_id, _, _), row) in enumerate(zip(events, rows, strict=True), start=1):
        event = ChainedEvent(
            seq=head_seq + offset,
            id=str(uuid4()),
            occurred_at=datetime.now(UTC),
            actor_id=str(actor.id) if actor.id else None,
            actor_label=actor.label,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=row["before"],
            after=row["after"],
        )
        hash_ = link(prev_hash, event)
        inserts.append(
            (
                event.seq,
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
                hash_,
                CURRENT_SCHEME,
            )
        )
        prev_hash = hash_
    await conn.executemany(
        """
        INSERT INTO audit_events (seq, id, occurred_at, actor_id, actor_label, action, entity_type,
                                  entity_id, before, after, prev_hash, hash, hash_scheme)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10::text::jsonb, $11, $12, $13)
        """,
        inserts,
    )
    return [row[0] for row in inserts]


async def _chained_rows(
    conn: asyncpg.Connection, batch: int = VERIFY_BATCH
) -> AsyncIterator[tuple[ChainedEvent, str, str]]:
    """The chain in ``seq`` order through a server-side cursor, ``batch`` rows at a time.

    The caller holds a transaction (a cursor needs one).
    """
    query = """
        SELECT seq, id, occurred_at, actor_id, actor_label, action, entity_type, entity_id,
               before::text AS before, after::text AS after, prev_hash, hash, hash_scheme
        FROM audit_events ORDER BY seq
    """
    async for row in conn.cursor(query, prefetch=batch):
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
            scheme=row["hash_scheme"],
        )
        yield event, row["prev_hash"], row["hash"]


class VerifyReport(msgspec.Struct, kw_only=True):
    """What a verify found: every break (the first ``MAX_REPORTED_BREAKS``) and the counts."""

    events_checked: int
    checkpoints_checked: int
    breaks: list[ChainBreak]
    break_count: int
    head_seq: int = 0

    @property
    def ok(self) -> bool:
        return self.break_count == 0


async def verify_report(
    conn: asyncpg.Connection,
    checkpoints: Sequence[Checkpoint] = (),
    *,
    batch: int = VERIFY_BATCH,
) -> VerifyReport:
    """Walk the whole chain in constant memory, comparing it with ``checkpoints``.

    The checkpoints must have been signature-checked by the caller (see
    ``checkpoints.trusted_checkpoints``). One repeatable-read snapshot: events committed
    meanwhile are not half seen.
    """
    verifier = ChainVerifier(checkpoints)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for event, prev_hash, hash_ in _chained_rows(conn, batch):
            verifier.feed(event, prev_hash, hash_)
    breaks = verifier.finish()
    return VerifyReport(
        events_checked=verifier.checked,
        checkpoints_checked=len(checkpoints),
        breaks=breaks,
        break_count=verifier.break_count,
        head_seq=verifier.head_seq,
    )


async def verify(conn: asyncpg.Connection) -> tuple[int, ChainBreak | None]:
    """Walk the whole chain; return how many events were checked and the first break."""
    report = await verify_report(conn)
    return report.events_checked, (report.breaks[0] if report.breaks else None)
