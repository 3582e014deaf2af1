"""Partner Structs: what the API accepts and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.approvals.models import Conditions
from vendor_risk.auth.models import Email, Locale
from vendor_risk.partners.rules import (
    AgreementKind,
    Criticality,
    PartnerStatus,
    Sensitivity,
    ServiceType,
    Tier,
    TierFactor,
)
from vendor_risk.structs import FILLED_TEXT, NAME, ONE_LINE, Base, I18nText, Version

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
LongName = Annotated[str, msgspec.Meta(min_length=1, max_length=300), NAME]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$(?!\n)", description="ISO 3166-1 alpha-2, e.g. CN")]
CreditCode = Annotated[
    str, msgspec.Meta(max_length=40, description="统一社会信用代码, 18 characters"), ONE_LINE
]
RegistrationNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=100), NAME]
Website = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^https?://[^\s/\x00-\x1f\x7f-\x9f]+[^\s\x00-\x1f\x7f-\x9f]*$(?!\n)", max_length=500
    ),
]
Domain = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$(?!\n)"
    ),
]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ()\-]{5,30}$(?!\n)")]
Service = Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000), FILLED_TEXT]
Services = Annotated[list[Service], msgspec.Meta(max_length=50)]
ServiceTypes = Annotated[
    list[ServiceType],
    msgspec.Meta(max_length=7, description="what the partner does for us; decides the questionnaires"),
]

AttentionReason = Literal[
    "reassessment_due",
    "agreement_expiring",
    "agreement_expired",
    "scope_ending",
    "scope_ended",
]


class ContactIn(Base):
    """A contact as sent: with ``id`` it updates that contact, without it adds one."""

    name: Name
    email: Email
    id: UUID | None = None
    phone: Phone | None = None
    role: Name | None = None
    primary: bool = False
    locale: Locale = "zh-CN"


class Contact(Base):
    id: UUID
    name: str
    email: str
    phone: str | None
    role: str | None
    primary: bool
    locale: str


Contacts = Annotated[list[ContactIn], msgspec.Meta(max_length=50)]


class PartnerCreate(Base):
    name: Name
    legal_name: LongName
    business_criticality: Criticality
    credit_code: CreditCode | None = None
    registration_number: RegistrationNumber | None = None
    country: Country = "CN"
    website: Website | None = None
    domain: Domain | None = None
    services: Services = msgspec.field(default_factory=list)
    service_types: ServiceTypes = msgspec.field(default_factory=list)
    owner_id: UUID | None = None
    contacts: Contacts = msgspec.field(default_factory=list)
    # A legal id a former (offboarded) partner held is registered again only with this set:
    # without it the create is a 409 ``partner-history`` listing those partners.
    confirm_history: bool = False


class PartnerUpdate(Base):
    """Only the fields sent change; ``null`` clears an optional field."""

    version: Version
    name: Name | msgspec.UnsetType = msgspec.UNSET
    legal_name: LongName | msgspec.UnsetType = msgspec.UNSET
    credit_code: CreditCode | msgspec.UnsetType | None = msgspec.UNSET
    registration_number: RegistrationNumber | msgspec.UnsetType | None = msgspec.UNSET
    country: Country | msgspec.UnsetType = msgspec.UNSET
    website: Website | msgspec.UnsetType | None = msgspec.UNSET
    domain: Domain | msgspec.UnsetType | None = msgspec.UNSET
    services: Services | msgspec.UnsetType = msgspec.UNSET
    service_types: ServiceTypes | msgspec.UnsetType = msgspec.UNSET
    business_criticality: Criticality | msgspec.UnsetType = msgspec.UNSET
    owner_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    # The whole list: contacts left out are removed.
    contacts: Contacts | msgspec.UnsetType = msgspec.UNSET


class Partner(Base):
    id: UUID
    name: str
    legal_name: str
    credit_code: str | None
    registration_number: str | None
    country: str
    website: str | None
    domain: str | None
    services: list[str]
    service_types: list[ServiceType]
    business_criticality: Criticality
    owner_id: UUID | None
    status: PartnerStatus
    status_reason: str | None
    status_changed_at: datetime
    tier: Tier
    tier_points: int
    # Which scope and attribute moved the tier, and by how many points.
    tier_factors: list[TierFactor]
    reassessment_due_at: datetime | None
    reassessment_due_reason: str | None
    # When the next reassessment falls due (its tier's cadence after the last approved
    # assessment, or now when a trigger fired); None once the partner is leaving.
    next_reassessment_at: datetime | None
    # Residual risk (assessments.rules.rate): None until an approved assessment.
    residual_rating: Tier | None
    residual_rated_at: datetime | None
    needs_attention: bool
    attention: list[AttentionReason]
    # From the assessments domain: None and 0 until it exists.
    last_assessment_score: float | None
    open_findings: int
    contacts: list[Contact]
    created_at: datetime
    updated_at: datetime
    version: int
    # Why the reassessment sweep could not send a due reassessment, and since when (the
    # sweep tries again once the contacts, tier, services or questionnaires change).
    reassessment_blocked: Literal["no_primary_contact", "no_questionnaire", "no_fitting_section"] | None = (
        None
    )
    reassessment_blocked_at: datetime | None = None


class PartnerSummary(Base):
    """One row of the partner list."""

    id: UUID
    name: str
    legal_name: str
    country: str
    credit_code: str | None
    business_criticality: Criticality
    service_types: list[ServiceType]
    owner_id: UUID | None
    status: PartnerStatus
    tier: Tier
    next_reassessment_at: datetime | None
    residual_rating: Tier | None
    residual_rated_at: datetime | None
    needs_attention: bool
    attention: list[AttentionReason]
    last_assessment_score: float | None
    open_findings: int
    created_at: datetime
    updated_at: datetime
    version: int


class Transition(Base):
    to: PartnerStatus
    reason: Reason
    # Optional: when sent, a partner changed since it was read is a 409.
    version: Version | None = None
    # "Approve with conditions": each becomes a finding of the partner with its due date.
    conditions: Conditions = msgspec.field(default_factory=list)


class TransitionResult(Base):
    partner: Partner
    # Scopes revoked by this move (moving to offboarding revokes them all).
    revoked_scope_ids: list[UUID]
    # Moving to offboarding: the assessments it cancelled and the attestation it sent
    # (None when the partner has no primary contact to send it to).
    cancelled_assessment_ids: list[UUID] = msgspec.field(default_factory=list)
    offboarding_assessment_id: UUID | None = None


class OffboardingAttestation(Base):
    """The partner's latest offboarding attestation (data returned or destroyed)."""

    id: UUID
    status: str
    recipient_name: str
    recipient_email: str
    sent_at: datetime
    due_on: date
    submitted_at: datetime | None
    reviewed_at: datetime | None
    overdue: bool


class OffboardingProgress(Base):
    """How far a partner's offboarding has come, step by step (the partner page's panel)."""

    partner_id: UUID
    status: str
    # Whether the attestation is required before ``offboarded`` (the partner ever received data).
    attestation_required: bool
    live_scopes: int
    open_assessments: int
    attestation: OffboardingAttestation | None
    has_primary_contact: bool
    # Every step done: the partner may move to offboarded.
    ready: bool = False


# --- dashboard ---------------------------------------------------------------------------


class StatusTierCount(Base):
    status: PartnerStatus
    tier: Tier
    count: int


class AgreementDue(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    kind: AgreementKind
    title: str
    expires_on: date


class ScopeAwaiting(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    category_code: str
    category_name: I18nText
    sensitivity: Sensitivity
    created_at: datetime


class PartnerAttention(Base):
    id: UUID
    name: str
    status: PartnerStatus
    tier: Tier
    attention: list[AttentionReason]


class Dashboard(Base):
    partners_total: int
    partners_by_status: dict[PartnerStatus, int]
    partners_by_tier: dict[Tier, int]
    partners_by_status_and_tier: list[StatusTierCount]
    agreements_expiring_count: int
    agreements_expiring: list[AgreementDue]
    agreements_expired_count: int
    agreements_expired: list[AgreementDue]
    scopes_awaiting_approval_count: int
    scopes_awaiting_approval: list[ScopeAwaiting]
    partners_needing_attention_count: int
    partners_needing_attention: list[PartnerAttention]
    expiring_within_days: int
