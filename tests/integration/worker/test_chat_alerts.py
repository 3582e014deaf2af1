"""Chat alerts to 企业微信, 钉钉 and 飞书 robots: one local HTTP receiver per platform checks
each request as the platform documents it (URL parameters, body shape, signature) and
answers with the platform's own success and error bodies; an error body is retried and the
alert ends dead after the limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.helpers import database_dump
from vendor_risk.audit.models import SYSTEM
from vendor_risk.notify import service
from vendor_risk.notify.delivery import MAX_ATTEMPTS, deliver_due
from vendor_risk.notify.models import ChatChannelCreate
from vendor_risk.notify.outbox import emit_event
from vendor_risk.settings import Settings

SECRET = "SEC5f0c1a2b3c4d5e6f"
INCIDENT = {
    "incident_id": "7d9f0f4e-5b7b-4a53-9d55-0a7a3f3f0c11",
    "partner_id": "2b1c7d70-28a1-4a6f-9a57-5e2f8c3f5a10",
    "partner_name": "云账房",
    "title": "客户工资表外泄",
    "severity": "critical",
}

# What each platform answers (their documented bodies).
OK = {
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success", "data": {}},
}
ERROR = {
    "wecom": {"errcode": 93000, "errmsg": "invalid webhook url"},
    "dingtalk": {"errcode": 310000, "errmsg": "sign not match"},
    "feishu": {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"},
}
PATHS = {
    "wecom": "/cgi-bin/webhook/send?key=693a91f6-7xxx",
    "dingtalk": "/robot/send?access_token=4b2c9e",
    "feishu": "/open-apis/bot/v2/hook/0f8d6b1e-hook",
}


class Robot:
    """A platform's robot endpoint: records requests, checks them as the platform does."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.problems: list[str] = []
        self.refuse = False
        self.lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATHS[self.platform]}"

    def check(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> list[str]:
        """Every way the request differs from the platform's documentation."""
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        expected = urlsplit(PATHS[self.platform])
        problems = []
        if parts.path != expected.path:
            problems.append(f"path {parts.path}")
        if not headers.get("content-type", "").startswith("application/json"):
            problems.append("content type")
        if self.platform == "wecom":
            if query.get("key") != ["693a91f6-7xxx"]:
                problems.append("key")
            if body.get("msgtype") != "markdown" or not isinstance(
                body.get("markdown", {}).get("content"), str
            ):
                problems.append("body")
        elif self.platform == "dingtalk":
            if query.get("access_token") != ["4b2c9e"]:
                problems.append("access_token")
            timestamp = int(query["timestamp"][0])
            if abs(time.time() * 1000 - timestamp) > 3_600_000:
                problems.append("timestamp")
            digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
            # parse_qs has undone the URL encoding of the base64 signature.
            if query.get("sign") != [base64.b64encode(digest).decode()]:
                problems.append("sign")
            markdown = body.get("markdown", {})
            if body.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
                problems.append("body")
        else:
            timestamp = int(body["timestamp"])
            if abs(time.time() - timestamp) > 3600:
                problems.append("timestamp")
            digest = hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
            if body.get("sign") != base64.b64encode(digest).decode():
                problems.append("sign")
            if body.get("msg_type") != "text" or not isinstance(body.get("content", {}).get("text"), str):
                problems.append("body")
        return problems

    def text(self, body: dict[str, Any]) -> str:
        if self.platform == "wecom":
            return str(body["markdown"]["content"])
        if self.platform == "dingtalk":
            return str(body["markdown"]["text"])
        return str(body["content"]["text"])


@pytest.fixture(params=["wecom", "dingtalk", "feishu"])
def robot(request: pytest.FixtureRequest) -> Iterator[Robot]:
    state = Robot(request.param)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            body = json.loads(raw)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.requests.append((self.path, body))
                problems = state.check(self.path, headers, body)
                state.problems.extend(problems)
                answer = ERROR[state.platform] if problems or state.refuse else OK[state.platform]
            payload = json.dumps(answer).encode()
            # The platforms answer HTTP 200 with the error in the body.
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def clean_chat(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """No messages and no channels but this test's, and none left for the next test."""
    await pool.execute("TRUNCATE outbox, webhooks, chat_channels")
    yield
    await pool.execute("TRUNCATE outbox, chat_channels")


async def add_channel(pool: asyncpg.Pool, robot: Robot, lang: str = "zh-CN") -> UUID:
    async with pool.acquire() as conn:
        channel = await service.create_chat_channel(
            conn,
            SYSTEM,
            ChatChannelCreate(
                platform=robot.platform,  # type: ignore[arg-type]
                name=f"{robot.platform} 风险群",
                url=robot.url,
                events=["incident.opened"],
                secret=None if robot.platform == "wecom" else SECRET,
                lang=lang,  # type: ignore[arg-type]
            ),
            allow_private=True,
        )
    return channel.id


async def emit(pool: asyncpg.Pool, event_type: str, data: object, dedupe_key: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await emit_event(conn, event_type, data, dedupe_key=dedupe_key)


async def test_each_platform_gets_the_alert_as_it_documents_it(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, clean_chat: None, robot: Robot
) -> None:
    channel_id = await add_channel(pool, robot)
    await emit(pool, "incident.opened", INCIDENT, dedupe_key=f"incident.opened:{robot.platform}")
    # The same event again (a retried transaction) queues nothing more.
    await emit(pool, "incident.opened", INCIDENT, dedupe_key=f"incident.opened:{robot.platform}")
    [row] = await pool.fetch("SELECT * FROM outbox WHERE channel = 'chat'")
    assert row["chat_channel_id"] == channel_id
    # The robot's address (its key or token) and signing secret are sealed: a dump shows neither.
    dump = await database_dump(worker_settings.database_url or "")
    robot_address = urlsplit(robot.url)
    assert robot_address.path not in dump
    assert not robot_address.query or robot_address.query not in dump
    assert SECRET not in dump
    assert await deliver_due(pool, http, worker_settings) == {"delivered": 1, "retrying": 0, "dead": 0}
    assert robot.problems == []
    [(_, body)] = robot.requests
    text = robot.text(body)
    assert "安全事件：云账房" in text
    assert "客户工资表外泄" in text
    assert "严重程度：严重" in text
    assert "《个人信息保护法》第五十七条" in text
    assert f"{worker_settings.public_url}/ui/incidents/{INCIDENT['incident_id']}" in text


async def test_an_english_channel_gets_english(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, clean_chat: None, robot: Robot
) -> None:
    await add_channel(pool, robot, lang="en")
    await emit(pool, "incident.opened", INCIDENT, dedupe_key=f"incident.opened:en:{robot.platform}")
    await deliver_due(pool, http, worker_settings)
    [(_, body)] = robot.requests
    assert "Security incident: 云账房" in robot.text(body)
    assert "PIPL art. 57" in robot.text(body)


async def test_an_error_body_is_retried_and_ends_dead_after_the_limit(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, clean_chat: None, robot: Robot
) -> None:
    await add_channel(pool, robot)
    robot.refuse = True
    await emit(pool, "incident.opened", INCIDENT, dedupe_key=f"incident.opened:refused:{robot.platform}")
    [message] = await pool.fetch("SELECT id FROM outbox WHERE channel = 'chat'")
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        due = await pool.fetchval("SELECT next_attempt_at FROM outbox WHERE id = $1", message["id"])
        outcomes.append(await deliver_due(pool, http, worker_settings, now=due))
    assert outcomes[:-1] == [{"delivered": 0, "retrying": 1, "dead": 0}] * (MAX_ATTEMPTS - 1)
    assert outcomes[-1] == {"delivered": 0, "retrying": 0, "dead": 1}
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM outbox WHERE id = $1", message["id"])
    code = ERROR[robot.platform].get("errcode", ERROR[robot.platform].get("code"))
    assert (row["status"], row["attempts"]) == ("dead", MAX_ATTEMPTS)
    assert f"refused the message: {code}" in row["last_error"]
    # Every attempt was a correct request; the robot refused it anyway.
    assert robot.problems == []
    assert len(robot.requests) == MAX_ATTEMPTS


async def test_a_wrong_signing_secret_is_refused_by_the_platform(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, clean_chat: None, robot: Robot
) -> None:
    if robot.platform == "wecom":
        pytest.skip("WeCom group robots are not signed")
    channel_id = await add_channel(pool, robot)
    await pool.execute(
        """
        UPDATE chat_channels
        SET secret = 'not-the-secret', secret_key_id = NULL, secret_nonce = NULL, secret_sealed = NULL
        WHERE id = $1
        """,
        channel_id,
    )
    await emit(pool, "incident.opened", INCIDENT, dedupe_key=f"incident.opened:badsign:{robot.platform}")
    assert await deliver_due(pool, http, worker_settings) == {"delivered": 0, "retrying": 1, "dead": 0}
    assert robot.problems == ["sign"]
    last_error = await pool.fetchval("SELECT last_error FROM outbox WHERE channel = 'chat'")
    assert str(ERROR[robot.platform].get("errcode", ERROR[robot.platform].get("code"))) in last_error
