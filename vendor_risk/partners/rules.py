"""Pure rules of the partner registry: legal ids, lifecycle, tier, agreements and gates.

Nothing here does I/O. The services gather plain facts (msgspec Structs) in one query and
ask these functions what follows; every refusal lists *all* unmet conditions so a user
fixes them in one pass instead of discovering them one at a time.

Facts that belong to the assessments domain (approved onboarding assessment, score of the
latest approved assessment, offboarding attestation) are already fields of the facts
Structs. Until that domain fills them they are ``None``, which means "no such assessment"
and counts as unmet: the rules never pretend an assessment exists.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final, Literal, get_args
from uuid import UUID

import msgspec

# The vocabularies the policy speaks of live with it; they are re-exported from here.
from vendor_risk.policy import DEFAULT_POLICY, ScopeApprovalPolicy, TierPolicy
from vendor_risk.policy import SERVICE_TYPES as SERVICE_TYPES
from vendor_risk.policy import Criticality as Criticality
from vendor_risk.policy import ProcessingMethod as ProcessingMethod
from vendor_risk.policy import Sensitivity as Sensitivity
from vendor_risk.policy import ServiceType as ServiceType
from vendor_risk.policy import Tier as Tier
from vendor_risk.policy import VolumeBand as VolumeBand

# --------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------

PartnerStatus = Literal["proposed", "onboarding", "active", "suspended", "offboarding", "offboarded"]
ScopeStatus = Literal["requested", "approved", "suspended", "revoked", "expired"]
AgreementKind = Literal["nda", "dpa", "msa", "sla"]
AgreementStatus = Literal["pending", "in_force", "expiring", "expired", "terminated"]
Art21Clause = Literal[
    "purpose",
    "period",
    "processing_method",
    "data_types",
    "protection_measures",
    "rights_and_duties",
    "no_sub_entrustment_without_consent",
    "return_or_deletion",
]

SENSITIVITIES: Final[tuple[Sensitivity, ...]] = get_args(Sensitivity)
CRITICALITIES: Final[tuple[Criticality, ...]] = get_args(Criticality)
TIERS: Final[tuple[Tier, ...]] = get_args(Tier)
VOLUME_BANDS: Final[tuple[VolumeBand, ...]] = get_args(VolumeBand)
ART21_CLAUSES: Final[tuple[Art21Clause, ...]] = get_args(Art21Clause)

# Sensitivities that are personal information under PIPL (art. 4 and 28).
PERSONAL: Final[frozenset[Sensitivity]] = frozenset({"personal", "sensitive_personal"})

ART21_CLAUSE_LABELS: Final[Mapping[Art21Clause, str]] = {
    "purpose": "purpose of processing",
    "period": "period of processing",
    "processing_method": "processing method",
    "data_types": "types of personal information",
    "protection_measures": "protection measures",
    "rights_and_duties": "rights and duties of both parties",
    "no_sub_entrustment_without_consent": "no sub-entrustment without consent",
    "return_or_deletion": "return or deletion at the end",
}


def sensitivity_rank(sensitivity: Sensitivity) -> int:
    """Position of a sensitivity on the scale ``public < … < sensitive_personal``."""
    return SENSITIVITIES.index(sensitivity)


# --------------------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码), GB 32100-2015
# --------------------------------------------------------------------------------------

# The code's alphabet: digits and capital letters without I, O, S, V, Z (easily misread).
CREDIT_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_CODE_SHAPE: Final = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")


def normalize_credit_code(raw: str) -> str:
    """Upper-case and drop spaces and hyphens people paste from certificates."""
    return re.sub(r"[\s\-]", "", raw).upper()


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a credit code whose first 17 characters are given."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """Check character of a GB 11714 organization code (letters count A=10 … Z=35)."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_issue(code: str) -> tuple[str, dict[str, str]] | None:
    """Why ``code`` (already normalized) is not a valid credit code, as a stable key and its
    params (for a page to say in its language), or ``None`` if it is valid.

    Checks the length, the alphabet, the six-digit administrative division, the
    organization code embedded in characters 9-17 (GB 11714) and the final check
    character (GB 32100-2015).
    """
    if len(code) != 18:
        return "credit_code_length", {"n": str(len(code))}
    if not _CREDIT_CODE_SHAPE.fullmatch(code):
        bad = next(
            (i for i, c in enumerate(code, 1) if c not in CREDIT_CODE_ALPHABET),
            None,
        )
        if bad is not None:
            return "credit_code_char", {"position": str(bad), "char": code[bad - 1]}
        return "credit_code_division", {}
    expected_org = org_code_check_char(code[8:16])
    if code[16] != expected_org:
        return "credit_code_org", {"expected": expected_org}
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return "credit_code_check", {"expected": expected, "got": code[17]}
    return None


_CREDIT_CODE_MESSAGES: Final[Mapping[str, str]] = {
    "credit_code_length": "must be 18 characters, got {n}",
    "credit_code_char": "character {position} {char!r} is not allowed (I, O, S, V, Z never occur)",
    "credit_code_division": "characters 3-8 must be the six-digit administrative division code",
    "credit_code_org": (
        "characters 9-17 are not a valid organization code: check character should be {expected!r}"
    ),
    "credit_code_check": "check character (18th) should be {expected!r}, got {got!r}",
}


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` (already normalized) is not a valid credit code, in English (the API's
    words), or ``None`` if it is valid. See ``credit_code_issue``."""
    issue = credit_code_issue(code)
    if issue is None:
        return None
    key, params = issue
    return _CREDIT_CODE_MESSAGES[key].format(**params)


def legal_id_issues(
    *, country: str, credit_code: str | None, registration_number: str | None
) -> list[tuple[str, str, dict[str, str]]]:
    """Problems with a partner's legal identity as (field, stable key, params).

    A Chinese partner (country ``CN``) must give a valid credit code; a foreign partner
    gives its registration number instead (and may give a credit code too, e.g. a
    representative office, which must then be valid).
    """
    issues: list[tuple[str, str, dict[str, str]]] = []
    if credit_code is not None:
        issue = credit_code_issue(credit_code)
        if issue:
            issues.append(("credit_code", *issue))
    if country == "CN" and credit_code is None:
        issues.append(("credit_code", "credit_code_required", {}))
    if country != "CN" and credit_code is None and not registration_number:
        issues.append(("registration_number", "registration_number_required", {}))
    return issues


_LEGAL_ID_MESSAGES: Final[Mapping[str, str]] = {
    "credit_code_required": "required for a partner registered in China",
    "registration_number_required": "required for a foreign partner without a credit code",
}


def legal_id_problems(
    *, country: str, credit_code: str | None, registration_number: str | None
) -> list[tuple[str, str]]:
    """Field-named problems with a partner's legal identity, in English (see
    ``legal_id_issues``)."""
    return [
        (field, {**_CREDIT_CODE_MESSAGES, **_LEGAL_ID_MESSAGES}[key].format(**params))
        for field, key, params in legal_id_issues(
            country=country, credit_code=credit_code, registration_number=registration_number
        )
    ]


# --------------------------------------------------------------------------------------
# Unmet conditions
# --------------------------------------------------------------------------------------


class Unmet(msgspec.Struct, frozen=True, kw_only=True):
    """One condition a gate found unmet: a stable ``code`` for programs, a ``message``
    for people, and the entity it concerns when there is one."""

    code: str
    message: str
    entity_type: str | None = None
    entity_id: str | None = None
    # What the message says in words, as values, so pages and clients can say it in their
    # own language: names as given, dates ISO, codes from the vocabularies (``tier``,
    # ``partner_status``, ``scope_status``, ``clauses``, comma-separated) for their labels.
    params: dict[str, str] = msgspec.field(default_factory=dict)


def _unmet(
    code: str, message: str, entity_type: str | None = None, entity_id: object = None, **params: object
) -> Unmet:
    return Unmet(
        code=code,
        message=message,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        params={name: str(value) for name, value in params.items()},
    )


# --------------------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------------------

# Beyond the issue's chain, a partner may be dropped while proposed or onboarding, and an
# active partner may be offboarded without a detour through suspended: both go through
# `offboarding`, so scopes are revoked and, if data was ever shared, the attestation that
# it was returned or destroyed is still required before `offboarded`.
PARTNER_TRANSITIONS: Final[Mapping[PartnerStatus, frozenset[PartnerStatus]]] = {
    "proposed": frozenset({"onboarding", "offboarding"}),
    "onboarding": frozenset({"active", "offboarding"}),
    "active": frozenset({"suspended", "offboarding"}),
    "suspended": frozenset({"active", "offboarding"}),
    "offboarding": frozenset({"offboarded"}),
    "offboarded": frozenset(),
}

# Only a risk owner may let a partner work with us or stop it; procurement drives the rest.
TRANSITION_ROLES: Final[Mapping[PartnerStatus, frozenset[str]]] = {
    "onboarding": frozenset({"procurement", "risk_owner"}),
    "active": frozenset({"risk_owner"}),
    "suspended": frozenset({"risk_owner"}),
    "offboarding": frozenset({"procurement", "risk_owner"}),
    "offboarded": frozenset({"procurement", "risk_owner"}),
}

SCOPE_TRANSITIONS: Final[Mapping[ScopeStatus, frozenset[ScopeStatus]]] = {
    "requested": frozenset({"approved", "revoked"}),
    "approved": frozenset({"suspended", "revoked", "expired"}),
    "suspended": frozenset({"approved", "revoked", "expired"}),
    "revoked": frozenset(),
    "expired": frozenset(),
}


class AgreementFact(msgspec.Struct, frozen=True, kw_only=True):
    """An agreement as the gates see it (status already derived from dates)."""

    id: UUID
    kind: AgreementKind
    title: str
    status: AgreementStatus
    category_ids: frozenset[UUID] = frozenset()
    missing_clauses: tuple[Art21Clause, ...] = ()

    @property
    def in_force(self) -> bool:
        return self.status in ("in_force", "expiring")


class ScopeFact(msgspec.Struct, frozen=True, kw_only=True):
    """A data-sharing scope, with what tiering and the gates need to know about it."""

    id: UUID
    status: ScopeStatus
    category_id: UUID
    category_name: str
    sensitivity: Sensitivity
    volume_band: VolumeBand = "under_1k"
    processing_methods: frozenset[ProcessingMethod] = frozenset()
    cross_border: bool = False
    sub_processing_allowed: bool = False
    has_sub_processors: bool = False
    starts_on: date | None = None
    ends_on: date | None = None


class FindingFact(msgspec.Struct, frozen=True, kw_only=True):
    """An open critical finding that no risk owner has accepted."""

    id: UUID
    title: str
    # The title in Chinese, for pages in Chinese (``title`` is the English one).
    title_zh: str | None = None


class LifecycleFacts(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the lifecycle gates consider about one partner."""

    partner_id: UUID
    status: PartnerStatus
    tier: Tier
    has_owner: bool
    has_primary_contact: bool
    agreements: tuple[AgreementFact, ...] = ()
    scopes: tuple[ScopeFact, ...] = ()
    # Filled by the assessments domain; until then an empty tuple (no findings exist).
    unaccepted_critical_findings: tuple[FindingFact, ...] = ()
    # Date the latest onboarding assessment was approved; None = none approved.
    onboarding_assessment_approved_on: date | None = None
    # Date the offboarding attestation was approved; None = not approved (or not sent).
    offboarding_attestation_approved_on: date | None = None
    # Whether any scope of this partner was ever approved, i.e. client data may have left.
    ever_shared_data: bool = False
    # The certificate kinds the policy asks of this tier at activation (any one of them),
    # and the kinds of which the partner holds a verified certificate in force.
    required_certificates: tuple[str, ...] = ()
    valid_certificates: frozenset[str] = frozenset()
    today: date


def transition_gate(
    facts: LifecycleFacts,
    target: PartnerStatus,
    *,
    cadence: Mapping[Tier, int] | None = None,
) -> list[Unmet]:
    """Every reason the partner may not move from its status to ``target`` (empty = go).

    An illegal move is reported alone: the gates of a move that cannot happen are noise.
    """
    if target not in PARTNER_TRANSITIONS[facts.status]:
        allowed = ", ".join(sorted(PARTNER_TRANSITIONS[facts.status])) or "none"
        return [
            _unmet(
                "illegal_transition",
                f"a partner cannot go from {facts.status} to {target} (allowed: {allowed})",
                "partner",
                facts.partner_id,
                from_status=facts.status,
                to_status=target,
            )
        ]
    if target == "onboarding":
        return onboarding_gate(facts)
    if target == "active":
        return activation_gate(facts, cadence=cadence)
    if target == "offboarded":
        return offboarded_gate(facts)
    return []


def onboarding_gate(facts: LifecycleFacts) -> list[Unmet]:
    """Onboarding sends questionnaires and needs a reviewer: a primary contact and an owner."""
    unmet: list[Unmet] = []
    if not facts.has_owner:
        unmet.append(
            _unmet("owner_missing", "assign a risk owner to the partner", "partner", facts.partner_id)
        )
    if not facts.has_primary_contact:
        unmet.append(
            _unmet(
                "primary_contact_missing",
                "add a contact marked primary: questionnaires are sent to them",
                "partner",
                facts.partner_id,
            )
        )
    return unmet


def activation_gate(facts: LifecycleFacts, *, cadence: Mapping[Tier, int] | None = None) -> list[Unmet]:
    """Every reason the partner may not become ``active`` (empty = it may).

    Requires an owner and a primary contact, an NDA in force, every scope it uses approved
    (requested or suspended ones must be approved or revoked first), no open critical
    finding without an accepted risk, a verified certificate where the policy asks one of
    the tier (``certificates.activation``), and an approved onboarding assessment no older
    than the tier's reassessment cadence.
    """
    unmet = onboarding_gate(facts)
    if not any(a.kind == "nda" and a.in_force for a in facts.agreements):
        unmet.append(
            _unmet("nda_missing", "no NDA in force", "partner", facts.partner_id),
        )
    for scope in facts.scopes:
        if scope.status in ("requested", "suspended"):
            unmet.append(
                _unmet(
                    "scope_not_approved",
                    f"scope for {scope.category_name} is {scope.status}: approve or revoke it",
                    "scope",
                    scope.id,
                    category=scope.category_name,
                    category_id=scope.category_id,
                    scope_status=scope.status,
                )
            )
    for finding in facts.unaccepted_critical_findings:
        unmet.append(
            _unmet(
                "critical_finding_open",
                f"critical finding {finding.title!r} is open and its risk is not accepted",
                "finding",
                finding.id,
                title=finding.title,
                title_zh=finding.title_zh or finding.title,
            )
        )
    if facts.required_certificates and not facts.valid_certificates & set(facts.required_certificates):
        unmet.append(
            _unmet(
                "certificate_missing",
                f"the {facts.tier} tier needs a verified certificate in force: "
                f"{' or '.join(facts.required_certificates)}",
                "partner",
                facts.partner_id,
                tier=facts.tier,
                kinds=",".join(facts.required_certificates),
            )
        )
    approved_on = facts.onboarding_assessment_approved_on
    months = cadence_months(facts.tier, cadence)
    if approved_on is None:
        unmet.append(
            _unmet(
                "onboarding_assessment_missing",
                "no approved onboarding assessment",
                "partner",
                facts.partner_id,
            )
        )
    elif add_months(approved_on, months) < facts.today:
        unmet.append(
            _unmet(
                "onboarding_assessment_stale",
                f"the approved onboarding assessment of {approved_on.isoformat()} is older "
                f"than the {facts.tier} tier's cadence of {months} months",
                "partner",
                facts.partner_id,
                date=approved_on.isoformat(),
                tier=facts.tier,
                months=months,
            )
        )
    return unmet


def offboarded_gate(facts: LifecycleFacts) -> list[Unmet]:
    """A partner that ever received data must attest it was returned or destroyed."""
    unmet: list[Unmet] = []
    if facts.ever_shared_data and facts.offboarding_attestation_approved_on is None:
        unmet.append(
            _unmet(
                "offboarding_attestation_missing",
                "the offboarding attestation (data returned or destroyed) is not approved",
                "partner",
                facts.partner_id,
            )
        )
    active_scopes = [s for s in facts.scopes if s.status in ("requested", "approved", "suspended")]
    for scope in active_scopes:
        unmet.append(
            _unmet(
                "scope_not_revoked",
                f"scope for {scope.category_name} is still {scope.status}",
                "scope",
                scope.id,
                category=scope.category_name,
                category_id=scope.category_id,
                scope_status=scope.status,
            )
        )
    return unmet


# --------------------------------------------------------------------------------------
# Scope approval
# --------------------------------------------------------------------------------------


class ImpactAssessmentFact(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded personal-information impact assessment (PIPL art. 55) covering a scope."""

    id: UUID
    assessed_on: date
    outcome: Literal["acceptable", "acceptable_with_conditions", "not_acceptable"]


class SubProcessorFact(msgspec.Struct, frozen=True, kw_only=True):
    """A partner's own processor named on a scope."""

    id: UUID
    name: str
    country: str
    approved: bool


class ScopeApprovalFacts(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the approval gate considers about one scope."""

    scope: ScopeFact
    partner_id: UUID
    partner_status: PartnerStatus
    partner_country: str
    agreements: tuple[AgreementFact, ...] = ()
    impact_assessments: tuple[ImpactAssessmentFact, ...] = ()
    sub_processors: tuple[SubProcessorFact, ...] = ()
    # Score (0-100) of the partner's latest approved assessment; None = none approved.
    # Filled by the assessments domain.
    approved_assessment_score: float | None = None
    today: date


def scope_approval_gate(
    facts: ScopeApprovalFacts,
    *,
    score_threshold: float | None = None,
    home_country: str | None = None,
    policy: ScopeApprovalPolicy = DEFAULT_POLICY.scope_approval,
) -> list[Unmet]:
    """Every reason the scope may not be approved (empty = it may).

    - the scope is awaiting approval (requested, or suspended and being reinstated), its
      period has not ended, and the partner is not suspended or leaving;
    - an agreement in force covers the category;
    - for personal data (PIPL art. 21, 55): a DPA in force covering the category with all
      art. 21 clauses, and a favourable impact assessment covering the scope;
    - for sensitive personal data also an approved assessment scoring at least
      ``score_threshold``;
    - sub-processors named on a scope that does not allow sub-processing each approved;
    - data leaving ``home_country`` (partner or sub-processor abroad) only on a scope
      flagged cross-border.

    ``score_threshold`` and ``home_country`` come from the policy unless given.
    """
    if score_threshold is None:
        score_threshold = policy.score_threshold
    if home_country is None:
        home_country = policy.home_country
    scope = facts.scope
    unmet: list[Unmet] = []

    def add(
        code: str, message: str, entity_type: str = "scope", entity_id: object = None, **params: object
    ) -> None:
        entity_id = scope.id if entity_id is None else entity_id
        unmet.append(_unmet(code, message, entity_type, entity_id, **params))

    def add_partner(code: str, message: str, **params: object) -> None:
        add(code, message, "partner", facts.partner_id, **params)

    if scope.status not in ("requested", "suspended"):
        add(
            "scope_not_pending",
            f"the scope is {scope.status}, not awaiting approval",
            scope_status=scope.status,
        )
    if scope.ends_on is not None and scope.ends_on < facts.today:
        add(
            "scope_period_ended",
            f"the scope ended on {scope.ends_on.isoformat()}",
            date=scope.ends_on.isoformat(),
        )
    if facts.partner_status in ("suspended", "offboarding", "offboarded"):
        add_partner(
            "partner_not_eligible",
            f"the partner is {facts.partner_status}",
            partner_status=facts.partner_status,
        )

    in_force = [a for a in facts.agreements if a.in_force and scope.category_id in a.category_ids]
    if not in_force:
        add(
            "agreement_missing",
            f"no agreement in force covers {scope.category_name}",
            category=scope.category_name,
            category_id=scope.category_id,
        )

    if scope.sensitivity in PERSONAL:
        dpas = [a for a in in_force if a.kind == "dpa"]
        if not dpas:
            add(
                "dpa_missing",
                f"no DPA in force covers {scope.category_name} (PIPL art. 21)",
                category=scope.category_name,
                category_id=scope.category_id,
            )
        elif not any(not a.missing_clauses for a in dpas):
            best = min(dpas, key=lambda a: len(a.missing_clauses))
            missing = ", ".join(ART21_CLAUSE_LABELS[c] for c in best.missing_clauses)
            add(
                "dpa_clauses_missing",
                f"DPA {best.title!r} lacks PIPL art. 21 clauses: {missing}",
                "agreement",
                best.id,
                title=best.title,
                clauses=",".join(best.missing_clauses),
            )
        latest = max(facts.impact_assessments, key=lambda p: p.assessed_on, default=None)
        if latest is None:
            add(
                "impact_assessment_missing",
                "no personal information impact assessment covers this scope (PIPL art. 55)",
            )
        elif latest.outcome == "not_acceptable":
            add(
                "impact_assessment_unfavourable",
                f"the impact assessment of {latest.assessed_on.isoformat()} concluded "
                "the processing is not acceptable",
                "impact_assessment",
                latest.id,
                date=latest.assessed_on.isoformat(),
            )

    if scope.sensitivity == "sensitive_personal":
        score = facts.approved_assessment_score
        if score is None:
            add_partner(
                "assessment_missing",
                "sensitive personal information needs an approved security assessment "
                f"scoring at least {score_threshold:g}",
                threshold=f"{score_threshold:g}",
            )
        elif score < score_threshold:
            add_partner(
                "assessment_score_below_threshold",
                f"the latest approved assessment scored {score:g}, "
                f"below the threshold of {score_threshold:g}",
                score=f"{score:g}",
                threshold=f"{score_threshold:g}",
            )

    if not scope.sub_processing_allowed:
        for sp in facts.sub_processors:
            if not sp.approved:
                add(
                    "sub_processor_not_approved",
                    f"sub-processor {sp.name!r} needs approval: the scope does not allow "
                    "sub-processing (PIPL art. 21)",
                    "sub_processor",
                    sp.id,
                    name=sp.name,
                )

    if not scope.cross_border:
        if facts.partner_country != home_country:
            add(
                "cross_border_undeclared",
                f"the partner is in {facts.partner_country}: flag the scope cross-border",
                country=facts.partner_country,
            )
        for sp in facts.sub_processors:
            if sp.country != home_country:
                add(
                    "cross_border_undeclared",
                    f"sub-processor {sp.name!r} is in {sp.country}: flag the scope cross-border",
                    "sub_processor",
                    sp.id,
                    name=sp.name,
                    country=sp.country,
                )
    return unmet


# --------------------------------------------------------------------------------------
# Tier (inherent risk) and cadence
# --------------------------------------------------------------------------------------

# The points per attribute, the tier thresholds and the cadences are the policy's
# (vendor_risk.policy.TierPolicy, policy.yaml). A scope's points add up; the partner's tier
# comes from its riskiest scope plus its business criticality. Scoring scope by scope (not
# the maximum of each attribute over all scopes) keeps a small sensitive scope and a large
# public one from adding up to a large sensitive one that does not exist.

# Scopes that describe data the partner has or may get: a suspended scope's data is still
# with the partner, so it keeps counting until revoked or expired.
TIERED_SCOPE_STATUSES: Final[frozenset[ScopeStatus]] = frozenset({"requested", "approved", "suspended"})


class TierFactor(msgspec.Struct, frozen=True, kw_only=True):
    """One attribute that raised the tier, and by how many points."""

    code: str
    value: str
    points: int
    scope_id: UUID | None = None
    category_name: str | None = None


class TierResult(msgspec.Struct, frozen=True, kw_only=True):
    """A tier with the points behind it and the factors that produced them."""

    tier: Tier
    points: int
    factors: tuple[TierFactor, ...]


def _scope_factors(scope: ScopeFact, policy: TierPolicy) -> list[TierFactor]:
    def factor(code: str, value: str, points: int) -> TierFactor:
        return TierFactor(
            code=code,
            value=value,
            points=points,
            scope_id=scope.id,
            category_name=scope.category_name,
        )

    methods = policy.processing_method_points
    method = max(scope.processing_methods, key=lambda m: (methods[m], m), default=None)
    factors = [
        factor("sensitivity", scope.sensitivity, policy.sensitivity_points[scope.sensitivity]),
        factor("volume", scope.volume_band, policy.volume_points[scope.volume_band]),
    ]
    if method is not None:
        factors.append(factor("processing_method", method, methods[method]))
    if scope.cross_border:
        factors.append(factor("cross_border", "yes", policy.cross_border_points))
    if scope.sub_processing_allowed or scope.has_sub_processors:
        factors.append(factor("sub_processing", "yes", policy.sub_processing_points))
    return [f for f in factors if f.points > 0]


def tier_for_points(points: int, policy: TierPolicy = DEFAULT_POLICY.tiers) -> Tier:
    """The tier a number of points falls in (the policy's lowest total of each tier)."""
    thresholds = policy.thresholds
    tiers: tuple[Tier, ...] = ("critical", "high", "medium")
    return next((tier for tier in tiers if points >= thresholds[tier]), "low")  # type: ignore[index]


def compute_tier(
    criticality: Criticality, scopes: Iterable[ScopeFact], policy: TierPolicy = DEFAULT_POLICY.tiers
) -> TierResult:
    """The partner's inherent-risk tier and why.

    Each requested, approved or suspended scope scores sensitivity + volume + the most
    exposing processing method + cross-border + sub-processing; the riskiest scope (ties
    broken by sensitivity, then id, so the answer is stable) is added to the business
    criticality. Adding a scope or raising any attribute never lowers the tier.
    """
    scored = [
        (sum(f.points for f in fs), sensitivity_rank(s.sensitivity), str(s.id), fs)
        for s in scopes
        if s.status in TIERED_SCOPE_STATUSES
        for fs in [_scope_factors(s, policy)]
    ]
    worst = max(scored, key=lambda t: t[:3], default=None)
    factors = list(worst[3]) if worst else []
    if policy.criticality_points[criticality]:
        factors.insert(
            0,
            TierFactor(
                code="business_criticality",
                value=criticality,
                points=policy.criticality_points[criticality],
            ),
        )
    points = sum(f.points for f in factors)
    return TierResult(tier=tier_for_points(points, policy), points=points, factors=tuple(factors))


def cadence_months(tier: Tier, cadence: Mapping[Tier, int] | None = None) -> int:
    """Months between assessments for a tier: ``cadence`` (the policy's
    ``cadence_months``), by default the shipped 36/24/12/6 for low…critical."""
    return (cadence or DEFAULT_POLICY.cadence_months)[tier]


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def reassessment_due_on(
    last_approved_on: date, tier: Tier, cadence: Mapping[Tier, int] | None = None
) -> date:
    """When a partner assessed on ``last_approved_on`` must be assessed again."""
    return add_months(last_approved_on, cadence_months(tier, cadence))


def tier_rank(tier: Tier) -> int:
    """Position of a tier on ``low < medium < high < critical``."""
    return TIERS.index(tier)


# --------------------------------------------------------------------------------------
# Agreements
# --------------------------------------------------------------------------------------

DEFAULT_EXPIRING_WITHIN_DAYS: Final = 60


def agreement_status(
    *,
    effective_from: date,
    expires_on: date | None,
    terminated: bool,
    today: date,
    expiring_within_days: int = DEFAULT_EXPIRING_WITHIN_DAYS,
) -> AgreementStatus:
    """Status of an agreement from its dates.

    ``pending`` until ``effective_from``; in force through ``expires_on`` inclusive, and
    ``expiring`` once that date is within ``expiring_within_days``; ``expired`` after it;
    ``terminated`` whenever terminated, whatever the dates say.
    """
    if terminated:
        return "terminated"
    if today < effective_from:
        return "pending"
    if expires_on is not None:
        if expires_on < today:
            return "expired"
        if (expires_on - today).days <= expiring_within_days:
            return "expiring"
    return "in_force"


def missing_art21_clauses(kind: AgreementKind, clauses: Iterable[Art21Clause]) -> tuple[Art21Clause, ...]:
    """The PIPL art. 21 clauses a DPA lacks, in the law's order; empty for other kinds."""
    if kind != "dpa":
        return ()
    present = set(clauses)
    return tuple(c for c in ART21_CLAUSES if c not in present)


def period_problem(start: date | None, end: date | None) -> str | None:
    """Why a period is impossible (end before start), or ``None``."""
    if start is not None and end is not None and end < start:
        return f"must not be before {start.isoformat()}"
    return None
