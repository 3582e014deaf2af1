"""What the self-service pages know about the person signed in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal
from uuid import UUID

import msgspec

from vendor_risk.structs import FILLED_TEXT, NAME, ONE_LINE, Base


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


# Roughly how many persons a partner's report says are concerned (its form's choices).
PERSONS_RANGES: Final = ("unknown", "lt_10", "10_100", "100_1000", "1000_10000", "gt_10000")
PersonsRange = Literal["unknown", "lt_10", "10_100", "100_1000", "1000_10000", "gt_10000"]


class IncidentReport(Base):
    """A partner's own report of a security incident (the self-service form)."""

    what: Annotated[str, msgspec.Meta(min_length=1, max_length=4000), FILLED_TEXT]
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True)]
    contact_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
    categories: Annotated[list[Annotated[str, msgspec.Meta(max_length=63)]], msgspec.Meta(max_length=100)] = (
        msgspec.field(default_factory=list)
    )
    persons: PersonsRange = "unknown"
    contact_phone: Annotated[str, msgspec.Meta(max_length=50), ONE_LINE] = ""
    contact_email: Annotated[str, msgspec.Meta(max_length=254), ONE_LINE] = ""
