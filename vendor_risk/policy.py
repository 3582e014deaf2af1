"""The firm's risk policy: one validated file (``policy.yaml``) that every rule reads.

The shipped ``policy.yaml`` at the repository root holds the defaults, which are also the
defaults of the Structs below (a unit test keeps the two equal), so the pure rules can be
called without a file in unit tests. ``VENDOR_RISK_POLICY_FILE`` names another file; it is
read and validated once at start (``load_settings``), and a bad file stops the process with
the path and the key at fault. The file's SHA-256 is its version: the audit trail records
it whenever the service starts with a policy it has not run before
(``record_policy_in_use``).

The vocabularies the policy speaks of (sensitivities, tiers, service types…) live here too,
so that the rules modules can import the policy without an import cycle; they re-export
them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Final, Literal, get_args

import asyncpg
import msgspec

from vendor_risk.content import KEY_PATTERN, Checker, ContentError, decode
from vendor_risk.paths import _SOURCE_ROOT

# --- vocabularies ----------------------------------------------------------------------------

Sensitivity = Literal["public", "internal", "confidential", "personal", "sensitive_personal"]
Criticality = Literal["low", "medium", "high", "critical"]
Tier = Literal["low", "medium", "high", "critical"]
ProcessingMethod = Literal["store", "process", "access_remotely", "transmit"]
VolumeBand = Literal["under_1k", "1k_10k", "10k_100k", "100k_1m", "over_1m"]
Severity = Literal["low", "medium", "high", "critical"]
StaffRole = Literal["admin", "procurement", "risk_owner", "auditor"]
# What a partner does for the firm; decides which questionnaire sections it is asked.
ServiceType = Literal[
    "tax_agent",
    "payroll_social_insurance",
    "cloud_saas",
    "it_outsourcing",
    "printing",
    "courier_archiving",
    "other",
]
SERVICE_TYPES: Final[tuple[ServiceType, ...]] = get_args(ServiceType)
# Security certificates a partner uploads in self-service (ISO/IEC 27001, 等保备案证明,
# 等保测评报告, SOC 2, other).
CertificateKind = Literal["iso27001", "mlps_filing", "mlps_evaluation", "soc2", "other"]
CERTIFICATE_KINDS: Final[tuple[CertificateKind, ...]] = get_args(CertificateKind)
# Decisions a two-person rule can cover.
DecisionKind = Literal["partner_activation", "scope_approval", "risk_acceptance"]
DECISION_KINDS: Final[tuple[DecisionKind, ...]] = get_args(DecisionKind)
# The key of a tier's questionnaires that every partner of the tier gets.
QuestionnaireSlot = Literal[
    "all",
    "tax_agent",
    "payroll_social_insurance",
    "cloud_saas",
    "it_outsourcing",
    "printing",
    "courier_archiving",
    "other",
]

POLICY_FILE_NAME: Final = "policy.yaml"


class _Part(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every part of the policy: immutable, a misspelt key is an error."""


# --- the parts -------------------------------------------------------------------------------


class TierPolicy(_Part, frozen=True):
    """Points per scope attribute and business criticality, and the lowest total of each
    tier above low (see ``partners.rules.compute_tier``)."""

    sensitivity_points: dict[Sensitivity, int] = msgspec.field(
        default_factory=lambda: {
            "public": 0,
            "internal": 1,
            "confidential": 2,
            "personal": 4,
            "sensitive_personal": 6,
        }
    )
    volume_points: dict[VolumeBand, int] = msgspec.field(
        default_factory=lambda: {"under_1k": 0, "1k_10k": 1, "10k_100k": 2, "100k_1m": 3, "over_1m": 4}
    )
    processing_method_points: dict[ProcessingMethod, int] = msgspec.field(
        default_factory=lambda: {"transmit": 0, "process": 1, "store": 2, "access_remotely": 2}
    )
    cross_border_points: int = 2
    sub_processing_points: int = 1
    criticality_points: dict[Criticality, int] = msgspec.field(
        default_factory=lambda: {"low": 0, "medium": 1, "high": 3, "critical": 5}
    )
    thresholds: dict[Literal["medium", "high", "critical"], int] = msgspec.field(
        default_factory=lambda: {"medium": 5, "high": 9, "critical": 13}
    )


def _cadence() -> dict[Tier, int]:
    return {"low": 36, "medium": 24, "high": 12, "critical": 6}


class ScopeApprovalPolicy(_Part, frozen=True):
    """What approving a data-sharing scope asks beyond the law's fixed conditions."""

    # An approved assessment must score at least this for sensitive personal data.
    score_threshold: float = 70.0
    # Data leaving this country needs a scope flagged cross-border.
    home_country: str = "CN"


class RatingPolicy(_Part, frozen=True):
    """Score bands that move the inherent tier: a strong score lowers it by one level, a weak
    one raises it by one or two; open findings set a floor (``assessments.rules.rate``)."""

    strong_score: float = 85.0
    adequate_score: float = 70.0
    weak_score: float = 50.0
    high_findings_for_high: int = 3


class FindingPolicy(_Part, frozen=True):
    """Days a finding has to be remediated, per severity (its default due date, rule or
    manual), and when the partner is reminded before it; a finding still not fixed the
    day after its due date is escalated to its owner, once."""

    due_days: dict[Severity, int] = msgspec.field(
        default_factory=lambda: {"critical": 7, "high": 30, "medium": 90, "low": 180}
    )
    # Reminders to the partner this many days before the due date (each once).
    reminder_days: tuple[int, ...] = (7, 1)


class AssessmentPolicy(_Part, frozen=True):
    """Due dates and links of the assessments sent."""

    # Days from sending to the due date when the sender names none.
    due_days: int = 21
    # A link outlives the due date by this much, so a late partner can still finish.
    link_grace_days: int = 14
    # Reminders this many days before the due date (each once).
    reminder_days: tuple[int, ...] = (7, 3, 1)
    # An assessment not submitted this many days after its due date expires.
    grace_days: int = 14
    # Days the offboarding attestation is due in when no agreement names a notice period.
    offboarding_days: int = 30


class AgreementPolicy(_Part, frozen=True):
    # An agreement alerts its partner's owner when it comes within each of these many days.
    expiry_alert_days: tuple[int, ...] = (60, 30, 7)
    # Whether a partner's contacts may download the signed copies of its agreements from
    # self-service (they always see the agreements themselves).
    partner_downloads: bool = False


class CertificatePolicy(_Part, frozen=True):
    """Which partners must hold a security certificate (ISO/IEC 27001, 等保, SOC 2): those
    of these tiers, and those providing these services."""

    tiers: tuple[Tier, ...] = ("high", "critical")
    service_types: tuple[ServiceType, ...] = ("cloud_saas", "it_outsourcing")
    # The activation gate asks a partner of a tier listed here for a verified certificate
    # in force of one of the kinds listed (none by default).
    activation: dict[Tier, tuple[CertificateKind, ...]] = msgspec.field(default_factory=dict)


def _questionnaires() -> dict[Tier, dict[QuestionnaireSlot, tuple[str, ...]]]:
    # Low and medium: the lite screening plus the service sections that fit; high and
    # critical: the full set for the service. ``service-controls`` holds one section per
    # service type and ``bookkeeping-partner`` declares the services each section fits.
    lite: dict[QuestionnaireSlot, tuple[str, ...]] = {"all": ("lite-screening",)}
    for service in SERVICE_TYPES:
        if service != "other":
            lite[service] = ("service-controls",)
    full: dict[QuestionnaireSlot, tuple[str, ...]] = {
        "all": ("baseline-security", "pipl-entrusted-processing"),
        "tax_agent": ("bookkeeping-partner", "service-controls"),
        "payroll_social_insurance": ("bookkeeping-partner", "service-controls"),
        "cloud_saas": ("service-controls",),
        "it_outsourcing": ("service-controls",),
        "printing": ("bookkeeping-partner", "service-controls"),
        "courier_archiving": ("bookkeeping-partner", "service-controls"),
    }
    return {"low": lite, "medium": dict(lite), "high": full, "critical": dict(full)}


class QuestionnairePolicy(_Part, frozen=True):
    """Tier × service type → questionnaire keys. A partner is sent the tier's ``all`` list
    followed by the list of each of its service types, without repeats."""

    by_tier: dict[Tier, dict[QuestionnaireSlot, tuple[str, ...]]] = msgspec.field(
        default_factory=_questionnaires
    )
    offboarding: tuple[str, ...] = ("offboarding-attestation",)


class ApprovalRule(_Part, frozen=True):
    """A decision that needs a second, distinct risk owner. Empty condition lists match
    every tier, sensitivity or severity."""

    id: str
    decision: DecisionKind
    # partner_activation: the partner's tier.
    tiers: tuple[Tier, ...] = ()
    # scope_approval: the scope's data sensitivity.
    sensitivities: tuple[Sensitivity, ...] = ()
    # risk_acceptance: the finding's severity.
    severities: tuple[Severity, ...] = ()


def _approval_rules() -> tuple[ApprovalRule, ...]:
    return (
        ApprovalRule(id="critical-partner-activation", decision="partner_activation", tiers=("critical",)),
        ApprovalRule(
            id="sensitive-scope-approval", decision="scope_approval", sensitivities=("sensitive_personal",)
        ),
        ApprovalRule(id="critical-risk-acceptance", decision="risk_acceptance", severities=("critical",)),
    )


class PolicyFile(_Part, frozen=True):
    """What a policy file holds; every key is optional and defaults to the shipped value."""

    tiers: TierPolicy = msgspec.field(default_factory=TierPolicy)
    cadence_months: dict[Tier, int] = msgspec.field(default_factory=_cadence)
    scope_approval: ScopeApprovalPolicy = msgspec.field(default_factory=ScopeApprovalPolicy)
    rating: RatingPolicy = msgspec.field(default_factory=RatingPolicy)
    findings: FindingPolicy = msgspec.field(default_factory=FindingPolicy)
    assessments: AssessmentPolicy = msgspec.field(default_factory=AssessmentPolicy)
    agreements: AgreementPolicy = msgspec.field(default_factory=AgreementPolicy)
    # Roles that must sign in with a second factor (read by the staff sign-in).
    second_factor_roles: tuple[StaffRole, ...] = ("admin", "risk_owner")
    certificates: CertificatePolicy = msgspec.field(default_factory=CertificatePolicy)
    questionnaires: QuestionnairePolicy = msgspec.field(default_factory=QuestionnairePolicy)
    approvals: tuple[ApprovalRule, ...] = msgspec.field(default_factory=_approval_rules)


class Policy(PolicyFile, frozen=True):
    """The policy in force, with where it came from and its version (the file's SHA-256)."""

    source: str = "built-in defaults"
    sha256: str = ""


DEFAULT_POLICY: Final = Policy()


class PolicyError(ContentError):
    """A policy file is invalid; each message names the file and the key at fault."""


# --- loading ---------------------------------------------------------------------------------


def shipped_policy_path() -> Path:
    """The default ``policy.yaml``: beside the package in a checkout, in the working
    directory of an installed image."""
    for candidate in (_SOURCE_ROOT / POLICY_FILE_NAME, Path.cwd() / POLICY_FILE_NAME):
        if candidate.is_file():
            return candidate
    return _SOURCE_ROOT / POLICY_FILE_NAME


def _check(policy: PolicyFile, check: Checker) -> None:
    tiers = policy.tiers
    for name, points in (
        *((f"tiers.sensitivity_points.{k}", v) for k, v in tiers.sensitivity_points.items()),
        *((f"tiers.volume_points.{k}", v) for k, v in tiers.volume_points.items()),
        *((f"tiers.processing_method_points.{k}", v) for k, v in tiers.processing_method_points.items()),
        *((f"tiers.criticality_points.{k}", v) for k, v in tiers.criticality_points.items()),
        ("tiers.cross_border_points", tiers.cross_border_points),
        ("tiers.sub_processing_points", tiers.sub_processing_points),
    ):
        if points < 0:
            check.error(name, "must not be negative")
    for field, vocabulary in (
        ("sensitivity_points", get_args(Sensitivity)),
        ("volume_points", get_args(VolumeBand)),
        ("processing_method_points", get_args(ProcessingMethod)),
        ("criticality_points", get_args(Criticality)),
        ("thresholds", ("medium", "high", "critical")),
    ):
        missing = [v for v in vocabulary if v not in getattr(tiers, field)]
        if missing:
            check.error(f"tiers.{field}", f"missing {', '.join(missing)}")
    t = tiers.thresholds
    if all(k in t for k in ("medium", "high", "critical")) and not (
        0 < t["medium"] < t["high"] < t["critical"]
    ):
        check.error("tiers.thresholds", "must rise: 0 < medium < high < critical")
    for tier in get_args(Tier):
        if tier not in policy.cadence_months:
            check.error("cadence_months", f"missing {tier}")
        elif policy.cadence_months[tier] < 1:
            check.error(f"cadence_months.{tier}", "must be at least 1 month")
    s = policy.scope_approval
    if not 0 <= s.score_threshold <= 100:
        check.error("scope_approval.score_threshold", "must be between 0 and 100")
    if len(s.home_country) != 2 or not s.home_country.isupper():
        check.error("scope_approval.home_country", "must be an ISO 3166-1 alpha-2 code such as CN")
    r = policy.rating
    if not 0 <= r.weak_score <= r.adequate_score <= r.strong_score <= 100:
        check.error("rating", "scores must rise: 0 <= weak_score <= adequate_score <= strong_score <= 100")
    if r.high_findings_for_high < 1:
        check.error("rating.high_findings_for_high", "must be at least 1")
    for severity in get_args(Severity):
        days = policy.findings.due_days.get(severity)
        if days is None:
            check.error("findings.due_days", f"missing {severity}")
        elif days < 1:
            check.error(f"findings.due_days.{severity}", "must be at least 1 day")
    a = policy.assessments
    for name, value, minimum in (
        ("assessments.due_days", a.due_days, 1),
        ("assessments.link_grace_days", a.link_grace_days, 0),
        ("assessments.grace_days", a.grace_days, 0),
        ("assessments.offboarding_days", a.offboarding_days, 1),
    ):
        if value < minimum:
            check.error(name, f"must be at least {minimum}")
    for name, offsets in (
        ("assessments.reminder_days", a.reminder_days),
        ("findings.reminder_days", policy.findings.reminder_days),
        ("agreements.expiry_alert_days", policy.agreements.expiry_alert_days),
    ):
        if any(d < 1 for d in offsets) or len(set(offsets)) != len(offsets):
            check.error(name, "must be distinct whole days of at least 1")
    if not policy.agreements.expiry_alert_days:
        check.error("agreements.expiry_alert_days", "must name at least one day")
    for tier in get_args(Tier):
        slots = policy.questionnaires.by_tier.get(tier)
        if slots is None:
            check.error("questionnaires.by_tier", f"missing {tier}")
            continue
        for slot, keys in slots.items():
            for i, key in enumerate(keys):
                if not KEY_PATTERN.match(key):
                    check.error(f"questionnaires.by_tier.{tier}.{slot}[{i}]", f"{key!r} is not a key")
        if not any(slots.values()):
            check.error(f"questionnaires.by_tier.{tier}", "sends no questionnaire at all")
    if not policy.questionnaires.offboarding:
        check.error("questionnaires.offboarding", "must name the offboarding attestation")
    seen: set[str] = set()
    for i, rule in enumerate(policy.approvals):
        if rule.id in seen:
            check.error(f"approvals[{i}].id", f"{rule.id!r} is used twice")
        seen.add(rule.id)
        wrong = {
            "partner_activation": ("sensitivities", "severities"),
            "scope_approval": ("tiers", "severities"),
            "risk_acceptance": ("tiers", "sensitivities"),
        }[rule.decision]
        for field in wrong:
            if getattr(rule, field):
                check.error(f"approvals[{i}].{field}", f"does not apply to a {rule.decision} decision")


def parse_policy(text: bytes, source: str) -> Policy:
    """Decode and check a policy file's bytes; raises ``PolicyError`` naming ``source`` and
    every bad key. A missing section keeps the shipped default."""
    parsed = decode(text or b"{}", source, PolicyFile, PolicyError)
    check = Checker(source)
    _check(parsed, check)
    if check.errors:
        raise PolicyError(check.errors)
    fields = {name: getattr(parsed, name) for name in PolicyFile.__struct_fields__}
    return Policy(**fields, source=source, sha256=hashlib.sha256(text).hexdigest())


def load_policy(path: Path) -> Policy:
    """Read and check the policy file at ``path``."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise PolicyError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_policy(text, str(path))


@cache
def shipped_policy() -> Policy:
    """The shipped ``policy.yaml`` (read once per process)."""
    return load_policy(shipped_policy_path())


# --- reading the policy -------------------------------------------------------------------


def questionnaires_for(
    policy: QuestionnairePolicy, tier: Tier, service_types: Iterable[ServiceType]
) -> tuple[str, ...]:
    """The questionnaire keys a partner of ``tier`` providing ``service_types`` is sent:
    the tier's ``all`` list, then each service type's list (in the vocabulary's order),
    each key once."""
    slots = policy.by_tier[tier]
    wanted = set(service_types)
    keys: list[str] = list(slots.get("all", ()))
    for service in SERVICE_TYPES:
        if service in wanted:
            keys.extend(slots.get(service, ()))
    return tuple(dict.fromkeys(keys))


def approval_rule(
    rules: Sequence[ApprovalRule],
    decision: DecisionKind,
    *,
    tier: str | None = None,
    sensitivity: str | None = None,
    severity: str | None = None,
) -> ApprovalRule | None:
    """The first two-person rule covering this decision, or ``None`` if one person may
    take it alone."""
    for rule in rules:
        if rule.decision != decision:
            continue
        if rule.tiers and tier not in rule.tiers:
            continue
        if rule.sensitivities and sensitivity not in rule.sensitivities:
            continue
        if rule.severities and severity not in rule.severities:
            continue
        return rule
    return None


def needs_certificate(policy: CertificatePolicy, tier: Tier, service_types: Iterable[ServiceType]) -> bool:
    """Whether the policy asks this partner for a security certificate."""
    return tier in policy.tiers or bool(set(service_types) & set(policy.service_types))


# --- the audit trail ------------------------------------------------------------------------


async def _store_cadences(conn: asyncpg.Connection, policy: PolicyFile) -> None:
    """The database's copy of the cadences (for the partner list's next reassessment date,
    kept by a trigger); when they changed, every partner's date is recomputed."""
    changed = await conn.fetch(
        """
        INSERT INTO policy_cadences AS c (tier, months)
        SELECT * FROM unnest($1::text[], $2::int[])
        ON CONFLICT (tier) DO UPDATE SET months = excluded.months
        WHERE c.months <> excluded.months
        RETURNING tier
        """,
        list(policy.cadence_months),
        list(policy.cadence_months.values()),
    )
    if changed:
        # Touching the tier fires the trigger that recomputes next_reassessment_at.
        await conn.execute(
            "UPDATE partners SET tier = tier WHERE tier = ANY($1::text[])", [r["tier"] for r in changed]
        )


# Any constant; serialises the check-and-record of processes starting together.
_POLICY_LOCK_ID: Final = 0x706F6C696379


async def record_policy_in_use(conn: asyncpg.Connection, policy: Policy) -> bool:
    """Record ``policy.changed`` in the audit trail when the service starts with a policy
    whose hash differs from the last one recorded; True if it recorded one."""
    from vendor_risk import audit
    from vendor_risk.audit.models import SYSTEM

    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _POLICY_LOCK_ID)
        last = await conn.fetchrow(
            """
            SELECT after FROM audit_events WHERE action = 'policy.changed'
            ORDER BY seq DESC LIMIT 1
            """
        )
        previous = last["after"] if last else None
        if previous is not None and previous.get("sha256") == policy.sha256:
            return False
        await _store_cadences(conn, policy)
        await audit.record(
            conn,
            actor=SYSTEM,
            action="policy.changed",
            entity_type="policy",
            entity_id=policy.sha256,
            before={"sha256": previous.get("sha256"), "source": previous.get("source")} if previous else None,
            after={"sha256": policy.sha256, "source": policy.source},
        )
    return True
