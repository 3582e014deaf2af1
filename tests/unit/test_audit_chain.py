from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.audit.chain import GENESIS, ChainedEvent, link, verify_chain

T0 = datetime(2026, 1, 1, tzinfo=UTC)


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
        before={"n": seq - 1},
        after={"n": seq, "nested": {"b": 1, "a": [1, 2]}},
    )
    return msgspec.structs.replace(base, **changes)


def chain(n: int) -> list[tuple[ChainedEvent, str, str]]:
    rows = []
    prev = GENESIS
    for seq in range(1, n + 1):
        e = event(seq)
        h = link(prev, e)
        rows.append((e, prev, h))
        prev = h
    return rows


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(10)) is None
    assert verify_chain([]) is None


def test_key_order_does_not_matter() -> None:
    a = event(1, after={"x": 1, "y": 2})
    b = event(1, after={"y": 2, "x": 1})
    assert link(GENESIS, a) == link(GENESIS, b)


@given(
    st.integers(min_value=1, max_value=8), st.sampled_from(["action", "entity_id", "actor_label", "after"])
)
def test_any_altered_row_is_named(position: int, field: str) -> None:
    rows = chain(8)
    e, prev, h = rows[position - 1]
    value: object = {"tampered": True} if field == "after" else "tampered"
    rows[position - 1] = (msgspec.structs.replace(e, **{field: value}), prev, h)
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.seq == position


def test_deleted_row_is_found() -> None:
    rows = chain(5)
    del rows[2]
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.seq == 4


def test_row_inserted_out_of_chain_is_found() -> None:
    rows = chain(3)
    forged = event(4)
    rows.append((forged, "f" * 64, link("f" * 64, forged)))
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.seq == 4
    assert "prev_hash" in broken.reason
