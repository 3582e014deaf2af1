"""Audit Structs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from vendor_risk.structs import Base


class AuditEvent(Base):
    seq: int
    id: UUID
    occurred_at: datetime
    actor_id: UUID | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    prev_hash: str
    hash: str
    # How ``hash`` was computed (vendor_risk/audit/chain.py): 2 for every new event.
    hash_scheme: int


class Actor(Base):
    """Who made a change: a staff user, a partner through a portal link, or the system."""

    id: UUID | None
    label: str


SYSTEM = Actor(id=None, label="system")
