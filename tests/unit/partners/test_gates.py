"""Lifecycle and scope-approval gates: every unmet condition, at once."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import pytest

from vendor_risk.notify.events import EVENT_TYPES
from vendor_risk.partners.rules import (
    PARTNER_TRANSITIONS,
    SCOPE_TRANSITIONS,
    AgreementFact,
    FindingFact,
    ImpactAssessmentFact,
    LifecycleFacts,
    PartnerStatus,
    ScopeApprovalFacts,
    ScopeFact,
    SubProcessorFact,
    Tier,
    scope_approval_gate,
    transition_gate,
)

TODAY = date(2025, 6, 1)
PARTNER = UUID(int=1)
CAT = UUID(int=10)
OTHER_CAT = UUID(int=11)
SCOPE = UUID(int=20)


def agreement(kind: str = "nda", status: str = "in_force", **kw: Any) -> AgreementFact:
    base: dict[str, Any] = {
        "id": UUID(int=30 + ("nda", "dpa", "msa", "sla").index(kind)),
        "kind": kind,
        "title": f"{kind.upper()} 2025",
        "status": status,
        "category_ids": frozenset({CAT}),
    }
    return AgreementFact(**(base | kw))


def scope_fact(**kw: Any) -> ScopeFact:
    base: dict[str, Any] = {
        "id": SCOPE,
        "status": "requested",
        "category_id": CAT,
        "category_name": "bank statements",
        "sensitivity": "internal",
    }
    return ScopeFact(**(base | kw))


def lifecycle(**kw: Any) -> LifecycleFacts:
    base: dict[str, Any] = {
        "partner_id": PARTNER,
        "status": "onboarding",
        "tier": "high",
        "has_owner": True,
        "has_primary_contact": True,
        "agreements": (agreement("nda"),),
        "scopes": (scope_fact(status="approved"),),
        "onboarding_assessment_approved_on": date(2025, 3, 1),
        "today": TODAY,
    }
    return LifecycleFacts(**(base | kw))


def codes(unmet: list[Any]) -> list[str]:
    return [u.code for u in unmet]


@pytest.mark.parametrize(
    ("label", "facts", "target", "expected"),
    [
        ("everything in place", lifecycle(), "active", []),
        (
            "nothing in place: every condition at once",
            lifecycle(
                has_owner=False,
                has_primary_contact=False,
                agreements=(),
                scopes=(
                    scope_fact(status="requested"),
                    scope_fact(id=UUID(int=21), status="suspended"),
                ),
                unaccepted_critical_findings=(FindingFact(id=UUID(int=40), title="No MFA"),),
                onboarding_assessment_approved_on=None,
            ),
            "active",
            [
                "owner_missing",
                "primary_contact_missing",
                "nda_missing",
                "scope_not_approved",
                "scope_not_approved",
                "critical_finding_open",
                "onboarding_assessment_missing",
            ],
        ),
        (
            "an expiring NDA is still in force",
            lifecycle(agreements=(agreement("nda", "expiring"),)),
            "active",
            [],
        ),
        (
            "an expired, terminated or pending NDA is not",
            lifecycle(
                agreements=(
                    agreement("nda", "expired"),
                    agreement("nda", "terminated"),
                    agreement("nda", "pending"),
                )
            ),
            "active",
            ["nda_missing"],
        ),
        (
            "a DPA is not an NDA",
            lifecycle(agreements=(agreement("dpa"),)),
            "active",
            ["nda_missing"],
        ),
        (
            "revoked and expired scopes do not block",
            lifecycle(
                scopes=(
                    scope_fact(status="revoked"),
                    scope_fact(id=UUID(int=21), status="expired"),
                )
            ),
            "active",
            [],
        ),
        (
            "assessment older than the high tier's 12 months",
            lifecycle(onboarding_assessment_approved_on=date(2024, 5, 31)),
            "active",
            ["onboarding_assessment_stale"],
        ),
        (
            "assessment exactly one cadence old is still good",
            lifecycle(onboarding_assessment_approved_on=date(2024, 6, 1)),
            "active",
            [],
        ),
        (
            "the low tier allows 36 months",
            lifecycle(tier="low", onboarding_assessment_approved_on=date(2022, 7, 1)),
            "active",
            [],
        ),
        ("reinstating a suspended partner", lifecycle(status="suspended"), "active", []),
        (
            "illegal move reported alone",
            lifecycle(status="proposed", agreements=()),
            "active",
            ["illegal_transition"],
        ),
        (
            "offboarded partners stay offboarded",
            lifecycle(status="offboarded"),
            "onboarding",
            ["illegal_transition"],
        ),
        ("start onboarding", lifecycle(status="proposed"), "onboarding", []),
        (
            "onboarding needs an owner and a primary contact",
            lifecycle(status="proposed", has_owner=False, has_primary_contact=False),
            "onboarding",
            ["owner_missing", "primary_contact_missing"],
        ),
        ("suspend", lifecycle(status="active"), "suspended", []),
        ("drop a proposed partner", lifecycle(status="proposed"), "offboarding", []),
        ("offboard an active partner directly", lifecycle(status="active"), "offboarding", []),
        (
            "offboarded without an attestation when data was shared",
            lifecycle(status="offboarding", scopes=(), ever_shared_data=True),
            "offboarded",
            ["offboarding_attestation_missing"],
        ),
        (
            "offboarded with an approved attestation",
            lifecycle(
                status="offboarding",
                scopes=(scope_fact(status="revoked"),),
                ever_shared_data=True,
                offboarding_attestation_approved_on=date(2025, 5, 30),
            ),
            "offboarded",
            [],
        ),
        (
            "no attestation needed when no data was ever shared",
            lifecycle(status="offboarding", scopes=(), ever_shared_data=False),
            "offboarded",
            [],
        ),
        (
            "offboarded with a scope still live",
            lifecycle(status="offboarding", scopes=(scope_fact(status="approved"),)),
            "offboarded",
            ["scope_not_revoked"],
        ),
    ],
)
def test_transition_gate(
    label: str, facts: LifecycleFacts, target: PartnerStatus, expected: list[str]
) -> None:
    assert codes(transition_gate(facts, target)) == expected, label


def test_configured_cadence_applies() -> None:
    facts = lifecycle(tier="critical", onboarding_assessment_approved_on=date(2024, 11, 1))
    assert codes(transition_gate(facts, "active")) == ["onboarding_assessment_stale"]
    cadence: dict[Tier, int] = {"low": 36, "medium": 24, "high": 12, "critical": 12}
    assert transition_gate(facts, "active", cadence=cadence) == []


def test_every_status_has_a_transition_row() -> None:
    for status, targets in PARTNER_TRANSITIONS.items():
        assert status not in targets
    assert PARTNER_TRANSITIONS["offboarded"] == frozenset()


def test_every_scope_status_change_is_an_event_a_webhook_can_subscribe_to() -> None:
    # Each change emits scope.<status>; a name missing from the catalogue reached only "*".
    reached = {to for targets in SCOPE_TRANSITIONS.values() for to in targets}
    assert {f"scope.{to}" for to in reached} <= EVENT_TYPES


def test_unmet_names_entity_and_reads_well() -> None:
    finding = FindingFact(id=UUID(int=40), title="No MFA")
    [unmet] = transition_gate(lifecycle(unaccepted_critical_findings=(finding,)), "active")
    assert unmet.entity_type == "finding"
    assert unmet.entity_id == str(finding.id)
    assert "No MFA" in unmet.message


def approval(**kw: Any) -> ScopeApprovalFacts:
    base: dict[str, Any] = {
        "scope": scope_fact(),
        "partner_id": PARTNER,
        "partner_status": "onboarding",
        "partner_country": "CN",
        "agreements": (agreement("nda"),),
        "today": TODAY,
    }
    return ScopeApprovalFacts(**(base | kw))


def personal(**kw: Any) -> ScopeApprovalFacts:
    base: dict[str, Any] = {
        "scope": scope_fact(sensitivity="personal"),
        "agreements": (agreement("nda"), agreement("dpa")),
        "impact_assessments": (
            ImpactAssessmentFact(id=UUID(int=50), assessed_on=TODAY, outcome="acceptable"),
        ),
    }
    return approval(**(base | kw))


@pytest.mark.parametrize(
    ("label", "facts", "expected"),
    [
        ("internal data under an NDA", approval(), []),
        ("no agreement at all", approval(agreements=()), ["agreement_missing"]),
        (
            "agreement covering another category",
            approval(agreements=(agreement("nda", category_ids=frozenset({OTHER_CAT})),)),
            ["agreement_missing"],
        ),
        (
            "expired agreement",
            approval(agreements=(agreement("msa", "expired"),)),
            ["agreement_missing"],
        ),
        ("personal data, everything in place", personal(), []),
        (
            "personal data with only an NDA and no impact assessment",
            personal(agreements=(agreement("nda"),), impact_assessments=()),
            ["dpa_missing", "impact_assessment_missing"],
        ),
        (
            "personal data, DPA lacking clauses",
            personal(
                agreements=(agreement("dpa", missing_clauses=("period", "return_or_deletion")),),
            ),
            ["dpa_clauses_missing"],
        ),
        (
            "one complete DPA among incomplete ones is enough",
            personal(
                agreements=(
                    agreement("dpa", missing_clauses=("period",)),
                    agreement("dpa", id=UUID(int=99)),
                ),
            ),
            [],
        ),
        (
            "unfavourable impact assessment",
            personal(
                impact_assessments=(
                    ImpactAssessmentFact(id=UUID(int=50), assessed_on=date(2025, 1, 1), outcome="acceptable"),
                    ImpactAssessmentFact(
                        id=UUID(int=51), assessed_on=date(2025, 5, 1), outcome="not_acceptable"
                    ),
                ),
            ),
            ["impact_assessment_unfavourable"],
        ),
        (
            "sensitive personal data without an assessment",
            personal(scope=scope_fact(sensitivity="sensitive_personal")),
            ["assessment_missing"],
        ),
        (
            "sensitive personal data with a low score",
            personal(scope=scope_fact(sensitivity="sensitive_personal"), approved_assessment_score=69.9),
            ["assessment_score_below_threshold"],
        ),
        (
            "sensitive personal data with a score at the threshold",
            personal(scope=scope_fact(sensitivity="sensitive_personal"), approved_assessment_score=70.0),
            [],
        ),
        (
            "sensitive personal data, nothing in place: every condition at once",
            approval(
                scope=scope_fact(sensitivity="sensitive_personal", ends_on=date(2025, 5, 31)),
                partner_status="suspended",
                partner_country="US",
                agreements=(),
                sub_processors=(
                    SubProcessorFact(id=UUID(int=60), name="Hosting", country="SG", approved=False),
                ),
            ),
            [
                "scope_period_ended",
                "partner_not_eligible",
                "agreement_missing",
                "dpa_missing",
                "impact_assessment_missing",
                "assessment_missing",
                "sub_processor_not_approved",
                "cross_border_undeclared",
                "cross_border_undeclared",
            ],
        ),
        (
            "already approved",
            approval(scope=scope_fact(status="approved")),
            ["scope_not_pending"],
        ),
        ("reinstating a suspended scope", approval(scope=scope_fact(status="suspended")), []),
        (
            "sub-processors need no approval when sub-processing is allowed",
            approval(
                scope=scope_fact(sub_processing_allowed=True),
                sub_processors=(
                    SubProcessorFact(id=UUID(int=60), name="Hosting", country="CN", approved=False),
                ),
            ),
            [],
        ),
        (
            "approved sub-processor",
            approval(
                sub_processors=(
                    SubProcessorFact(id=UUID(int=60), name="Hosting", country="CN", approved=True),
                ),
            ),
            [],
        ),
        (
            "foreign partner on a cross-border scope",
            approval(scope=scope_fact(cross_border=True), partner_country="DE"),
            [],
        ),
    ],
)
def test_scope_approval_gate(label: str, facts: ScopeApprovalFacts, expected: list[str]) -> None:
    assert codes(scope_approval_gate(facts)) == expected, label


def test_dpa_missing_clauses_are_named() -> None:
    facts = personal(agreements=(agreement("dpa", missing_clauses=("period", "return_or_deletion")),))
    [unmet] = scope_approval_gate(facts)
    assert unmet.entity_type == "agreement"
    assert unmet.message.endswith("period of processing, return or deletion at the end")


def test_score_threshold_is_configurable() -> None:
    facts = personal(scope=scope_fact(sensitivity="sensitive_personal"), approved_assessment_score=75.0)
    assert scope_approval_gate(facts) == []
    assert codes(scope_approval_gate(facts, score_threshold=80)) == ["assessment_score_below_threshold"]


def test_unmet_encodes_to_json() -> None:
    unmet = scope_approval_gate(approval(agreements=()))
    assert msgspec.json.decode(msgspec.json.encode(unmet)) == [
        {
            "code": "agreement_missing",
            "message": "no agreement in force covers bank statements",
            "entity_type": "scope",
            "entity_id": str(SCOPE),
            "params": {"category": "bank statements", "category_id": str(CAT)},
        }
    ]
