"""Finding and risk acceptance Structs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.questionnaires.models import Answer, References, Severity
from vendor_risk.structs import FILLED_TEXT, NAME, TEXT, Base, I18nText, Version

FindingStatus = Literal["open", "remediating", "verifying", "resolved", "accepted"]
FindingSource = Literal["rule", "manual"]
# Statuses that still carry risk nobody accepted or verified gone.
UNRESOLVED: tuple[FindingStatus, ...] = ("open", "remediating", "verifying")
# Statuses in which the partner may still give a plan or a fix.
PARTNER_ACTIONABLE: tuple[FindingStatus, ...] = ("open", "remediating")
EventSide = Literal["staff", "partner", "system"]
EventKind = Literal[
    "opened",
    "assigned",
    "planned",
    "fixed",
    "answer_changed",
    "resolved",
    "reopened",
    "accepted",
    "status_changed",
    "reminded",
    "escalated",
]
Decision = Literal["resolve", "reopen"]
# Statuses a risk owner sets with PATCH; `accepted` is only reached through a risk acceptance.
SettableStatus = Literal["open", "remediating", "resolved"]

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300), NAME]
LongText = Annotated[str, msgspec.Meta(max_length=10_000), TEXT]
Justification = Annotated[str, msgspec.Meta(min_length=10, max_length=10_000), FILLED_TEXT]


class RiskAcceptance(Base):
    """A risk owner's decision to live with a finding until a date: an immutable row.

    It lapses (``stale_at`` set) when a later assessment changes the answer that raised the
    finding, and stops counting after ``until`` (``expired``), which reopens the finding.
    """

    id: UUID
    finding_id: UUID
    until: date
    justification: str
    accepted_by: UUID | None
    accepted_by_label: str
    accepted_at: datetime
    stale_at: datetime | None
    stale_reason: str | None
    expired: bool


class Finding(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    assessment_id: UUID | None
    source: FindingSource
    questionnaire: str | None
    question_id: str | None
    section_id: str | None
    severity: Severity
    title: I18nText
    description: str
    # The guidance shared with the partner (from the questionnaire rule or the reviewer).
    remediation: I18nText | None
    references: References | None
    # The answer that raised a rule finding, as given in the latest assessment that saw it.
    answer: Answer | None
    status: FindingStatus
    owner_id: UUID | None
    due_on: date | None
    overdue: bool
    remediation_plan: str | None
    partner_plan: str | None
    partner_planned_on: date | None
    partner_responded_at: datetime | None
    partner_fix_note: str | None
    partner_fixed_at: datetime | None
    resolution_note: str | None
    resolved_at: datetime | None
    acceptance: RiskAcceptance | None
    created_at: datetime
    updated_at: datetime
    version: int


class FindingCreate(Base):
    """A finding a reviewer raises by hand (rule findings are raised on submit)."""

    partner_id: UUID
    severity: Severity
    title: Title
    description: LongText = ""
    remediation: LongText | None = None
    assessment_id: UUID | None = None
    owner_id: UUID | None = None
    due_on: date | None = None


class FindingUpdate(Base):
    version: Version
    status: SettableStatus | msgspec.UnsetType = msgspec.UNSET
    owner_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    due_on: date | msgspec.UnsetType | None = msgspec.UNSET
    remediation_plan: LongText | msgspec.UnsetType | None = msgspec.UNSET
    resolution_note: LongText | msgspec.UnsetType | None = msgspec.UNSET


class AcceptanceCreate(Base):
    until: date
    justification: Justification


class FindingEvent(Base):
    """One line of a finding's history (append-only): who did what, and the status after."""

    at: datetime
    actor_label: str
    side: EventSide
    kind: EventKind
    status: FindingStatus
    note: str | None


class FindingProof(Base):
    """A proof file the partner gave with its fix (the bytes are encrypted at rest)."""

    id: UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class FindingVerify(Base):
    """A reviewer's decision on a fix awaiting verification: resolve it, or send it back
    (reopen) saying why."""

    version: Version
    decision: Decision
    note: LongText = ""


class FindingDetail(Finding):
    """A finding with every risk acceptance ever recorded on it (newest first), its
    history (oldest first) and the partner's proof files."""

    acceptances: list[RiskAcceptance]
    history: list[FindingEvent]
    proofs: list[FindingProof]
