"""The audit hash chain (pure).

``hash = SHA-256(prev_hash || canonical JSON of the event)``. Changing, removing or
inserting any row breaks every hash after it, which ``verify_chain`` reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

GENESIS = "0" * 64


class ChainedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The fields an audit hash covers, in a fixed order."""

    seq: int
    id: str
    occurred_at: datetime
    actor_id: str | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any


_encoder = msgspec.json.Encoder(order="sorted")


def canonical(event: ChainedEvent) -> bytes:
    # Sorted keys and UTC ISO timestamps make the bytes independent of how the row was
    # read back (jsonb reorders object keys).
    return _encoder.encode(event)


def link(prev_hash: str, event: ChainedEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


class ChainBreak(msgspec.Struct, frozen=True):
    seq: int
    reason: str


def verify_chain(
    rows: Iterable[tuple[ChainedEvent, str, str]], start_hash: str = GENESIS, start_seq: int = 0
) -> ChainBreak | None:
    """Check ``(event, prev_hash, hash)`` rows in ``seq`` order; return the first break."""
    expected_prev = start_hash
    expected_seq = start_seq + 1
    for event, prev_hash, hash_ in rows:
        if event.seq != expected_seq:
            return ChainBreak(event.seq, f"sequence gap: expected {expected_seq}")
        if prev_hash != expected_prev:
            return ChainBreak(event.seq, "prev_hash does not match the previous event's hash")
        if link(prev_hash, event) != hash_:
            return ChainBreak(event.seq, "hash does not match the event's content")
        expected_prev = hash_
        expected_seq += 1
    return None
