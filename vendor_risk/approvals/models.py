"""Structs of two-person approvals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from vendor_risk.policy import DecisionKind, Severity
from vendor_risk.structs import Base

DecisionStatus = Literal["pending", "completed"]


class ApprovalCondition(Base):
    """A condition of an approval: it becomes a finding of the partner, due on ``due_on``."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    due_on: date
    severity: Severity = "medium"
    description: Annotated[str, msgspec.Meta(max_length=4000)] = ""


Conditions = Annotated[list[ApprovalCondition], msgspec.Meta(max_length=20)]


class PendingDecision(Base):
    """A decision awaiting (or given) its second approval."""

    id: UUID
    rule_id: str
    decision: DecisionKind
    entity_type: Literal["partner", "scope", "finding"]
    entity_id: UUID
    partner_id: UUID
    partner_name: str
    # What the first approver decided; the second approval completes exactly that.
    payload: dict[str, Any]
    status: DecisionStatus
    first_by: UUID
    first_by_label: str
    first_at: datetime
    second_by: UUID | None
    second_by_label: str | None
    second_at: datetime | None
    created_at: datetime
    version: int


class SecondApproval(Base):
    """The second risk owner's approval; ``conditions`` are added to the first approver's."""

    version: int | None = None
    conditions: Conditions = msgspec.field(default_factory=list)
