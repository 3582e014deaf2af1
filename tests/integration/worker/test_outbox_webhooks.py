"""Webhook deliveries: signed per Standard Webhooks, retried with the same id, URL-checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest

from tests.integration.worker.conftest import Delivery, Receiver, ctx_for
from vendor_risk.audit.models import SYSTEM
from vendor_risk.notify import service
from vendor_risk.notify.delivery import deliver_due
from vendor_risk.notify.models import WebhookCreate
from vendor_risk.notify.outbox import emit_event
from vendor_risk.settings import Settings
from vendor_risk.worker import deliver_outbox

pytestmark = pytest.mark.usefixtures("clean_outbox")


def verify_standard_webhook(secret: str, delivery: Delivery) -> bool:
    """The receiver's side of the scheme, written from the specification, not our code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{delivery.headers['webhook-id']}.{delivery.headers['webhook-timestamp']}.".encode()
    expected = base64.b64encode(hmac.new(key, content + delivery.body, hashlib.sha256).digest())
    signatures = [s.split(",", 1) for s in delivery.headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(sig.encode(), expected) for version, sig in signatures)


async def subscribe(pool: asyncpg.Pool, url: str, events: list[str]) -> tuple[UUID, str]:
    async with pool.acquire() as conn:
        created = await service.create_webhook(
            conn, SYSTEM, WebhookCreate(url=url, events=events), allow_private=True
        )
    return created.webhook.id, created.secret


async def emit(pool: asyncpg.Pool, event_type: str, data: object, dedupe_key: str | None = None) -> int:
    async with pool.acquire() as conn, conn.transaction():
        return await emit_event(conn, event_type, data, dedupe_key=dedupe_key)


async def test_receiver_failing_then_accepting_gets_one_signed_delivery(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    _, secret = await subscribe(pool, receiver.url, ["scope.suspended"])
    receiver.statuses = [500]
    assert await emit(pool, "scope.suspended", {"scope_id": "s-1", "reason": "agreement expired"}) == 1
    [message] = await pool.fetch("SELECT id FROM outbox")

    first = await deliver_due(pool, http, worker_settings)
    row = await pool.fetchrow("SELECT * FROM outbox WHERE id = $1", message["id"])
    assert first == {"delivered": 0, "retrying": 1, "dead": 0}
    assert row["last_error"] == "HTTP 500 Internal Server Error"

    second = await deliver_due(pool, http, worker_settings, now=row["next_attempt_at"])
    assert second == {"delivered": 1, "retrying": 0, "dead": 0}

    failed, accepted = receiver.deliveries
    assert failed.headers["webhook-id"] == accepted.headers["webhook-id"] == str(message["id"])
    assert failed.body == accepted.body
    for delivery in (failed, accepted):
        assert verify_standard_webhook(secret, delivery)
        assert delivery.headers["content-type"] == "application/json"
    body = accepted.json()
    assert body["type"] == "scope.suspended"
    assert body["data"] == {"scope_id": "s-1", "reason": "agreement expired"}
    tampered = msgspec.structs.replace(accepted, body=accepted.body.replace(b"s-1", b"s-2"))
    assert not verify_standard_webhook(secret, tampered)
    final = await pool.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", message["id"])
    assert (final["status"], final["attempts"]) == ("delivered", 2)


async def test_client_error_is_permanent_and_deleted_subscription_stops_delivery(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(pool, receiver.url, ["partner.tier_changed"])
    receiver.statuses = [410]
    await emit(pool, "partner.tier_changed", {"partner_id": "p-1"})
    assert await deliver_outbox(ctx_for(pool, http, worker_settings)) == {
        "delivered": 0,
        "retrying": 0,
        "dead": 1,
    }
    assert await pool.fetchval("SELECT last_error FROM outbox") == "HTTP 410 Gone"

    webhook_id, _ = await subscribe(pool, receiver.url, ["finding.opened"])
    await emit(pool, "finding.opened", {"finding_id": "f-1"})
    async with pool.acquire() as conn:
        await service.delete_webhook(conn, SYSTEM, webhook_id)
    await deliver_outbox(ctx_for(pool, http, worker_settings))
    assert len(receiver.deliveries) == 1  # only the 410 above
    row = await pool.fetchrow("SELECT status, last_error FROM outbox WHERE webhook_id = $1", webhook_id)
    assert (row["status"], row["last_error"]) == ("dead", "the webhook subscription was deleted")


async def test_private_address_is_refused_at_delivery_unless_allowed(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(pool, receiver.url, ["incident.opened"])
    await emit(pool, "incident.opened", {"incident_id": "i-1"})
    strict = msgspec.structs.replace(worker_settings, allow_private_webhooks=False)
    assert await deliver_due(pool, http, strict, now=datetime.now(UTC)) == {
        "delivered": 0,
        "retrying": 0,
        "dead": 1,
    }
    assert receiver.deliveries == []
    error = await pool.fetchval("SELECT last_error FROM outbox")
    assert error.startswith("URL refused: it resolves to a private, loopback or reserved address (127.0.0.1)")
