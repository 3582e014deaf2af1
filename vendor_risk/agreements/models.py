"""Agreement Structs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.documents import DocumentInfo
from vendor_risk.partners.models import LongName, Name, Reason
from vendor_risk.partners.rules import AgreementKind, AgreementStatus, Art21Clause
from vendor_risk.scopes.models import CategoryRef
from vendor_risk.structs import TEXT, Base, Version

Notes = Annotated[str, msgspec.Meta(max_length=10_000), TEXT]


class Signatory(Base):
    party: Literal["us", "partner"]
    name: Name
    title: Name | None = None


Signatories = Annotated[list[Signatory], msgspec.Meta(min_length=2, max_length=20)]
CategoryIds = Annotated[list[UUID], msgspec.Meta(max_length=100)]
Clauses = Annotated[list[Art21Clause], msgspec.Meta(max_length=8)]
NoticeDays = Annotated[int, msgspec.Meta(ge=1, le=365)]


class AgreementCreate(Base):
    kind: AgreementKind
    title: LongName
    signed_on: date
    # At least one for each side.
    signatories: Signatories
    reference: Name | None = None
    # Defaults to the signing date.
    effective_from: date | None = None
    expires_on: date | None = None
    category_ids: CategoryIds = msgspec.field(default_factory=list)
    # For a DPA: the PIPL art. 21 clauses it contains.
    clauses: Clauses = msgspec.field(default_factory=list)
    # Days the partner has to return or destroy the data when offboarded (else 30).
    notice_period_days: NoticeDays | None = None
    notes: Notes = ""


class AgreementUpdate(Base):
    version: Version
    title: LongName | msgspec.UnsetType = msgspec.UNSET
    reference: Name | msgspec.UnsetType | None = msgspec.UNSET
    signed_on: date | msgspec.UnsetType = msgspec.UNSET
    effective_from: date | msgspec.UnsetType = msgspec.UNSET
    expires_on: date | msgspec.UnsetType | None = msgspec.UNSET
    signatories: Signatories | msgspec.UnsetType = msgspec.UNSET
    category_ids: CategoryIds | msgspec.UnsetType = msgspec.UNSET
    clauses: Clauses | msgspec.UnsetType = msgspec.UNSET
    notice_period_days: NoticeDays | msgspec.UnsetType | None = msgspec.UNSET
    notes: Notes | msgspec.UnsetType = msgspec.UNSET


class Agreement(Base):
    id: UUID
    partner_id: UUID
    kind: AgreementKind
    title: str
    reference: str | None
    signed_on: date
    effective_from: date
    expires_on: date | None
    signatories: list[Signatory]
    categories: list[CategoryRef]
    clauses: list[Art21Clause]
    # PIPL art. 21 clauses a DPA lacks: it is saved, but cannot back personal-data scopes.
    missing_clauses: list[Art21Clause]
    status: AgreementStatus
    document: DocumentInfo | None
    terminated_at: datetime | None
    termination_reason: str | None
    notice_period_days: int | None
    notes: str
    created_at: datetime
    updated_at: datetime
    version: int


class DocumentVersion(Base):
    """One signed document an agreement has had: ``current`` is the one in force."""

    version: int
    current: bool
    document: DocumentInfo


class Termination(Base):
    reason: Reason
    version: Version | None = None


class TerminationResult(Base):
    agreement: Agreement
    # Approved scopes that lost their covering agreement and were suspended with it.
    suspended_scope_ids: list[UUID]
