"""Pure rules of self-service (no I/O), unit-tested in ``tests/unit/selfservice``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from vendor_risk.incidents.playbook import Severity

# Ranges from "at least this many persons"; "unknown" counts as many.
_AT_LEAST_1000: Final = frozenset({"1000_10000", "gt_10000", "unknown"})


def reported_severity(persons: str, sensitivities: Iterable[str]) -> Severity:
    """The severity a partner's own leak report opens with, before a risk owner looks:

    - critical: more than 10,000 persons, or sensitive personal information (PIPL art. 28)
      of 1,000 or more (or of an unknown number);
    - high: any sensitive personal information, or 1,000 persons or more, or a number the
      partner does not know;
    - medium: anything else. A leak the partner itself reports is never ``low``.
    """
    sensitive = "sensitive_personal" in set(sensitivities)
    many = persons in _AT_LEAST_1000
    if persons == "gt_10000" or (sensitive and many):
        return "critical"
    if sensitive or many:
        return "high"
    return "medium"
