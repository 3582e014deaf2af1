"""Structs for data categories, scopes, sub-processors and impact assessments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.approvals.models import Conditions
from vendor_risk.partners.models import Country, Name, Reason
from vendor_risk.partners.rules import ProcessingMethod, ScopeStatus, Sensitivity, VolumeBand
from vendor_risk.structs import FILLED_TEXT, Base, I18nText, Version

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000), FILLED_TEXT]
CategoryCode = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,62}$(?!\n)", description="snake_case identifier")
]
TransferMethod = Literal["api", "sftp", "https_upload", "email", "physical_media", "remote_access", "other"]
SubProcessorStatus = Literal["pending", "approved", "rejected"]
Outcome = Literal["acceptable", "acceptable_with_conditions", "not_acceptable"]


# --- data categories ---------------------------------------------------------------------


class DataCategory(Base):
    id: UUID
    code: str
    name: I18nText
    description: I18nText
    sensitivity: Sensitivity
    builtin: bool
    version: int


class DataCategoryCreate(Base):
    code: CategoryCode
    name: I18nText
    sensitivity: Sensitivity
    description: I18nText | None = None


class DataCategoryUpdate(Base):
    """Names and descriptions can always change; sensitivity only while unused."""

    version: Version
    name: I18nText | msgspec.UnsetType = msgspec.UNSET
    description: I18nText | msgspec.UnsetType = msgspec.UNSET
    sensitivity: Sensitivity | msgspec.UnsetType = msgspec.UNSET


class CategoryRef(Base):
    id: UUID
    code: str
    name: I18nText
    sensitivity: Sensitivity


# --- sub-processors ----------------------------------------------------------------------


class SubProcessorCreate(Base):
    name: Name
    country: Country
    receives: Text


class SubProcessor(Base):
    id: UUID
    partner_id: UUID
    name: str
    country: str
    receives: str
    status: SubProcessorStatus
    decision_note: str | None
    decided_at: datetime | None
    created_at: datetime
    version: int


class SubProcessorDecision(Base):
    note: Reason | None = None
    version: Version | None = None


# --- scopes ------------------------------------------------------------------------------


UnlistedClients = Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]


class UnlistedClientsUpdate(Base):
    """The approximate count of clients not listed by name (``None`` clears it)."""

    unlisted_clients_approx: UnlistedClients | None
    version: Version


class ScopeCreate(Base):
    category_id: UUID
    purpose: Text
    processing_methods: Annotated[list[ProcessingMethod], msgspec.Meta(min_length=1)]
    transfer_method: TransferMethod
    starts_on: date
    retention_days: Annotated[int, msgspec.Meta(ge=0, le=36_500)]
    volume_band: VolumeBand
    ends_on: date | None = None
    cross_border: bool = False
    sub_processing_allowed: bool = False
    sub_processor_ids: list[UUID] = msgspec.field(default_factory=list)
    # About how many clients' data the scope carries beyond those the register lists by name.
    unlisted_clients_approx: UnlistedClients | None = None


class SubProcessorRef(Base):
    id: UUID
    name: str
    country: str
    status: SubProcessorStatus


class Scope(Base):
    id: UUID
    partner_id: UUID
    category: CategoryRef
    purpose: str
    processing_methods: list[ProcessingMethod]
    transfer_method: TransferMethod
    starts_on: date
    ends_on: date | None
    retention_days: int
    volume_band: VolumeBand
    cross_border: bool
    sub_processing_allowed: bool
    sub_processors: list[SubProcessorRef]
    unlisted_clients_approx: int | None
    status: ScopeStatus
    status_reason: str | None
    decided_by: UUID | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class ScopeApproval(Base):
    note: Reason | None = None
    version: Version | None = None
    # "Approve with conditions": each becomes a finding of the partner with its due date.
    conditions: Conditions = msgspec.field(default_factory=list)


class ScopeWithdrawal(Base):
    """Suspending or revoking a scope says why."""

    reason: Reason
    version: Version | None = None


# --- impact assessments (PIPL art. 55) ---------------------------------------------------


class ImpactAssessmentCreate(Base):
    scope_ids: Annotated[list[UUID], msgspec.Meta(min_length=1)]
    purpose: Text
    necessity: Text
    risks: Text
    measures: Text
    conclusion: Text
    outcome: Outcome
    assessor: Name
    assessed_on: date


class ImpactAssessment(Base):
    id: UUID
    partner_id: UUID
    scope_ids: list[UUID]
    purpose: str
    necessity: str
    risks: str
    measures: str
    conclusion: str
    outcome: Outcome
    assessor: str
    assessed_on: date
    # PIPL art. 56: the record is kept at least three years and cannot be changed.
    retain_until: date
    created_at: datetime
