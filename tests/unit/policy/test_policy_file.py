"""The policy file: shipped defaults, validation naming the path and key, and the rules
reading it (gates, tiers, rating, reminders, questionnaire mapping, approval rules)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID

import msgspec
import pytest

from vendor_risk.assessments.rules import default_questionnaires, rate, reminder_due
from vendor_risk.partners.rules import (
    LifecycleFacts,
    ScopeApprovalFacts,
    ScopeFact,
    activation_gate,
    compute_tier,
    scope_approval_gate,
)
from vendor_risk.policy import (
    DEFAULT_POLICY,
    PolicyError,
    PolicyFile,
    approval_rule,
    load_policy,
    needs_certificate,
    parse_policy,
    shipped_policy,
    shipped_policy_path,
)
from vendor_risk.settings import SettingsError, load_settings


def rules_of(policy: PolicyFile) -> object:
    return msgspec.to_builtins({name: getattr(policy, name) for name in PolicyFile.__struct_fields__})


def test_the_shipped_file_holds_exactly_the_built_in_defaults() -> None:
    shipped = shipped_policy()
    assert rules_of(shipped) == rules_of(DEFAULT_POLICY)
    assert shipped.source == str(shipped_policy_path())
    assert len(shipped.sha256) == 64
    # Settings without a policy file use it.
    assert load_settings({}).policy.sha256 == shipped.sha256


def test_a_partial_file_keeps_the_other_defaults_and_is_versioned_by_its_bytes() -> None:
    one = parse_policy(b"cadence_months: {low: 48, medium: 24, high: 12, critical: 3}\n", "firm.yaml")
    assert one.cadence_months["critical"] == 3
    assert one.scope_approval.score_threshold == 70
    two = parse_policy(b"cadence_months: {low: 48, medium: 24, high: 12, critical: 3}  \n", "firm.yaml")
    assert one.sha256 != two.sha256


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tiers:\n  thresholds: {medium: 5, high: 9, critical: 13}\n  bogus: 1\n",
            "tiers: unknown field `bogus`",
        ),
        ("scope_approval:\n  score_threshold: high\n", "scope_approval.score_threshold: expected `float`"),
        ("tiers:\n  thresholds: {medium: 9, high: 5, critical: 13}\n", "tiers.thresholds: must rise"),
        ("cadence_months: {low: 36, medium: 24, high: 12}\n", "cadence_months: missing critical"),
        (
            "cadence_months: {low: 36, medium: 24, high: 12, critical: 0}\n",
            "cadence_months.critical: must be",
        ),
        ("assessments:\n  reminder_days: [7, 7]\n", "assessments.reminder_days: must be distinct"),
        (
            "questionnaires:\n  by_tier:\n    low: {all: [Lite Screening]}\n",
            "questionnaires.by_tier: missing medium",
        ),
        (
            "questionnaires:\n  by_tier:\n    low: {gardening: [x]}\n",
            "questionnaires.by_tier: invalid enum value 'gardening' (a key)",
        ),
        (
            "approvals:\n  - {id: a, decision: scope_approval, tiers: [critical]}\n",
            "approvals[0].tiers: does not apply to a scope_approval decision",
        ),
        ("second_factor_roles: [admin, janitor]\n", "second_factor_roles[1]"),
        ("tiers: [1, 2\n", "line 2"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text.encode(), "/etc/vendor-risk/policy.yaml")
    assert str(refused.value).startswith("/etc/vendor-risk/policy.yaml: ")
    assert message in str(refused.value)


def test_a_bad_policy_file_stops_start_up_naming_the_variable_and_path(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rating:\n  strong: 90\n", encoding="utf-8")
    expected = rf"VENDOR_RISK_POLICY_FILE: {path}: rating: unknown field `strong`"
    with pytest.raises(SettingsError, match=expected):
        load_settings({"VENDOR_RISK_POLICY_FILE": str(path)})
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({"VENDOR_RISK_POLICY_FILE": str(tmp_path / "missing.yaml")})
    path.write_text("rating:\n  strong_score: 90\n", encoding="utf-8")
    settings = load_settings({"VENDOR_RISK_POLICY_FILE": str(path)})
    assert settings.policy.rating.strong_score == 90
    assert settings.policy.source == str(path)
    assert settings.policy == load_policy(path)


SCOPE = ScopeFact(
    id=UUID(int=1),
    status="requested",
    category_id=UUID(int=2),
    category_name="payroll",
    sensitivity="sensitive_personal",
)


def test_the_policy_moves_gates_tiers_and_ratings() -> None:
    strict = parse_policy(
        b"scope_approval: {score_threshold: 90, home_country: HK}\n"
        b"tiers:\n  thresholds: {medium: 2, high: 4, critical: 6}\n"
        b"rating: {strong_score: 95, adequate_score: 90, weak_score: 60, high_findings_for_high: 1}\n",
        "strict.yaml",
    )
    facts = ScopeApprovalFacts(
        scope=SCOPE,
        partner_id=UUID(int=3),
        partner_status="onboarding",
        partner_country="CN",
        approved_assessment_score=80,
        today=date(2026, 1, 1),
    )
    shipped = {u.code for u in scope_approval_gate(facts)}
    assert "assessment_score_below_threshold" not in shipped
    assert "cross_border_undeclared" not in shipped
    refused = {u.code for u in scope_approval_gate(facts, policy=strict.scope_approval)}
    assert {"assessment_score_below_threshold", "cross_border_undeclared"} <= refused
    assert compute_tier("low", [SCOPE]).tier == "medium"
    assert compute_tier("low", [SCOPE], strict.tiers).tier == "critical"
    assert rate("medium", 88, {}).level == "low"
    assert rate("medium", 88, {}, strict.rating).level == "high"


def test_the_cadence_of_the_policy_decides_whether_an_onboarding_assessment_is_stale() -> None:
    facts = LifecycleFacts(
        partner_id=UUID(int=3),
        status="onboarding",
        tier="critical",
        has_owner=True,
        has_primary_contact=True,
        onboarding_assessment_approved_on=date(2025, 9, 1),
        today=date(2026, 1, 1),
    )
    assert "onboarding_assessment_stale" not in {u.code for u in activation_gate(facts)}
    quarterly = parse_policy(b"cadence_months: {low: 36, medium: 24, high: 12, critical: 3}\n", "q.yaml")
    codes = {u.code for u in activation_gate(facts, cadence=quarterly.cadence_months)}
    assert "onboarding_assessment_stale" in codes


def test_reminders_follow_the_policy_offsets() -> None:
    due = date(2026, 1, 20)
    assert reminder_due(due, date(2026, 1, 6)) is None
    assert reminder_due(due, date(2026, 1, 6), (14, 2)) == 14


def test_the_mapping_picks_questionnaires_by_tier_and_service_type() -> None:
    mapping = DEFAULT_POLICY.questionnaires
    assert default_questionnaires("medium", "onboarding", ["cloud_saas"], mapping) == (
        "lite-screening",
        "service-controls",
    )
    assert default_questionnaires("low", "onboarding", ["other"], mapping) == ("lite-screening",)
    custom = parse_policy(
        b"questionnaires:\n  by_tier:\n"
        b"    low: {all: [lite-screening], cloud_saas: [cloud-extra]}\n"
        b"    medium: {all: [baseline-security]}\n"
        b"    high: {all: [baseline-security]}\n"
        b"    critical: {all: [baseline-security]}\n",
        "custom.yaml",
    )
    assert default_questionnaires("low", "periodic", ["cloud_saas"], custom.questionnaires) == (
        "lite-screening",
        "cloud-extra",
    )
    assert default_questionnaires("medium", "periodic", ["cloud_saas"], custom.questionnaires) == (
        "baseline-security",
    )
    assert default_questionnaires("high", "offboarding", [], custom.questionnaires) == (
        "offboarding-attestation",
    )


def test_approval_rules_and_certificates_read_the_policy() -> None:
    rules = DEFAULT_POLICY.approvals
    rule = approval_rule(rules, "partner_activation", tier="critical")
    assert rule is not None
    assert rule.id == "critical-partner-activation"
    assert approval_rule(rules, "partner_activation", tier="high") is None
    assert approval_rule(rules, "scope_approval", sensitivity="sensitive_personal") is not None
    assert approval_rule(rules, "scope_approval", sensitivity="personal") is None
    assert approval_rule(rules, "risk_acceptance", severity="critical") is not None
    assert approval_rule(rules, "risk_acceptance", severity="high") is None
    assert approval_rule((), "risk_acceptance", severity="critical") is None
    assert needs_certificate(DEFAULT_POLICY.certificates, "low", ["cloud_saas"])
    assert needs_certificate(DEFAULT_POLICY.certificates, "high", [])
    assert not needs_certificate(DEFAULT_POLICY.certificates, "medium", ["printing"])
    assert DEFAULT_POLICY.second_factor_roles == ("admin", "risk_owner")
