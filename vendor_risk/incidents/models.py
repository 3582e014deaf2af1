"""Incident Structs: what the API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from vendor_risk.incidents.playbook import Severity, When
from vendor_risk.structs import FILLED_TEXT, NAME, ONE_LINE, TEXT, Base, Count, I18nText, Version

IncidentStatus = Literal["suspected", "open", "closed", "dismissed"]
StepStatus = Literal["pending", "done", "skipped"]
ActionStatus = Literal["pending", "succeeded", "failed", "skipped"]

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300), NAME]
Text = Annotated[str, msgspec.Meta(max_length=20_000), TEXT]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=5_000), FILLED_TEXT]
CategoryCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,62}$(?!\n)")]
EvidenceRef = Annotated[str, msgspec.Meta(min_length=1, max_length=1_000), NAME]


class IncidentCreate(Base):
    title: Title
    severity: Severity
    detected_at: Annotated[datetime, msgspec.Meta(tz=True)]
    playbook: Annotated[str, msgspec.Meta(max_length=100), ONE_LINE]
    affected_categories: Annotated[list[CategoryCode], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    description: Text = ""
    # Procurement may only report an incident as suspected; a risk owner confirms it.
    suspected: bool = False


class IncidentUpdate(Base):
    """What becomes known while the incident runs; the severity and playbook stay."""

    version: Version
    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType = msgspec.UNSET
    affected_categories: Annotated[list[CategoryCode], msgspec.Meta(max_length=100)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class StepComplete(Base):
    note: Text = ""
    # References to what proves the step was done: ticket numbers, document hashes, links.
    evidence: Annotated[list[EvidenceRef], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class StepSkip(Base):
    reason: Reason


class IncidentClose(Base):
    note: Text = ""


class IncidentDismiss(Base):
    reason: Reason


class StepAction(Base):
    """An automatic action of a step and, once queued, how its run went."""

    index: int
    action: str
    when: When
    status: ActionStatus | None
    outcome: Any
    finished_at: datetime | None


class IncidentStep(Base):
    id: str
    position: int
    title: I18nText
    instructions: I18nText
    owner_role: str
    depends_on: list[str]
    due_at: datetime
    status: StepStatus
    # Pending with every dependency done or skipped.
    ready: bool
    overdue: bool
    # 0 until the deadline, then 1, 2, … as the playbook's escalation levels pass.
    escalation_level: int
    completed_at: datetime | None
    completed_by_label: str | None
    note: str
    evidence: list[str]
    skip_reason: str | None
    actions: list[StepAction]


class TimelineEntry(Base):
    seq: int
    occurred_at: datetime
    actor_id: UUID | None
    actor_label: str
    kind: str
    step_id: str | None
    summary: I18nText
    data: Any


class Incident(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    title: str
    severity: Severity
    status: IncidentStatus
    detected_at: datetime
    playbook_key: str
    playbook_version: int
    playbook_title: I18nText
    affected_categories: list[str]
    description: str
    created_at: datetime
    created_by_label: str
    closed_at: datetime | None
    steps_total: int
    steps_open: int
    overdue: bool
    version: int


class CandidateCategory(Base):
    """A category the partner receives under a scope: what the leak may have touched."""

    code: str
    name: I18nText
    sensitivity: str
    scope_ids: list[UUID]
    scope_statuses: list[str]
    volume_bands: list[str]
    affected: bool


class IncidentDetail(Incident):
    steps: list[IncidentStep]
    timeline: list[TimelineEntry]
    candidate_categories: list[CandidateCategory]


class NotificationRecordUpdate(Base):
    """The PIPL art. 57 notification record; PUT replaces it whole (version 0 creates it)."""

    version: Version
    categories: Annotated[list[CategoryCode], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    persons_affected_approx: Count | None = None
    affected_persons: Text = ""
    cause: Text = ""
    possible_harm: Text = ""
    remedial_measures: Text = ""
    individual_measures: Text = ""
    contact: Text = ""
    authority_name: Text = ""
    authority_notified_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    authority_notified_how: Text = ""
    persons_notified_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    persons_notified_how: Text = ""
    # Art. 57 para. 2: persons need not be told when the measures avoid harm effectively.
    persons_not_notified_reason: Text = ""


class NotificationRecord(Base):
    incident_id: UUID
    categories: list[str]
    persons_affected_approx: int | None
    affected_persons: str
    cause: str
    possible_harm: str
    remedial_measures: str
    individual_measures: str
    contact: str
    authority_name: str
    authority_notified_at: datetime | None
    authority_notified_how: str
    persons_notified_at: datetime | None
    persons_notified_how: str
    persons_not_notified_reason: str
    updated_at: datetime | None
    updated_by_label: str | None
    version: int


class PlaybookSummary(Base):
    key: str
    version: int
    title: I18nText
    description: I18nText
    severities: list[Severity]
    steps: int
