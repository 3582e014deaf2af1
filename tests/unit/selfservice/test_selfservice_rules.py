"""Self-service rules without I/O: the severity a partner's own report opens with, and the
activation gate's certificate condition from the policy."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from vendor_risk.partners.labels import Labels
from vendor_risk.partners.rules import AgreementFact, LifecycleFacts, activation_gate
from vendor_risk.policy import DEFAULT_POLICY
from vendor_risk.selfservice.models import PERSONS_RANGES
from vendor_risk.selfservice.rules import reported_severity

PARTNER = UUID(int=1)


@pytest.mark.parametrize(
    ("persons", "sensitivities", "expected"),
    [
        ("lt_10", ["internal"], "medium"),
        ("100_1000", ["personal"], "medium"),
        ("1000_10000", ["personal"], "high"),
        ("unknown", [], "high"),
        ("lt_10", ["sensitive_personal"], "high"),
        ("1000_10000", ["sensitive_personal", "internal"], "critical"),
        ("unknown", ["sensitive_personal"], "critical"),
        ("gt_10000", [], "critical"),
    ],
)
def test_reported_severity(persons: str, sensitivities: list[str], expected: str) -> None:
    assert reported_severity(persons, sensitivities) == expected


def test_a_partners_report_is_never_low() -> None:
    for persons in PERSONS_RANGES:
        for sensitivities in ([], ["public"], ["personal"], ["sensitive_personal"]):
            assert reported_severity(persons, sensitivities) != "low"


def facts(**kw: Any) -> LifecycleFacts:
    base: dict[str, Any] = {
        "partner_id": PARTNER,
        "status": "onboarding",
        "tier": "critical",
        "has_owner": True,
        "has_primary_contact": True,
        "agreements": (
            AgreementFact(
                id=UUID(int=2), kind="nda", title="NDA", status="in_force", category_ids=frozenset()
            ),
        ),
        "onboarding_assessment_approved_on": date(2026, 11, 1),
        "today": date(2026, 12, 1),
    }
    return LifecycleFacts(**(base | kw))


def test_activation_asks_for_a_certificate_only_where_the_policy_does() -> None:
    assert DEFAULT_POLICY.certificates.activation == {}
    assert activation_gate(facts()) == []
    required = ("iso27001", "mlps_evaluation")
    unmet = activation_gate(facts(required_certificates=required))
    assert [u.code for u in unmet] == ["certificate_missing"]
    assert "ISO/IEC 27001 认证证书、等保测评报告" in Labels("zh-CN").unmet(unmet[0])
    assert "ISO/IEC 27001 certificate" in Labels("en").unmet(unmet[0])
    # Any one of the kinds listed will do; another kind does not.
    assert (
        activation_gate(
            facts(required_certificates=required, valid_certificates=frozenset({"mlps_evaluation"}))
        )
        == []
    )
    still = activation_gate(facts(required_certificates=required, valid_certificates=frozenset({"soc2"})))
    assert [u.code for u in still] == ["certificate_missing"]
