"""Webhook subscriptions and the outbox (admin)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.status_codes import HTTP_200_OK

from vendor_risk.auth.guards import requires_admin
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.notify import repository as repo
from vendor_risk.notify import service
from vendor_risk.notify.chat import CHAT_EVENTS
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.notify.events import EVENT_TYPES
from vendor_risk.notify.models import (
    Channel,
    ChatChannel,
    ChatChannelCreate,
    NewWebhook,
    OutboxMessage,
    OutboxStatus,
    Webhook,
    WebhookCreate,
)
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.settings import Settings


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]
    guards = [requires_admin]

    @post("/", operation_id="CreateWebhook")
    async def create_webhook(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, data: WebhookCreate
    ) -> NewWebhook:
        """Subscribe a URL to event types (or ``*``); the answer holds the signing secret,
        shown only this once."""
        return await service.create_webhook(
            db, actor_of(request), data, allow_private=settings.allow_private_webhooks
        )

    @get("/", operation_id="ListWebhooks")
    async def list_webhooks(
        self, db: DbConnection, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[Webhook]:
        check_limit(limit)
        after = created_after(cursor)
        webhooks = await repo.list_webhooks(db, after, limit + 1)
        return paged(webhooks, limit)

    @get("/event-types", operation_id="ListWebhookEventTypes")
    async def event_types(self) -> list[str]:
        """Every event type a subscription may name."""
        return sorted(EVENT_TYPES)

    @get("/{webhook_id:uuid}", operation_id="GetWebhook")
    async def get_webhook(self, db: DbConnection, webhook_id: UUID) -> Webhook:
        webhook = await repo.get_webhook(db, webhook_id)
        if webhook is None:
            raise not_found("webhook", webhook_id)
        return webhook

    @post("/{webhook_id:uuid}/rotate-secret", operation_id="RotateWebhookSecret", status_code=HTTP_200_OK)
    async def rotate_secret(
        self, request: Request[Any, Any, Any], db: DbConnection, webhook_id: UUID
    ) -> NewWebhook:
        """A new signing secret, shown only this once; the old one stops at once."""
        return await service.rotate_secret(db, actor_of(request), webhook_id)

    @delete("/{webhook_id:uuid}", operation_id="DeleteWebhook", status_code=HTTP_200_OK)
    async def delete_webhook(
        self, request: Request[Any, Any, Any], db: DbConnection, webhook_id: UUID
    ) -> Webhook:
        """Stop the subscription; its undelivered messages are given up."""
        return await service.delete_webhook(db, actor_of(request), webhook_id)


class OutboxController(Controller):
    path = "/api/v1/outbox"
    tags = ["webhooks"]
    guards = [requires_admin]

    @get("/", operation_id="ListOutbox")
    async def list_outbox(
        self,
        db: DbConnection,
        status: OutboxStatus | None = None,
        channel: Channel | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[OutboxMessage]:
        """Emails and webhook deliveries, newest first, with attempts and the last error."""
        check_limit(limit)
        after = created_after(cursor)
        messages = await repo.list_outbox(db, status=status, channel=channel, after=after, limit=limit + 1)
        return paged(messages, limit)

    @post("/{message_id:uuid}/retry", operation_id="RetryOutboxMessage", status_code=HTTP_200_OK)
    async def retry(
        self, request: Request[Any, Any, Any], db: DbConnection, message_id: UUID
    ) -> OutboxMessage:
        """Revive a dead message: fresh attempts, due now."""
        message = await service.retry_message(db, actor_of(request), message_id)
        await kick_outbox(request.app.state.redis)
        return message


class ChatChannelController(Controller):
    """企业微信, 钉钉 and 飞书 group robots that receive alerts (admin)."""

    path = "/api/v1/chat-channels"
    tags = ["webhooks"]
    guards = [requires_admin]

    @post("/", operation_id="CreateChatChannel")
    async def create_channel(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, data: ChatChannelCreate
    ) -> ChatChannel:
        """Add a robot for event types from ``GET /api/v1/chat-channels/event-types``; its
        messages are written in ``lang`` and link to the staff pages."""
        return await service.create_chat_channel(
            db, actor_of(request), data, allow_private=settings.allow_private_webhooks
        )

    @get("/", operation_id="ListChatChannels")
    async def list_channels(
        self, db: DbConnection, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[ChatChannel]:
        check_limit(limit)
        return paged(await repo.list_chat_channels(db, created_after(cursor), limit + 1), limit)

    @get("/event-types", operation_id="ListChatEventTypes")
    async def event_types(self) -> list[str]:
        """Every event a chat channel may subscribe to."""
        return sorted(CHAT_EVENTS)

    @delete("/{channel_id:uuid}", operation_id="DeleteChatChannel", status_code=HTTP_200_OK)
    async def delete_channel(
        self, request: Request[Any, Any, Any], db: DbConnection, channel_id: UUID
    ) -> ChatChannel:
        """Stop the channel; its undelivered alerts are given up."""
        return await service.delete_chat_channel(db, actor_of(request), channel_id)
