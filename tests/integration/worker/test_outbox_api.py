"""Admins manage webhook subscriptions and watch (and revive) the outbox over the API."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import METRICS_HEADERS, MakeUser
from vendor_risk.auth.models import Role
from vendor_risk.notify.outbox import Email, enqueue_email

Client = AsyncTestClient[Litestar]
# A public address written as an IP literal: the test needs no DNS.
PUBLIC_URL = "https://93.184.215.14/hooks/vendor-risk"


async def audit_actions(db: asyncpg.Connection, entity_id: str) -> list[str]:
    rows = await db.fetch("SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq", entity_id)
    return [r["action"] for r in rows]


async def test_webhook_secret_is_shown_once_and_subscription_can_be_deleted(
    client: Client, admin: dict[str, Any], db: asyncpg.Connection
) -> None:
    created = await client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC_URL, "events": ["scope.suspended", "agreement.expired"], "description": "SIEM"},
        headers=admin["headers"],
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", body["secret"])
    webhook = body["webhook"]
    assert webhook["events"] == ["agreement.expired", "scope.suspended"]
    assert webhook["created_by"] == str(admin["id"])

    shown = await client.get(f"/api/v1/webhooks/{webhook['id']}", headers=admin["headers"])
    assert shown.json() == webhook
    listed = await client.get("/api/v1/webhooks", params={"limit": 200}, headers=admin["headers"])
    assert webhook in listed.json()["items"]
    assert body["secret"] not in listed.text
    # The audit trail records the subscription, never its secret.
    audit_rows = await db.fetch("SELECT after FROM audit_events WHERE entity_id = $1", webhook["id"])
    assert body["secret"] not in str([r["after"] for r in audit_rows])

    deleted = await client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=admin["headers"])
    assert deleted.status_code == 200
    gone = await client.get(f"/api/v1/webhooks/{webhook['id']}", headers=admin["headers"])
    assert gone.status_code == 404
    again = await client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=admin["headers"])
    assert again.status_code == 404
    assert await audit_actions(db, webhook["id"]) == ["webhook.created", "webhook.deleted"]


async def test_event_types_come_from_the_catalogue(client: Client, admin: dict[str, Any]) -> None:
    catalogue = (await client.get("/api/v1/webhooks/event-types", headers=admin["headers"])).json()
    assert {"assessment.sent", "agreement.expiring", "scope.suspended", "incident.step_overdue"} <= set(
        catalogue
    )

    response = await client.post(
        "/api/v1/webhooks",
        json={"url": PUBLIC_URL, "events": ["scope.suspended", "scope.exploded"]},
        headers=admin["headers"],
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"
    assert "scope.exploded" in response.json()["detail"]
    everything = await client.post(
        "/api/v1/webhooks", json={"url": PUBLIC_URL, "events": ["*"]}, headers=admin["headers"]
    )
    assert everything.status_code == 201


async def test_webhook_urls_cannot_reach_the_internal_network(client: Client, admin: dict[str, Any]) -> None:
    for url in (
        "http://127.0.0.1:6379/",
        "http://localhost:8000/api/v1/users",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.1.1]/hook",
        "ftp://93.184.215.14/hook",
        "file:///etc/passwd",
        "https://user:pw@93.184.215.14/hook",
    ):
        response = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["*"]}, headers=admin["headers"]
        )
        assert response.status_code == 400, url
        assert response.json()["errors"][0]["field"] == "url", url


async def test_only_admins_manage_webhooks_and_read_the_outbox(client: Client, make_user: MakeUser) -> None:
    for role in (Role.RISK_OWNER, Role.PROCUREMENT, Role.AUDITOR):
        user = await make_user(role)
        assert (await client.get("/api/v1/webhooks", headers=user["headers"])).status_code == 403
        assert (await client.get("/api/v1/outbox", headers=user["headers"])).status_code == 403
        created = await client.post(
            "/api/v1/webhooks", json={"url": PUBLIC_URL, "events": ["*"]}, headers=user["headers"]
        )
        assert created.status_code == 403


async def dead_email(db: asyncpg.Connection, to: str, error: str) -> UUID:
    """A message the worker gave up on (set directly: how it died is tested elsewhere)."""
    async with db.transaction():
        message_id = await enqueue_email(
            db, topic="test.dead", email=Email(to=to, subject="Questionnaire link", text="secret link /q/abc")
        )
        await db.execute(
            "UPDATE outbox SET status = 'dead', attempts = 8, last_error = $2 WHERE id = $1",
            message_id,
            error,
        )
    assert message_id is not None
    return message_id


async def test_outbox_lists_dead_messages_with_their_error_and_revives_them(
    client: Client, admin: dict[str, Any], db: asyncpg.Connection
) -> None:
    first = await dead_email(db, "a@example.com", "SMTP 550 5.1.1 no such mailbox (a@example.com)")
    second = await dead_email(db, "b@example.com", "SMTP 554 5.7.1 rejected")

    page = await client.get(
        "/api/v1/outbox", params={"status": "dead", "channel": "email", "limit": 1}, headers=admin["headers"]
    )
    assert page.status_code == 200
    [newest] = page.json()["items"]
    assert newest["id"] == str(second)
    assert newest["recipient"] == "b@example.com"
    assert newest["subject"] == "Questionnaire link"
    assert newest["attempts"] == 8
    assert newest["last_error"] == "SMTP 554 5.7.1 rejected"
    # The body (which may hold a partner's portal link) is not shown, even to admins.
    assert "/q/abc" not in page.text
    following = await client.get(
        "/api/v1/outbox",
        params={"status": "dead", "channel": "email", "limit": 1, "cursor": page.json()["next_cursor"]},
        headers=admin["headers"],
    )
    assert following.json()["items"][0]["id"] == str(first)
    assert (
        await client.get("/api/v1/outbox", params={"status": "lost"}, headers=admin["headers"])
    ).status_code == 400

    revived = await client.post(f"/api/v1/outbox/{first}/retry", headers=admin["headers"])
    assert revived.status_code == 200
    assert (revived.json()["status"], revived.json()["attempts"]) == ("pending", 0)
    row = await db.fetchrow(
        "SELECT status, attempts, next_attempt_at <= now() AS due FROM outbox WHERE id = $1", first
    )
    assert (row["status"], row["attempts"], row["due"]) == ("pending", 0, True)
    assert await audit_actions(db, str(first)) == ["outbox.retried"]

    not_dead = await client.post(f"/api/v1/outbox/{first}/retry", headers=admin["headers"])
    assert not_dead.status_code == 409
    assert not_dead.json()["type"] == "urn:vendor-risk:problem:not-dead"
    missing = await client.post(f"/api/v1/outbox/{UUID(int=1)}/retry", headers=admin["headers"])
    assert missing.status_code == 404


def metric(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(label_text)}\}} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{{{label_text}}} not in /metrics"
    return float(match.group(1))


async def test_metrics_show_outbox_depth_and_oldest_age(
    client: Client, admin: dict[str, Any], db: asyncpg.Connection
) -> None:
    await dead_email(db, "c@example.com", "SMTP 550 no")
    text = (await client.get("/metrics", headers=METRICS_HEADERS)).text
    dead = await db.fetchval("SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'dead'")
    pending = await db.fetchval("SELECT count(*) FROM outbox WHERE channel = 'email' AND status = 'pending'")
    assert metric(text, "vendor_risk_outbox_messages", channel="email", status="dead") == dead
    assert metric(text, "vendor_risk_outbox_messages", channel="email", status="pending") == pending
    assert metric(text, "vendor_risk_outbox_oldest_pending_age_seconds", channel="webhook") >= 0
    for counter in ("jobs_started", "jobs_failed", "jobs_retried", "outbox_sends"):
        assert f"# TYPE vendor_risk_{counter}_total counter" in text
