"""What the dashboard lists: each item with what a reader needs to act on it."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec

from vendor_risk.structs import I18nText


class Base(msgspec.Struct, kw_only=True):
    """Rows read from the database (never a request): extra columns are ignored."""


class LiveIncident(Base):
    id: UUID
    title: str
    severity: str
    status: str
    partner_id: UUID
    partner_name: str
    detected_at: datetime
    next_due_at: datetime | None
    overdue_steps: int


class CriticalFinding(Base):
    id: UUID
    title: I18nText
    status: str
    due_on: date | None
    partner_id: UUID
    partner_name: str
    overdue: bool = False


class ReviewWaiting(Base):
    id: UUID
    kind: str
    submitted_at: datetime
    partner_id: UUID
    partner_name: str
    days_waiting: int = 0


class ScopeWaiting(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    category_code: str
    category_name: I18nText
    sensitivity: str
    created_at: datetime
    days_waiting: int = 0


class AgreementDue(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    kind: str
    title: str
    expires_on: date
    expired: bool = False


class ReassessmentDue(Base):
    id: UUID
    name: str
    tier: str
    reassessment_due_at: datetime
    reassessment_due_reason: str | None


class ActionBoard(Base):
    """What needs action today, each list most urgent first, with its full count."""

    incidents_count: int
    incidents: list[LiveIncident]
    findings_count: int
    findings: list[CriticalFinding]
    reviews_count: int
    reviews: list[ReviewWaiting]
    scopes_count: int
    scopes: list[ScopeWaiting]
    agreements_count: int
    agreements: list[AgreementDue]
    reassessments_count: int
    reassessments: list[ReassessmentDue]
    expiring_within_days: int

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.incidents_count,
                self.findings_count,
                self.reviews_count,
                self.scopes_count,
                self.agreements_count,
                self.reassessments_count,
            )
        )
