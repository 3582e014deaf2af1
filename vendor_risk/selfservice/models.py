"""What the self-service pages know about the person signed in."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in partner contact. ``partner_id`` is the one partner every page and query
    of this session is scoped to; it is None only while a contact of several partners has
    not chosen one yet (then only the choice page and sign-out answer)."""

    session_id: UUID
    email: str
    lang: str
    partner_id: UUID | None
    partner_name: str | None
    contact_id: UUID | None
    contact_name: str | None


class PartnerChoice(msgspec.Struct, frozen=True, kw_only=True):
    """A partner the signed-in address is a contact of."""

    partner_id: UUID
    partner_name: str
    contact_id: UUID
    contact_name: str


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A self-service session as the staff partner page lists it."""

    id: UUID
    email: str
    contact_name: str | None
    address: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
