"""Agreement status from dates and the PIPL art. 21 checklist."""

from __future__ import annotations

from datetime import date

import pytest

from vendor_risk.partners.rules import (
    ART21_CLAUSES,
    agreement_status,
    missing_art21_clauses,
    period_problem,
)

TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("effective_from", "expires_on", "terminated", "window", "expected"),
    [
        (date(2025, 1, 1), None, False, 60, "in_force"),
        (date(2025, 1, 1), date(2026, 1, 1), False, 60, "in_force"),
        (date(2025, 1, 1), date(2025, 7, 31), False, 60, "expiring"),
        (date(2025, 1, 1), date(2025, 8, 1), False, 60, "in_force"),
        (date(2025, 1, 1), date(2025, 6, 1), False, 60, "expiring"),
        (date(2025, 1, 1), date(2025, 5, 31), False, 60, "expired"),
        (date(2025, 1, 1), date(2025, 7, 31), False, 30, "in_force"),
        (date(2025, 6, 2), date(2026, 1, 1), False, 60, "pending"),
        (date(2025, 6, 1), None, False, 60, "in_force"),
        (date(2025, 1, 1), None, True, 60, "terminated"),
        (date(2025, 1, 1), date(2025, 5, 31), True, 60, "terminated"),
    ],
)
def test_agreement_status(
    effective_from: date, expires_on: date | None, terminated: bool, window: int, expected: str
) -> None:
    status = agreement_status(
        effective_from=effective_from,
        expires_on=expires_on,
        terminated=terminated,
        today=TODAY,
        expiring_within_days=window,
    )
    assert status == expected


@pytest.mark.parametrize(
    ("kind", "clauses", "missing"),
    [
        ("dpa", ART21_CLAUSES, ()),
        ("dpa", (), ART21_CLAUSES),
        (
            "dpa",
            tuple(c for c in ART21_CLAUSES if c not in ("period", "return_or_deletion")),
            ("period", "return_or_deletion"),
        ),
        ("nda", (), ()),
        ("msa", ("purpose",), ()),
    ],
)
def test_missing_art21_clauses(kind: str, clauses: tuple[str, ...], missing: tuple[str, ...]) -> None:
    assert missing_art21_clauses(kind, clauses) == missing  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        (date(2025, 1, 1), date(2025, 1, 1), None),
        (date(2025, 1, 1), None, None),
        (None, date(2025, 1, 1), None),
        (date(2025, 1, 2), date(2025, 1, 1), "must not be before 2025-01-02"),
    ],
)
def test_period_problem(start: date | None, end: date | None, problem: str | None) -> None:
    assert period_problem(start, end) == problem
