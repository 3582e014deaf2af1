"""The per-process fallback of the rate limits counts as the Redis script does: fixed
windows, refused at the limit, and a refused request spends nothing."""

from redis.asyncio import Redis

from vendor_risk.hardening import FallbackStore


def _store() -> FallbackStore:
    # Never connected: only the in-process counting is used.
    return FallbackStore(Redis(), namespace="test")


def test_the_first_spent_limit_refuses_and_nothing_is_counted() -> None:
    store = _store()
    limits = [("address", 3), ("token", 2)]
    first = store._spend_here(limits, 60, now=100.0)
    assert first.refused is None
    assert first.windows == [(1, 60_000), (1, 60_000)]
    assert store._spend_here(limits, 60, now=101.0).refused is None
    refused = store._spend_here(limits, 60, now=102.0)
    assert refused.refused == 1
    assert refused.windows == [(2, 58_000), (2, 58_000)]
    # The address was not counted for the refused request: another link still has one left.
    assert store._spend_here([("address", 3), ("other", 2)], 60, now=103.0).refused is None
    assert store._spend_here([("address", 3), ("other", 2)], 60, now=104.0).refused == 0


def test_a_window_ends_and_the_count_starts_again() -> None:
    store = _store()
    assert store._spend_here([("k", 1)], 60, now=0.0).refused is None
    assert store._spend_here([("k", 1)], 60, now=59.0).refused == 0
    again = store._spend_here([("k", 1)], 60, now=60.5)
    assert again.refused is None
    assert again.windows == [(1, 60_000)]
