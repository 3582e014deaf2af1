"""Structs of the security notices: the file format, stored versions, publications and
acknowledgements (what the API returns and takes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.partners.rules import Tier
from vendor_risk.policy import ServiceType
from vendor_risk.structs import NAME_PATTERN, TEXT_PATTERN, Base, I18nText

NoticeKind = Literal["requirement", "guidance", "advisory", "policy_change"]
Audience = Literal["all", "tier", "data_category", "service_type", "partner"]
KINDS: tuple[NoticeKind, ...] = ("requirement", "guidance", "advisory", "policy_change")
AUDIENCES: tuple[Audience, ...] = ("all", "tier", "data_category", "service_type", "partner")


class NoticeFront(Base):
    """The front matter of a notice file (``notices/*.md``)."""

    key: str
    version: int
    kind: NoticeKind
    ack_required: bool
    title: I18nText


class Notice(Base):
    """A notice file as loaded: its front matter and its Markdown body in both languages."""

    key: str
    version: int
    kind: NoticeKind
    ack_required: bool
    title: I18nText
    body: I18nText


class NoticeVersion(Base):
    """A loaded, immutable notice version with its body rendered as safe HTML."""

    id: UUID
    key: str
    version: int
    kind: NoticeKind
    ack_required: bool
    title: I18nText
    body: I18nText
    html: I18nText
    content_sha256: str
    loaded_at: datetime


class NoticeLoadOutcome(msgspec.Struct, kw_only=True):
    file: str
    status: Literal["stored", "unchanged", "refused"]
    key: str | None = None
    version: int | None = None
    errors: list[str] = msgspec.field(default_factory=list)


AudienceValue = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Message = Annotated[str, msgspec.Meta(max_length=2000, pattern=TEXT_PATTERN)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NAME_PATTERN)]
VersionNumber = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


# Whom a notice goes to, one Struct per kind tagged by ``audience``: the OpenAPI document
# says which value each kind takes (none for all, a tier, a service type of the policy, a
# data category's code, a partner's id), so only what the schema cannot know (that the
# category or the partner exists) is the service's to refuse.


class _Audience(Base, tag_field="audience"):
    pass


class ToAll(_Audience, tag="all"):
    """All active partners."""

    @property
    def audience(self) -> Audience:
        return "all"

    @property
    def audience_value(self) -> None:
        return None


class ToTier(_Audience, tag="tier"):
    """The active partners of one tier."""

    audience_value: Tier

    @property
    def audience(self) -> Audience:
        return "tier"


class ToDataCategory(_Audience, tag="data_category"):
    """The active partners holding one data category through an approved scope."""

    audience_value: AudienceValue

    @property
    def audience(self) -> Audience:
        return "data_category"


class ToServiceType(_Audience, tag="service_type"):
    """The active partners of one service type."""

    audience_value: ServiceType

    @property
    def audience(self) -> Audience:
        return "service_type"


class ToPartner(_Audience, tag="partner"):
    """One partner (any but an offboarded one)."""

    audience_value: UUID

    @property
    def audience(self) -> Audience:
        return "partner"


AudienceIn = ToAll | ToTier | ToDataCategory | ToServiceType | ToPartner


# A publication is an audience with the notice version, the due date and a message: the
# same fields on each kind (Structs take one base with fields, so each kind repeats them).


class PublishToAll(ToAll):
    notice_key: Key
    notice_version: VersionNumber
    # Required when the notice asks for acknowledgement: reminders and escalation run to it.
    due_on: date | None = None
    message: Message = ""


class PublishToTier(ToTier):
    notice_key: Key
    notice_version: VersionNumber
    due_on: date | None = None
    message: Message = ""


class PublishToDataCategory(ToDataCategory):
    notice_key: Key
    notice_version: VersionNumber
    due_on: date | None = None
    message: Message = ""


class PublishToServiceType(ToServiceType):
    notice_key: Key
    notice_version: VersionNumber
    due_on: date | None = None
    message: Message = ""


class PublishToPartner(ToPartner):
    notice_key: Key
    notice_version: VersionNumber
    due_on: date | None = None
    message: Message = ""


PublicationCreate = (
    PublishToAll | PublishToTier | PublishToDataCategory | PublishToServiceType | PublishToPartner
)


class AudiencePreview(Base):
    """How many partners and contacts an audience reaches now (nothing is sent)."""

    audience: Audience
    audience_value: str | None
    partners: int
    contacts: int
    # Partners in the audience without a contact, who would get nothing.
    partners_without_contacts: int


class PublicationSummary(Base):
    id: UUID
    notice_key: str
    notice_version: int
    kind: NoticeKind
    ack_required: bool
    title: I18nText
    audience: Audience
    audience_value: str | None
    audience_label: str | None
    due_on: date | None
    message: str
    published_at: datetime
    published_by: str | None
    partner_count: int
    contact_count: int
    partners_acknowledged: int
    contacts_acknowledged: int


class Recipient(Base):
    id: UUID
    partner_id: UUID
    partner_name: str
    contact_name: str
    email: str
    locale: str
    sent_at: datetime
    opened_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_name: str | None
    acknowledged_via: str | None
    reminders: int


class Publication(Base):
    """A publication with each contact it reached and where each stands."""

    summary: PublicationSummary
    recipients: list[Recipient]


class PartnerNotice(Base):
    """One notice a partner received: the version, when, and whether (and by whom) it was
    acknowledged."""

    publication_id: UUID
    notice_key: str
    notice_version: int
    kind: NoticeKind
    ack_required: bool
    title: I18nText
    due_on: date | None
    sent_at: datetime
    contacts: int
    acknowledged_at: datetime | None
    acknowledged_name: str | None


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=NAME_PATTERN)]


class AcknowledgementIn(Base):
    """ "I have read and will comply": the name of the person acknowledging."""

    name: Name
    agree: bool


class Acknowledgement(Base):
    recipient_id: UUID
    notice_key: str
    notice_version: int
    acknowledged_at: datetime
    acknowledged_name: str
