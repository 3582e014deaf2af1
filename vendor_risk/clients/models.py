"""Client Structs: the firm's own clients and which scopes carry their data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.auth.models import Email
from vendor_risk.partners.models import Phone
from vendor_risk.structs import NAME, ONE_LINE, Base, Version

ClientKind = Literal["person", "company"]
ClientName = Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
ContactName = Annotated[str, msgspec.Meta(max_length=200), ONE_LINE]
ScopeIds = Annotated[list[UUID], msgspec.Meta(max_length=200)]


class Client(Base):
    id: UUID
    name: str
    kind: ClientKind
    contact_name: str
    contact_email: str
    contact_phone: str
    # The data-sharing scopes that carry this client's data.
    scope_ids: list[UUID]
    created_at: datetime
    updated_at: datetime
    version: int


class ClientCreate(Base):
    name: ClientName
    kind: ClientKind
    contact_name: ContactName = ""
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    scope_ids: ScopeIds = msgspec.field(default_factory=list)


class ClientUpdate(Base):
    """The whole client again (fields and scopes), with the ``version`` it was read at."""

    version: Version
    name: ClientName
    kind: ClientKind
    contact_name: ContactName = ""
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    scope_ids: ScopeIds = msgspec.field(default_factory=list)


class AffectedClient(Base):
    """A client whose data one of the incident's scopes carries, with those scopes."""

    id: UUID
    name: str
    kind: ClientKind
    contact_name: str
    contact_email: str
    contact_phone: str
    categories: list[str]


class Affected(Base):
    """The clients an incident affects: those whose data the partner's scopes of the
    incident's data categories carry (every category when the incident names none)."""

    incident_id: UUID
    partner_id: UUID
    categories: list[str]
    clients: list[AffectedClient]
    persons: int
    companies: int
    # About how many more clients' data those scopes carry without the register listing
    # them: the sum of the scopes' approximate counts (a client in two scopes counts twice).
    unlisted: int
