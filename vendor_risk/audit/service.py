"""Writing and verifying the audit trail.

Events are appended when the change's transaction commits, not when ``record`` is called:
``record`` queues the event on the transaction (see ``AppendAtCommit``) and the outermost
transaction, about to commit, takes the chain's lock, links the queued events to the
head, inserts them and commits. The lock that keeps the chain gap-free in commit order is
so held for the append and the commit only, not for everything the change runs after its
audit call. A change that is one statement can append its event in that statement
(``append_call``), without a transaction block around it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import asyncpg
import msgspec
from asyncpg.transaction import Transaction

from vendor_risk.audit.chain import (
    CURRENT_SCHEME,
    ChainBreak,
    ChainedEvent,
    ChainVerifier,
    Checkpoint,
    canonical_pieces,
)
from vendor_risk.audit.models import Actor

# One advisory lock id serialises appends so concurrent writers cannot fork the chain.
AUDIT_LOCK_ID = 0x617564697400
# Rows the server-side cursor hands over at a time: memory stays flat however long the chain.
VERIFY_BATCH = 2000


class _Queued(NamedTuple):
    """An event waiting for its transaction's commit: everything but its place in the chain.

    ``before`` and ``after`` are JSON text, encoded when the event was recorded so that the
    caller changing its objects afterwards cannot change what is stored.
    """

    id: UUID
    occurred_at: datetime
    actor: Actor
    action: str
    entity_type: str
    entity_id: str
    before: str | None
    after: str | None


class AppendAtCommit(Transaction):  # type: ignore[misc]
    """asyncpg's transaction (or savepoint) block, appending the audit events recorded in
    it when the outermost block commits, just before its COMMIT.

    A block that rolls back (an exception, or ``rollback()``) drops the events recorded
    inside it; a savepoint that is released keeps them for the outer block. The project's
    ``Connection`` (``vendor_risk.db``) hands these out from ``transaction()``.
    """

    __slots__ = ("_mark", "_queue")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._queue: list[_Queued] = []
        self._mark = 0

    def _outermost(self) -> AppendAtCommit:
        top = self._connection._top_xact
        assert isinstance(top, AppendAtCommit)  # noqa: S101 - start() made this block or its parent the top
        return top

    async def start(self) -> None:
        await super().start()
        self._mark = len(self._outermost()._queue) if self._nested else 0

    def _drop_own(self) -> None:
        top = self._connection._top_xact
        if isinstance(top, AppendAtCommit):
            del top._queue[self._mark :]

    async def _append_queued(self) -> None:
        if not self._nested and self._queue:
            queued, self._queue = self._queue, []
            await _append(self._connection, queued)

    async def __aexit__(
        self, extype: type[BaseException] | None, ex: BaseException | None, tb: TracebackType | None
    ) -> None:
        if extype is not None:
            self._drop_own()
        elif self._managed and self._connection._top_xact is self:
            try:
                await self._append_queued()
            except BaseException as error:
                await super().__aexit__(type(error), error, error.__traceback__)
                raise
        await super().__aexit__(extype, ex, tb)

    async def commit(self) -> None:
        if not self._managed and self._connection._top_xact is self:
            await self._append_queued()
        await super().commit()

    async def rollback(self) -> None:
        if not self._managed:
            self._drop_own()
        await super().rollback()


def _json_text(value: Any) -> str | None:
    """Structs, UUIDs, dates and enums as JSON text (PostgreSQL makes it canonical jsonb)."""
    return None if value is None else msgspec.json.encode(value).decode()


def _queued(
    actor: Actor, action: str, entity_type: str, entity_id: UUID | str, before: Any, after: Any, now: datetime
) -> _Queued:
    before_text, after_text = _json_text(before), _json_text(after)
    return _Queued(uuid4(), now, actor, action, entity_type, str(entity_id), before_text, after_text)


def _queue_of(conn: asyncpg.Connection) -> list[_Queued] | None:
    """The outermost ``AppendAtCommit`` block's queue, or None when the transaction was begun
    otherwise (a plain asyncpg connection, ``BEGIN`` run by hand): then events are appended
    at once, holding the lock until that transaction ends."""
    top = getattr(conn, "_top_xact", None)
    return top._queue if isinstance(top, AppendAtCommit) else None


async def record(
    conn: asyncpg.Connection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: UUID | str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Record one event; call it inside the transaction that makes the change.

    The event is appended to the chain when that transaction commits (in the order the
    change recorded its events), or dropped if it rolls back. ``before`` and ``after`` are
    encoded now; PostgreSQL turns them into the jsonb text that the hash covers.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record must run inside the change's transaction")
    event = _queued(actor, action, entity_type, entity_id, before, after, datetime.now(UTC))
    queue = _queue_of(conn)
    if queue is None:
        await _append(conn, [event])
    else:
        queue.append(event)


async def record_many(
    conn: asyncpg.Connection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    events: Sequence[tuple[UUID | str, Any, Any]],
) -> None:
    """Record one event per ``(entity_id, before, after)``, in order, as ``record`` would
    one by one: for a sweep's batch. They are appended with the transaction's other events.
    """
    if not events:
        return
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record_many must run inside the change's transaction")
    now = datetime.now(UTC)
    queued = [_queued(actor, action, entity_type, id_, before, after, now) for id_, before, after in events]
    queue = _queue_of(conn)
    if queue is None:
        await _append(conn, queued)
    else:
        queue.extend(queued)


async def _append(conn: asyncpg.Connection, queued: Sequence[_Queued]) -> None:
    """Link ``queued`` to the chain's head and insert them, in one statement whatever their
    number: ``audit_append`` (migration 0185) takes the chain's lock (held until the
    transaction ends), reads the head in a statement of its own (so, in READ COMMITTED, it
    sees what the previous holder committed), makes the jsonb texts and hashes each event
    from the pieces of its canonical JSON (``chain.canonical_pieces``): exactly the bytes
    verify recomputes from what is stored.
    """
    await conn.fetchval(_APPEND_SQL, *_append_args(queued))


def append_call(first: int) -> str:
    """The ``audit_append`` call with its parameters numbered from ``$first``, for a change
    made and recorded in one statement (``append_args`` gives the parameters). Outside a
    transaction block that statement is its own transaction and holds the chain's lock
    only while it runs; inside one, the lock is held to the block's commit, so the
    statement should be the block's last."""
    return "audit_append(" + ", ".join(f"${first + i}{cast}" for i, cast in enumerate(_APPEND_CASTS)) + ")"


def append_args(
    *, actor: Actor, action: str, entity_type: str, entity_id: UUID | str, before: Any, after: Any
) -> list[Any]:
    """The parameters of ``append_call`` recording one event, as ``record`` would."""
    return _append_args([_queued(actor, action, entity_type, entity_id, before, after, datetime.now(UTC))])


_APPEND_CASTS = (
    "",
    "::text[]",
    "::text[]",
    "::text[]",
    "::text[]",
    "::text[]",
    "::uuid[]",
    "::timestamptz[]",
    "::uuid[]",
    "::text[]",
    "::text[]",
    "::text[]",
    "::text[]",
    "::smallint",
)
_APPEND_SQL = f"SELECT {append_call(1)}"


def _append_args(queued: Sequence[_Queued]) -> list[Any]:
    pieces = []
    for q in queued:
        event = ChainedEvent(
            seq=0,
            id=str(q.id),
            occurred_at=q.occurred_at,
            actor_id=str(q.actor.id) if q.actor.id else None,
            actor_label=q.actor.label,
            action=q.action,
            entity_type=q.entity_type,
            entity_id=q.entity_id,
            before=None,
            after=None,
        )
        pieces.append([piece.decode() for piece in canonical_pieces(event)])
    return [
        AUDIT_LOCK_ID,
        [head for head, _, _ in pieces],
        [middle for _, middle, _ in pieces],
        [tail for _, _, tail in pieces],
        [q.before for q in queued],
        [q.after for q in queued],
        [q.id for q in queued],
        [q.occurred_at for q in queued],
        [q.actor.id for q in queued],
        [q.actor.label for q in queued],
        [q.action for q in queued],
        [q.entity_type for q in queued],
        [q.entity_id for q in queued],
        CURRENT_SCHEME,
    ]


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
