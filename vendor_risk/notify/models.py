"""Structs for webhook subscriptions and the outbox as admins see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.structs import NAME, ONE_LINE, TEXT, Base

Channel = Literal["email", "webhook", "chat"]
OutboxStatus = Literal["pending", "delivered", "dead"]


class Webhook(Base):
    """A subscription; its signing secret is shown once, at creation."""

    id: UUID
    url: str
    events: list[str]
    description: str
    created_at: datetime
    created_by: UUID | None


class WebhookCreate(Base):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000), ONE_LINE]
    events: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=100), ONE_LINE]],
        msgspec.Meta(min_length=1, max_length=100),
    ]
    description: Annotated[str, msgspec.Meta(max_length=500), TEXT] = ""


class NewWebhook(Base):
    webhook: Webhook
    # "whsec_" + base64; receivers verify signatures with it. Never returned again.
    secret: str


class OutboxMessage(Base):
    """A message as the admin sees it: where it goes and how delivery went, not its body.

    The body is left out on purpose: emails carry portal links that only their recipient
    may hold.
    """

    id: UUID
    channel: Channel
    topic: str
    # The email address, or the webhook URL.
    recipient: str | None
    subject: str | None
    webhook_id: UUID | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


# --- chat channels -----------------------------------------------------------------------

ChatPlatform = Literal["wecom", "dingtalk", "feishu"]


class ChatChannel(Base):
    """A WeCom, DingTalk or Feishu group robot; its URL and secret are never shown again
    (the URL carries the robot's key)."""

    id: UUID
    platform: ChatPlatform
    name: str
    events: list[str]
    lang: str
    signed: bool
    created_at: datetime
    created_by: UUID | None


class ChatChannelCreate(Base):
    platform: ChatPlatform
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
    # The robot's webhook address as the platform shows it.
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000), ONE_LINE]
    events: Annotated[list[str], msgspec.Meta(min_length=1, max_length=20)]
    # DingTalk "加签" / Feishu "签名校验" secret; WeCom robots have none.
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=200), ONE_LINE] | None = None
    lang: Literal["zh-CN", "en"] = "zh-CN"
