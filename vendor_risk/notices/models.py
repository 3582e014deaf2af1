"""Structs of the security notices: the file format, stored versions, publications and
acknowledgements (what the API returns and takes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

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


class AudienceIn(Base):
    """Whom a notice goes to: all active partners, or those of one tier, holding one data
    category (through an approved scope), of one service type, or one partner."""

    audience: Audience
    audience_value: AudienceValue | None = None


class PublicationCreate(Base):
    notice_key: Key
    notice_version: VersionNumber
    audience: Audience
    audience_value: AudienceValue | None = None
    # Required when the notice asks for acknowledgement: reminders and escalation run to it.
    due_on: date | None = None
    message: Message = ""


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
