"""The audit hash chain (pure).

``hash = SHA-256(prev_hash || canonical JSON of the event)``. Changing, removing or
inserting any row breaks the chain at that row, which ``ChainVerifier`` reports; a chain
rewritten and re-hashed from some row on no longer matches the signed checkpoints taken
before the rewrite, and a deleted tail leaves a checkpoint pointing past the head.

Scheme 2 (every new event) hashes ``before`` and ``after`` exactly as PostgreSQL stores
them: the text of the ``jsonb`` value, which PostgreSQL normalises (key order, numbers:
``1e16`` is stored and read back as ``10000000000000000``). Hashing the stored text rather
than the Python value the writer held is what makes the hash survive the round trip.
Scheme 1 (events written before scheme 2) hashed the decoded Python values; it is kept
only so that those events still verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec

GENESIS = "0" * 64
CURRENT_SCHEME = 2
# A chain damaged everywhere would otherwise list millions of breaks; the count goes on.
MAX_REPORTED_BREAKS = 1000


class ChainedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The fields an audit hash covers, in a fixed order.

    ``before`` and ``after`` are the stored ``jsonb`` texts (``None`` for SQL NULL).
    """

    seq: int
    id: str
    occurred_at: datetime
    actor_id: str | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None
    after: str | None
    scheme: int = CURRENT_SCHEME


_encoder = msgspec.json.Encoder(order="sorted")


def _raw(text: str | None) -> msgspec.Raw | None:
    return None if text is None else msgspec.Raw(text.encode())


def _decoded(text: str | None) -> Any:
    return None if text is None else msgspec.json.decode(text)


def canonical(event: ChainedEvent) -> bytes:
    """The bytes an event's hash covers; sorted keys and UTC ISO timestamps."""
    fields: dict[str, Any] = {
        "seq": event.seq,
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
    }
    if event.scheme == 1:
        # Sorted keys make a dict encode exactly as scheme 1's Struct did.
        return _encoder.encode(fields | {"before": _decoded(event.before), "after": _decoded(event.after)})
    return _encoder.encode(
        fields | {"before": _raw(event.before), "after": _raw(event.after), "scheme": event.scheme}
    )


def canonical_pieces(event: ChainedEvent) -> tuple[bytes, bytes, bytes]:
    """``canonical(event)`` of a current-scheme event, but for what only the database knows
    at append time, as ``head + after + middle + before + tail + seq + b"}"``.

    ``audit_append`` (migration 0185) assembles and hashes it once PostgreSQL has made the
    jsonb texts (``null`` for SQL NULL) and the seq is known under the chain's lock. Sorted
    keys put ``after`` and ``before`` between the actor's fields and the entity's, and
    ``seq`` last; ``event.seq``, ``before`` and ``after`` are not read.
    """
    if event.scheme != CURRENT_SCHEME:
        raise ValueError("only events of the current scheme are appended")
    actor = _encoder.encode(
        {"action": event.action, "actor_id": event.actor_id, "actor_label": event.actor_label}
    )
    entity = _encoder.encode(
        {
            "entity_id": event.entity_id,
            "entity_type": event.entity_type,
            "id": event.id,
            "occurred_at": event.occurred_at,
            "scheme": event.scheme,
        }
    )
    return actor[:-1] + b',"after":', b',"before":', b"," + entity[1:-1] + b',"seq":'


def link(prev_hash: str, event: ChainedEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


class ChainBreak(msgspec.Struct, frozen=True):
    """One place where the chain is not what was written: event ``seq`` (to ``until``)."""

    seq: int
    # A stable code (``missing``, ``out_of_sequence``, ``relinked``, ``altered``,
    # ``rewritten``, ``tail_deleted``, ``checkpoint_missing``, ``forged_checkpoint``) for
    # the catalogue's labels; ``reason`` says it in English for the command line.
    code: str
    reason: str
    until: int | None = None

    def describe(self) -> str:
        where = f"events {self.seq}–{self.until}" if self.until is not None else f"event {self.seq}"
        return f"{where}: {self.reason}"


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A signed statement "the chain's head was event ``seq`` with ``hash`` at ``signed_at``"."""

    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    public_key: str
    signature: str


def checkpoint_message(seq: int, hash_: str, signed_at: datetime, key_id: str) -> bytes:
    """The bytes a checkpoint's Ed25519 signature covers."""
    return _encoder.encode({"seq": seq, "hash": hash_, "signed_at": signed_at, "key_id": key_id})


class ChainVerifier:
    """Checks ``(event, prev_hash, hash)`` rows fed in ``seq`` order, in constant memory.

    Every break is reported, not only the first: after a break the verifier goes on from
    the stored hash, so one altered event is one break and the events after it are still
    checked. ``checkpoints`` (already signature-checked) are compared as their event goes
    by; ``finish`` reports those that point past the last event (a deleted tail).
    """

    def __init__(self, checkpoints: Sequence[Checkpoint] = (), start_hash: str = GENESIS, start_seq: int = 0):
        self.checked = 0
        self.breaks: list[ChainBreak] = []
        self.break_count = 0
        self._expected_prev = start_hash
        self._expected_seq = start_seq + 1
        self._last_seq = start_seq
        self._checkpoints: dict[int, list[Checkpoint]] = {}
        for cp in sorted(checkpoints, key=lambda c: c.seq):
            self._checkpoints.setdefault(cp.seq, []).append(cp)
        # The newest checkpoint the chain still matches: a rewrite lies after it.
        self._last_matching = start_seq

    @property
    def head_seq(self) -> int:
        """The last event seen."""
        return self._last_seq

    def _break(self, seq: int, code: str, reason: str, until: int | None = None) -> None:
        self.break_count += 1
        if len(self.breaks) < MAX_REPORTED_BREAKS:
            self.breaks.append(ChainBreak(seq, code, reason, until))

    def feed(self, event: ChainedEvent, prev_hash: str, hash_: str) -> None:
        self.checked += 1
        gap = event.seq > self._expected_seq
        if gap:
            self._break(self._expected_seq, "missing", "missing (deleted, or renumbered)", event.seq - 1)
            for seq in range(self._expected_seq, event.seq):
                for cp in self._checkpoints.pop(seq, []):
                    self._break(
                        seq,
                        "checkpoint_missing",
                        f"missing although the checkpoint signed at {_iso(cp.signed_at)} covers it",
                    )
        if event.seq < self._expected_seq:
            self._break(event.seq, "out_of_sequence", "out of sequence")
        elif not gap and prev_hash != self._expected_prev:
            self._break(
                event.seq,
                "relinked",
                "prev_hash does not match the previous event's hash (inserted or re-linked)",
            )
        if link(prev_hash, event) != hash_:
            self._break(event.seq, "altered", "hash does not match the event's content (altered)")
        for cp in self._checkpoints.pop(event.seq, []):
            if cp.hash == hash_:
                self._last_matching = event.seq
            else:
                self._break(
                    self._last_matching + 1,
                    "rewritten",
                    f"rewritten and re-hashed: event {event.seq}'s hash differs from the checkpoint "
                    f"signed at {_iso(cp.signed_at)}",
                    event.seq,
                )
        self._expected_prev = hash_
        self._expected_seq = max(self._expected_seq, event.seq + 1)
        self._last_seq = max(self._last_seq, event.seq)

    def finish(self) -> list[ChainBreak]:
        """The breaks, including checkpoints beyond the last event (a deleted tail)."""
        if self._checkpoints:
            seq = max(self._checkpoints)
            cp = self._checkpoints[seq][0]
            self._break(
                self._last_seq + 1,
                "tail_deleted",
                f"missing: the checkpoint signed at {_iso(cp.signed_at)} names event {seq} as the head "
                f"but the chain ends at {self._last_seq} (a deleted tail)",
                seq,
            )
        self._checkpoints.clear()
        return self.breaks


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def verify_chain(
    rows: Iterable[tuple[ChainedEvent, str, str]],
    checkpoints: Sequence[Checkpoint] = (),
    start_hash: str = GENESIS,
    start_seq: int = 0,
) -> list[ChainBreak]:
    """Check ``(event, prev_hash, hash)`` rows in ``seq`` order; return every break."""
    verifier = ChainVerifier(checkpoints, start_hash, start_seq)
    for event, prev_hash, hash_ in rows:
        verifier.feed(event, prev_hash, hash_)
    return verifier.finish()
