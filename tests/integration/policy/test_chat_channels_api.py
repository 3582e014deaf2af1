"""Admins manage chat channels: the webhook URL rules, known events only, no secret on a
WeCom robot, the URL and secret never shown back, deletion audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser

Client = AsyncTestClient[Litestar]


async def test_admins_add_list_and_delete_chat_channels(
    client: Client, db: asyncpg.Connection, admin: dict[str, Any], make_user: MakeUser
) -> None:
    headers = admin["headers"]
    kinds = await client.get("/api/v1/chat-channels/event-types", headers=headers)
    assert "incident.opened" in kinds.json()
    assert "finding.overdue" in kinds.json()

    def channel(**fields: Any) -> dict[str, Any]:
        return {
            "platform": "dingtalk",
            "name": "风控群",
            "url": "https://93.184.215.14/robot/send?access_token=abc",
            "events": ["incident.opened"],
            "secret": "SECabc",
        } | fields

    # The SSRF rules of webhooks: loopback and private addresses are refused.
    loopback = await client.post(
        "/api/v1/chat-channels", json=channel(url="http://127.0.0.1:9/robot/send"), headers=headers
    )
    assert loopback.status_code == 400
    assert loopback.json()["errors"][0]["field"] == "url"
    unknown = await client.post(
        "/api/v1/chat-channels", json=channel(events=["partner.created"]), headers=headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "events"
    wecom = await client.post(
        "/api/v1/chat-channels", json=channel(platform="wecom", secret="x"), headers=headers
    )
    assert wecom.status_code == 400
    assert wecom.json()["errors"][0]["field"] == "secret"
    other = await make_user("risk_owner")
    forbidden = await client.post("/api/v1/chat-channels", json=channel(), headers=other["headers"])
    assert forbidden.status_code == 403

    created = await client.post("/api/v1/chat-channels", json=channel(lang="en"), headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["platform"], body["lang"], body["signed"]) == ("dingtalk", "en", True)
    assert "url" not in body
    assert "secret" not in body
    # The signing secret is stored sealed with the data key, never in the clear.
    stored = await db.fetchrow(
        "SELECT secret, secret_sealed FROM chat_channels WHERE id = $1", UUID(body["id"])
    )
    assert stored["secret"] is None
    assert b"SECabc" not in stored["secret_sealed"]
    listed = await client.get("/api/v1/chat-channels", headers=headers)
    assert body["id"] in [c["id"] for c in listed.json()["items"]]

    deleted = await client.delete(f"/api/v1/chat-channels/{body['id']}", headers=headers)
    assert deleted.status_code == 200
    listed = await client.get("/api/v1/chat-channels", headers=headers)
    assert body["id"] not in [c["id"] for c in listed.json()["items"]]
    actions = [
        r["action"]
        for r in await db.fetch(
            """
            SELECT action FROM audit_events
            WHERE entity_type = 'chat_channel' AND entity_id = $1 ORDER BY seq
            """,
            body["id"],
        )
    ]
    assert actions == ["chat_channel.created", "chat_channel.deleted"]
