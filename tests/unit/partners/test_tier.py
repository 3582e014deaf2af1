"""Tier (inherent risk) and reassessment cadence."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.partners.rules import (
    CRITICALITIES,
    SENSITIVITIES,
    VOLUME_BANDS,
    Criticality,
    ProcessingMethod,
    ScopeFact,
    ScopeStatus,
    Sensitivity,
    VolumeBand,
    add_months,
    cadence_months,
    compute_tier,
    reassessment_due_on,
    tier_rank,
)

CAT = UUID(int=100)


def scope(
    n: int = 1,
    *,
    sensitivity: Sensitivity = "internal",
    volume: VolumeBand = "under_1k",
    methods: tuple[ProcessingMethod, ...] = ("process",),
    cross_border: bool = False,
    sub_processing: bool = False,
    status: ScopeStatus = "approved",
) -> ScopeFact:
    return ScopeFact(
        id=UUID(int=n),
        status=status,
        category_id=CAT,
        category_name=f"category {n}",
        sensitivity=sensitivity,
        volume_band=volume,
        processing_methods=frozenset(methods),
        cross_border=cross_border,
        sub_processing_allowed=sub_processing,
    )


# Realistic partners of a bookkeeping agency and the tier a risk owner would expect.
@pytest.mark.parametrize(
    ("label", "criticality", "scopes", "tier", "points"),
    [
        ("no scopes, low criticality", "low", [], "low", 0),
        ("critical partner without data", "critical", [], "medium", 5),
        (
            "courier carrying contracts",
            "medium",
            [scope(sensitivity="confidential", methods=("transmit",))],
            "low",
            3,
        ),
        (
            "printer of invoices",
            "low",
            [scope(sensitivity="confidential", volume="1k_10k")],
            "low",
            4,
        ),
        (
            "IT outsourcer with remote access to internal data",
            "high",
            [scope(sensitivity="internal", methods=("access_remotely",))],
            "medium",
            6,
        ),
        (
            "payroll processor",
            "high",
            [scope(sensitivity="personal", volume="10k_100k")],
            "high",
            10,
        ),
        (
            "cloud accounting software storing bank statements",
            "critical",
            [
                scope(
                    sensitivity="sensitive_personal",
                    volume="100k_1m",
                    methods=("store", "process"),
                    sub_processing=True,
                )
            ],
            "critical",
            17,
        ),
        (
            "revoked and expired scopes do not count",
            "low",
            [
                scope(1, sensitivity="sensitive_personal", status="revoked"),
                scope(2, sensitivity="sensitive_personal", status="expired"),
            ],
            "low",
            0,
        ),
        (
            "a suspended scope still counts: the data is still there",
            "low",
            [scope(sensitivity="sensitive_personal", volume="over_1m", status="suspended")],
            "high",
            11,
        ),
        (
            "a requested scope counts before approval",
            "medium",
            [scope(sensitivity="personal", volume="1k_10k", cross_border=True, status="requested")],
            "high",
            9,
        ),
    ],
)
def test_tier_table(
    label: str, criticality: Criticality, scopes: list[ScopeFact], tier: str, points: int
) -> None:
    result = compute_tier(criticality, scopes)
    assert (result.tier, result.points) == (tier, points), label
    assert sum(f.points for f in result.factors) == result.points


def test_factors_name_the_scope_and_attribute_that_moved_the_tier() -> None:
    small_sensitive = scope(1, sensitivity="sensitive_personal")
    big_public = scope(2, sensitivity="public", volume="over_1m", methods=("store",))
    result = compute_tier("high", [big_public, small_sensitive])
    # Scope by scope: a small sensitive scope and a large public one are not combined.
    assert [(f.code, f.value, f.points, f.scope_id) for f in result.factors] == [
        ("business_criticality", "high", 3, None),
        ("sensitivity", "sensitive_personal", 6, small_sensitive.id),
        ("processing_method", "process", 1, small_sensitive.id),
    ]
    assert result.tier == "high"


def test_most_exposing_processing_method_counts() -> None:
    result = compute_tier("low", [scope(methods=("transmit", "store", "process"))])
    assert ("processing_method", "store", 2) in [(f.code, f.value, f.points) for f in result.factors]


def test_same_input_same_factors_whatever_the_order() -> None:
    a = scope(1, sensitivity="personal")
    b = scope(2, sensitivity="personal")
    assert compute_tier("low", [a, b]) == compute_tier("low", [b, a])


scopes_strategy = st.lists(
    st.builds(
        scope,
        st.integers(1, 50),
        sensitivity=st.sampled_from(SENSITIVITIES),
        volume=st.sampled_from(VOLUME_BANDS),
        methods=st.lists(
            st.sampled_from(["store", "process", "access_remotely", "transmit"]), max_size=4
        ).map(tuple),
        cross_border=st.booleans(),
        sub_processing=st.booleans(),
        status=st.sampled_from(["requested", "approved", "suspended", "revoked", "expired"]),
    ),
    max_size=6,
)


@given(st.sampled_from(CRITICALITIES), scopes_strategy, st.data())
def test_tier_is_monotone_in_sensitivity(
    criticality: Criticality, scopes: list[ScopeFact], data: st.DataObject
) -> None:
    if not scopes:
        return
    i = data.draw(st.integers(0, len(scopes) - 1))
    current = SENSITIVITIES.index(scopes[i].sensitivity)
    raised = SENSITIVITIES[data.draw(st.integers(current, len(SENSITIVITIES) - 1))]
    changed = list(scopes)
    changed[i] = msgspec.structs.replace(scopes[i], sensitivity=raised)
    before, after = compute_tier(criticality, scopes), compute_tier(criticality, changed)
    assert tier_rank(after.tier) >= tier_rank(before.tier)
    assert after.points >= before.points


@given(st.sampled_from(CRITICALITIES), st.sampled_from(CRITICALITIES), scopes_strategy)
def test_tier_is_monotone_in_criticality(a: Criticality, b: Criticality, scopes: list[ScopeFact]) -> None:
    low, high = sorted((a, b), key=CRITICALITIES.index)
    assert tier_rank(compute_tier(high, scopes).tier) >= tier_rank(compute_tier(low, scopes).tier)


@given(st.sampled_from(CRITICALITIES), scopes_strategy, scopes_strategy)
def test_adding_scopes_never_lowers_the_tier(
    criticality: Criticality, scopes: list[ScopeFact], more: list[ScopeFact]
) -> None:
    before = compute_tier(criticality, scopes)
    after = compute_tier(criticality, scopes + more)
    assert tier_rank(after.tier) >= tier_rank(before.tier)
    assert sum(f.points for f in after.factors) == after.points


@pytest.mark.parametrize(
    ("tier", "cadence", "months"),
    [
        ("low", None, 36),
        ("medium", None, 24),
        ("high", None, 12),
        ("critical", None, 6),
        ("critical", {"low": 24, "medium": 12, "high": 6, "critical": 3}, 3),
    ],
)
def test_cadence(tier: str, cadence: dict[str, int] | None, months: int) -> None:
    assert cadence_months(tier, cadence) == months  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 8, 15), 6, date(2025, 2, 15)),
        (date(2024, 12, 1), 36, date(2027, 12, 1)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_reassessment_due_follows_the_tier() -> None:
    assert reassessment_due_on(date(2025, 3, 10), "high") == date(2026, 3, 10)
    assert reassessment_due_on(date(2025, 3, 10), "critical") == date(2025, 9, 10)
