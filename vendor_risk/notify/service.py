"""Webhook subscriptions and reviving dead outbox messages; every change is audited."""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import UUID

import asyncpg

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, field_error, not_found
from vendor_risk.notify import repository as repo
from vendor_risk.notify.chat import CHAT_EVENTS
from vendor_risk.notify.events import ALL_EVENTS, EVENT_TYPES
from vendor_risk.notify.models import (
    ChatChannel,
    ChatChannelCreate,
    NewWebhook,
    OutboxMessage,
    Webhook,
    WebhookCreate,
)
from vendor_risk.notify.webhooks import WebhookUrlRefused, check_url, generate_secret


async def create_webhook(
    conn: asyncpg.Connection, actor: Actor, data: WebhookCreate, *, allow_private: bool
) -> NewWebhook:
    """Subscribe a URL to event types; the signing secret is in this answer only.

    The URL must be http(s) and, unless ``allow_private``, resolve to public addresses
    only, so that webhooks cannot be aimed at the internal network.
    """
    unknown = sorted(set(data.events) - EVENT_TYPES - {ALL_EVENTS})
    if unknown:
        raise field_error(
            "events",
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(EVENT_TYPES))} or *",
        )
    try:
        await check_url(data.url, allow_private=allow_private)
    except WebhookUrlRefused as exc:
        raise field_error("url", str(exc)) from None
    except (OSError, UnicodeError):  # no such name, or one IDNA cannot encode
        raise field_error("url", f"the host {urlsplit(data.url).hostname} does not resolve") from None
    secret = generate_secret()
    async with conn.transaction():
        webhook = await repo.insert_webhook(
            conn,
            url=data.url,
            events=sorted(set(data.events)),
            secret=secret,
            description=data.description,
            created_by=actor.id,
        )
        await audit.record(
            conn,
            actor=actor,
            action="webhook.created",
            entity_type="webhook",
            entity_id=webhook.id,
            after=webhook,
        )
    return NewWebhook(webhook=webhook, secret=secret)


async def delete_webhook(conn: asyncpg.Connection, actor: Actor, webhook_id: UUID) -> Webhook:
    """Stop a subscription; its messages not yet delivered are given up (marked dead)."""
    async with conn.transaction():
        webhook = await repo.disable_webhook(conn, webhook_id)
        if webhook is None:
            raise not_found("webhook", webhook_id)
        dropped = await repo.abandon_webhook_messages(conn, webhook_id)
        await audit.record(
            conn,
            actor=actor,
            action="webhook.deleted",
            entity_type="webhook",
            entity_id=webhook_id,
            before=webhook,
            after={"undelivered_messages_dropped": dropped},
        )
    return webhook


async def rotate_secret(conn: asyncpg.Connection, actor: Actor, webhook_id: UUID) -> NewWebhook:
    """Give a subscription a new signing secret, in this answer only; the old one stops
    at once (messages sent from now on are signed with the new one). Audited without
    either secret."""
    secret = generate_secret()
    async with conn.transaction():
        webhook = await repo.set_secret(conn, webhook_id, secret)
        if webhook is None:
            raise not_found("webhook", webhook_id)
        await audit.record(
            conn,
            actor=actor,
            action="webhook.secret_rotated",
            entity_type="webhook",
            entity_id=webhook_id,
            after=webhook,
        )
    return NewWebhook(webhook=webhook, secret=secret)


async def retry_message(conn: asyncpg.Connection, actor: Actor, message_id: UUID) -> OutboxMessage:
    """Give a dead message a fresh set of attempts, due now."""
    async with conn.transaction():
        before = await repo.get_outbox_message(conn, message_id, for_update=True)
        if before is None:
            raise not_found("outbox message", message_id)
        if before.status != "dead":
            raise Problem(409, "not-dead", f"only a dead message can be retried; this one is {before.status}")
        after = await repo.revive(conn, message_id)
        await audit.record(
            conn,
            actor=actor,
            action="outbox.retried",
            entity_type="outbox",
            entity_id=message_id,
            before=before,
            after=after,
        )
    return after


async def create_chat_channel(
    conn: asyncpg.Connection, actor: Actor, data: ChatChannelCreate, *, allow_private: bool
) -> ChatChannel:
    """Add a WeCom, DingTalk or Feishu robot for some event types; its URL obeys the
    webhook rules (http(s), public addresses only unless ``allow_private``)."""
    unknown = sorted(set(data.events) - set(CHAT_EVENTS))
    if unknown:
        raise field_error(
            "events", f"unknown chat event(s) {', '.join(unknown)}; known: {', '.join(sorted(CHAT_EVENTS))}"
        )
    if data.platform == "wecom" and data.secret is not None:
        raise field_error("secret", "WeCom group robots are not signed: leave it out")
    try:
        await check_url(data.url, allow_private=allow_private)
    except WebhookUrlRefused as exc:
        raise field_error("url", str(exc)) from None
    except OSError:
        raise field_error("url", f"the host {urlsplit(data.url).hostname} does not resolve") from None
    async with conn.transaction():
        channel = await repo.insert_chat_channel(conn, data, actor.id)
        await audit.record(
            conn,
            actor=actor,
            action="chat_channel.created",
            entity_type="chat_channel",
            entity_id=channel.id,
            after=channel,
        )
    return channel


async def delete_chat_channel(conn: asyncpg.Connection, actor: Actor, channel_id: UUID) -> ChatChannel:
    """Stop a chat channel; its undelivered alerts are given up."""
    async with conn.transaction():
        channel = await repo.disable_chat_channel(conn, channel_id)
        if channel is None:
            raise not_found("chat channel", channel_id)
        await audit.record(
            conn,
            actor=actor,
            action="chat_channel.deleted",
            entity_type="chat_channel",
            entity_id=channel_id,
            before=channel,
        )
    return channel
