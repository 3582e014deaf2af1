from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.audit.chain import (
    GENESIS,
    ChainedEvent,
    Checkpoint,
    canonical,
    canonical_pieces,
    link,
    verify_chain,
)
from vendor_risk.audit.checkpoints import screen, sign
from vendor_risk.settings import SigningKey

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = SigningKey("k1", b"\x01" * 32)


def event(seq: int, **changes: object) -> ChainedEvent:
    base = ChainedEvent(
        seq=seq,
        id=f"00000000-0000-0000-0000-{seq:012d}",
        occurred_at=T0 + timedelta(seconds=seq),
        actor_id=None,
        actor_label="system",
        action="thing.changed",
        entity_type="thing",
        entity_id=str(seq),
        before=f'{{"n": {seq - 1}}}',
        after=f'{{"n": {seq}, "nested": {{"a": [1, 2], "b": 1}}}}',
    )
    return msgspec.structs.replace(base, **changes)


Row = tuple[ChainedEvent, str, str]


def chain(n: int, first: int = 1) -> list[Row]:
    rows = []
    prev = GENESIS
    for seq in range(first, n + 1):
        e = event(seq)
        h = link(prev, e)
        rows.append((e, prev, h))
        prev = h
    return rows


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(10)) == []
    assert verify_chain([]) == []


def test_scheme_1_events_hash_the_decoded_values() -> None:
    # Events written before scheme 2 hashed the Python values: key order is irrelevant.
    a = event(1, before=None, after='{"x": 1, "y": 2}', scheme=1)
    b = event(1, before=None, after='{"y":2,"x":1}', scheme=1)
    assert link(GENESIS, a) == link(GENESIS, b)


def test_scheme_2_hashes_the_stored_text() -> None:
    # What PostgreSQL hands back for 1e16 is the stored value; it is what is hashed.
    stored = event(1, after='{"answer": 10000000000000000}')
    assert link(GENESIS, stored) != link(GENESIS, event(1, after='{"answer": 1e16}'))
    assert verify_chain([(stored, GENESIS, link(GENESIS, stored))]) == []


@given(
    st.integers(min_value=1, max_value=8), st.sampled_from(["action", "entity_id", "actor_label", "after"])
)
def test_any_altered_row_is_named(position: int, field: str) -> None:
    rows = chain(8)
    e, prev, h = rows[position - 1]
    value: object = '{"tampered": true}' if field == "after" else "tampered"
    rows[position - 1] = (msgspec.structs.replace(e, **{field: value}), prev, h)
    breaks = verify_chain(rows)
    # Exactly the altered event: the chain goes on from its stored hash.
    assert [(b.seq, b.code) for b in breaks] == [(position, "altered")]


def test_every_break_is_reported_not_only_the_first() -> None:
    rows = chain(10)
    for position in (2, 7):
        e, prev, h = rows[position - 1]
        rows[position - 1] = (msgspec.structs.replace(e, actor_label="x"), prev, h)
    del rows[4]  # event 5
    breaks = verify_chain(rows)
    assert [(b.seq, b.until, b.code) for b in breaks] == [
        (2, None, "altered"),
        (5, 5, "missing"),
        (7, None, "altered"),
    ]
    assert breaks[1].describe() == "events 5–5: missing (deleted, or renumbered)"


def test_deleted_rows_are_named_as_a_range() -> None:
    rows = chain(8)
    del rows[2:5]  # events 3, 4, 5
    [gap] = verify_chain(rows)
    assert (gap.seq, gap.until, gap.code) == (3, 5, "missing")


def test_row_inserted_out_of_chain_is_found() -> None:
    rows = chain(3)
    forged = event(4)
    rows.append((forged, "f" * 64, link("f" * 64, forged)))
    [broken] = verify_chain(rows)
    assert broken.seq == 4
    assert broken.code == "relinked"
    assert "prev_hash" in broken.reason


def checkpoint_at(rows: list[Row], seq: int) -> Checkpoint:
    return sign(KEY, seq, rows[seq - 1][2], T0 + timedelta(hours=seq))


def test_a_deleted_tail_is_caught_by_a_checkpoint() -> None:
    rows = chain(8)
    checkpoint = checkpoint_at(rows, 8)
    assert verify_chain(rows, [checkpoint]) == []
    [tail] = verify_chain(rows[:6], [checkpoint])
    assert (tail.seq, tail.until, tail.code) == (7, 8, "tail_deleted")


def rehash(rows: list[Row], start: int) -> list[Row]:
    """What someone with write access does: change event ``start`` and re-link the rest."""
    out = rows[: start - 1]
    prev = out[-1][2] if out else GENESIS
    for e, _, _ in rows[start - 1 :]:
        changed = msgspec.structs.replace(e, after='{"n": -1}') if e.seq == start else e
        h = link(prev, changed)
        out.append((changed, prev, h))
        prev = h
    return out


def test_a_rehashed_chain_is_caught_between_checkpoints() -> None:
    rows = chain(12)
    checkpoints = [checkpoint_at(rows, 3), checkpoint_at(rows, 6), checkpoint_at(rows, 9)]
    forged = rehash(rows, 5)
    assert verify_chain(forged) == []  # on its own, a re-hashed chain is consistent
    breaks = verify_chain(forged, checkpoints)
    # Checkpoint 3 still matches, 6 does not: the rewrite is in events 4–6 (and 9 also differs).
    assert [(b.seq, b.until, b.code) for b in breaks] == [(4, 6, "rewritten"), (4, 9, "rewritten")]


def test_forged_checkpoints_are_refused() -> None:
    rows = chain(3)
    good = checkpoint_at(rows, 3)
    tampered = msgspec.structs.replace(good, seq=2)
    other = sign(SigningKey("evil", b"\x02" * 32), 3, rows[2][2], T0)
    trusted, bad = screen([good, tampered, other], {good.public_key})
    # Altered: a break. Properly signed by a key not trusted (a retired one): left out.
    assert trusted == [good]
    assert [(b.seq, b.code) for b in bad] == [(2, "forged_checkpoint")]
    assert screen([other], {good.public_key, other.public_key})[0] == [other]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_chain_checked_from_a_later_start(count: int) -> None:
    rows = chain(5)
    start_seq = 5 - count
    start_hash = rows[start_seq - 1][2] if start_seq else GENESIS
    assert verify_chain(rows[start_seq:], start_hash=start_hash, start_seq=start_seq) == []


@given(
    # event() dates each event seq seconds after T0: at most ~300 years on.
    seq=st.integers(min_value=1, max_value=10**10),
    label=st.text(),
    entity_id=st.text(),
    actor_id=st.none() | st.uuids().map(str),
    before=st.none() | st.sampled_from(['{"n": 1}', '"名\\"值"', "[]", "null"]),
    after=st.none() | st.sampled_from(['{"a": {"b": [1, 2.5]}}', "10000000000000000", '"\\u00e9"']),
)
def test_the_pieces_the_database_hashes_are_the_canonical_json(
    seq: int, label: str, entity_id: str, actor_id: str | None, before: str | None, after: str | None
) -> None:
    # audit_append (migration 0185) hashes head || after || middle || before || tail || seq || '}'.
    e = event(seq, actor_label=label, entity_id=entity_id, actor_id=actor_id, before=before, after=after)
    head, middle, tail = canonical_pieces(e)

    def text(value: str | None) -> bytes:
        return b"null" if value is None else value.encode()

    assert head + text(after) + middle + text(before) + tail + str(seq).encode() + b"}" == canonical(e)
    with pytest.raises(ValueError, match="current scheme"):
        canonical_pieces(msgspec.structs.replace(e, scheme=1))
