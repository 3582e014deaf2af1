"""An isolated service for the assessment tests: a database of its own (so outbox and
mailbox assertions see only this package's messages), a real SMTP server (aiosmtpd) that
the worker's delivery function sends to, and helpers that act as staff and as partner."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.stores.redis import RedisStore
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser, fresh_database, user_maker
from tests.helpers import Mailbox, new_credit_code, smtp_server
from vendor_risk.app import create_app
from vendor_risk.cli import prepare_database
from vendor_risk.db import connect, create_pool
from vendor_risk.notify.delivery import deliver_due
from vendor_risk.questionnaires.loader import load_file
from vendor_risk.questionnaires.service import load_template
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]
User = dict[str, Any]
EXAMPLE = Path(__file__).parents[2] / "fixtures" / "questionnaires" / "valid-example.yaml"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture(scope="package")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="package")
async def settings(settings: Settings, smtp: tuple[Mailbox, int]) -> AsyncIterator[Settings]:
    """The session's settings with a database of this package's own and our SMTP server;
    the test questionnaire (every question type, a condition, required evidence) is loaded."""
    shared = settings.database_url or ""
    # Unique: the browser tests set up this same fixture for their own package.
    name = f"{urlsplit(shared).path.lstrip('/')}_assess_{secrets.token_hex(3)}"
    async with fresh_database(shared, name) as url:
        own = msgspec.structs.replace(settings, database_url=url, smtp_url=f"smtp://127.0.0.1:{smtp[1]}")
        await prepare_database(own, quiet=True)
        conn = await connect(url)
        try:
            await load_template(conn, load_file(EXAMPLE), EXAMPLE.name)
        finally:
            await conn.close()
        yield own


@pytest.fixture(scope="package")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="package")
async def client(app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture(scope="package")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url or "", 1, 10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(autouse=True)
async def fresh_rate_limits(settings: Settings) -> None:
    """Every test starts with unspent portal rate limits (all tests share one client address)."""
    redis = aioredis.from_url(settings.redis_url or "")
    try:
        await RedisStore(redis, namespace="vendor_risk:ratelimit").delete_all()
    finally:
        await redis.aclose()


@pytest.fixture(scope="package")
def make_user(settings: Settings) -> MakeUser:
    return user_maker(settings)


@pytest.fixture(scope="package")
async def procurement(make_user: MakeUser) -> User:
    return await make_user("procurement", name="采购 赵敏")


@pytest.fixture(scope="package")
async def risk_owner(make_user: MakeUser) -> User:
    return await make_user("risk_owner", name="王芳")


@pytest.fixture(scope="package")
async def auditor(make_user: MakeUser) -> User:
    return await make_user("auditor")


NewPartner = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_partner(client: Client, procurement: User, risk_owner: User) -> NewPartner:
    async def create(**overrides: Any) -> dict[str, Any]:
        tag = secrets.token_hex(3)
        body: dict[str, Any] = {
            "name": f"云账房 {tag}",
            "legal_name": f"北京云账房网络科技有限公司 {tag}",
            "credit_code": new_credit_code(),
            "country": "CN",
            "business_criticality": "medium",
            "services": ["cloud accounting"],
            "owner_id": str(risk_owner["id"]),
            "contacts": [
                {
                    "name": "李雷",
                    "email": f"li.lei.{tag}@partner.example.com",
                    "primary": True,
                    "locale": "zh-CN",
                },
                {"name": "Han Meimei", "email": f"han.{tag}@partner.example.com", "locale": "en"},
            ],
        } | overrides
        response = await client.post("/api/v1/partners", json=body, headers=procurement["headers"])
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create


Send = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def send(client: Client, procurement: User) -> Send:
    """Send the test questionnaire to a partner's primary contact; returns the response."""

    async def run(partner_id: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "onboarding", "questionnaires": ["valid-example"]} | overrides
        response = await client.post(
            f"/api/v1/partners/{partner_id}/assessments", json=body, headers=procurement["headers"]
        )
        assert response.status_code == 201, response.text
        sent: dict[str, Any] = response.json()
        return sent

    return run


def portal_path(link: str) -> str:
    """The path of a portal link (the tests' client has the public host as its base)."""
    return urlsplit(link).path


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Partner:
    """A partner's browser without JavaScript: reads pages, posts their forms with CSRF."""

    def __init__(self, client: Client, link: str, lang: str = "zh-CN") -> None:
        self.client = client
        self.base = portal_path(link)
        self.lang = lang

    async def get(self, path: str = "", **params: str) -> httpx.Response:
        return await self.client.get(self.base + path, params={"lang": self.lang, **params})

    async def save(
        self,
        part: int,
        section: str,
        answers: dict[str, Any],
        *,
        files: dict[str, tuple[str, bytes]] | None = None,
        action: str = "save",
        version: int | None = None,
        present: list[str] | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> httpx.Response:
        """Post a section form as a browser would: ``answers`` maps question id to a value,
        a list (checkboxes), ``None`` (left blank) or ``"N/A"``."""
        page = await self.get(f"/s/{part}/{section}")
        assert page.status_code == 200, page.text
        if version is None:
            found = re.search(r'name="answers_version" value="(\d+)"', page.text)
            assert found
            version = int(found.group(1))
        fields: dict[str, list[str]] = {
            "_csrf_token": [csrf_of(page.text)],
            "answers_version": [str(version)],
            "action": [action],
            "present": present or list(answers),
        }
        for qid, value in answers.items():
            if value == "N/A":
                fields[f"na:{qid}"] = ["1"]
            elif isinstance(value, list):
                fields[f"a:{qid}"] = [str(v) for v in value]
            elif value is not None:
                fields[f"a:{qid}"] = [str(value)]
        for name, value in extra or []:
            fields.setdefault(name, []).append(value)
        upload = {f"f:{qid}": (name, data) for qid, (name, data) in (files or {}).items()}
        return await self.client.post(
            f"{self.base}/s/{part}/{section}",
            params={"lang": self.lang},
            data=fields,
            files=upload or None,
            follow_redirects=False,
        )

    async def submit(self, name: str = "李雷", confirm: bool = True) -> httpx.Response:
        page = await self.get("/submit")
        # With something missing the page has no form; the token is the CSRF cookie's value.
        csrf = csrf_of(page.text) if "_csrf_token" in page.text else self.client.cookies["vr_portal_csrf"]
        data = {"_csrf_token": csrf, "submitter": name}
        if confirm:
            data["confirm"] = "1"
        return await self.client.post(
            f"{self.base}/submit", params={"lang": self.lang}, data=data, follow_redirects=False
        )


async def deliver(pool: asyncpg.Pool, settings: Settings) -> dict[str, int]:
    """Run the worker's outbox delivery once, as the worker's job does."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        return await deliver_due(pool, http, settings)


def link_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    found = re.search(r"https?://\S+/q/[A-Za-z0-9_-]{43}", text)
    assert found, text
    return found.group(0)


async def complete(me: Partner, **answers: Any) -> httpx.Response:
    """Answer the test questionnaire fully (``answers`` override the good defaults), with the
    required evidence, and submit."""
    values = {"ac-1": "yes", "ac-2": "1", "dh-1": "aes256", "dh-3": ["encrypted", "tested"]} | answers
    access = await me.save(0, "access", {k: values[k] for k in ("ac-1", "ac-2")})
    assert access.status_code == 303, access.text
    data = await me.save(
        0,
        "data",
        {k: values.get(k) for k in ("dh-1", "dh-2", "dh-3", "dh-4")},
        files={"dh-3": ("backup.pdf", PDF)},
    )
    assert data.status_code == 303, data.text
    submitted = await me.submit()
    assert submitted.status_code == 303, submitted.text
    return submitted


async def make_active_ready(client: Client, partner_id: str, procurement: User) -> None:
    """An NDA in force and the partner onboarding: only the assessment gates remain."""
    nda = await client.post(
        f"/api/v1/partners/{partner_id}/agreements",
        json={
            "kind": "nda",
            "title": "保密协议",
            "signed_on": "2025-01-10",
            "effective_from": "2025-01-10",
            "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "李雷"}],
            "category_ids": [],
        },
        headers=procurement["headers"],
    )
    assert nda.status_code == 201, nda.text
    moved = await client.post(
        f"/api/v1/partners/{partner_id}/transitions",
        json={"to": "onboarding", "reason": "开始准入"},
        headers=procurement["headers"],
    )
    assert moved.status_code == 200, moved.text


Review = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def review(client: Client, risk_owner: User) -> Review:
    async def run(assessment_id: str, decision: str = "approve", **body: Any) -> dict[str, Any]:
        response = await client.post(
            f"/api/v1/assessments/{assessment_id}/review",
            json={"decision": decision, **body},
            headers=risk_owner["headers"],
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    return run
