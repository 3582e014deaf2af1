"""Test fixtures: a fresh database per run on real PostgreSQL and Redis.

With VENDOR_RISK_TEST_DATABASE_URL and VENDOR_RISK_TEST_REDIS_URL set (CI), the run
creates its own database on that server and drops it afterwards; without them it starts
embedded servers in a temporary directory, so `uv run pytest` needs nothing installed.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pyotp
import pytest
from hypothesis import settings as hypothesis_settings
from litestar import Litestar
from litestar.testing import AsyncTestClient

from vendor_risk.app import create_app
from vendor_risk.audit.models import SYSTEM
from vendor_risk.auth import service as auth_service
from vendor_risk.auth.models import Role, UserCreate
from vendor_risk.auth.passwords import hash_password
from vendor_risk.cli import prepare_database
from vendor_risk.db import connect
from vendor_risk.documents import TOTP_SECRET, seal_text
from vendor_risk.settings import Settings, load_settings, parse_data_keys

# Tests never time anything: Hypothesis' default 200 ms deadline per example is a wall-clock
# assertion, and it failed property tests on a loaded machine.
hypothesis_settings.register_profile("vendor-risk", deadline=None)
hypothesis_settings.load_profile("vendor-risk")

TEST_DATA_KEY = f"test:{base64.b64encode(b'k' * 32).decode()}"
METRICS_TOKEN = "test-metrics-token-0123456789"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


class Servers:
    def __init__(self, admin_database_url: str, redis_url: str) -> None:
        self.admin_database_url = admin_database_url
        self.redis_url = redis_url


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    db_url = os.environ.get("VENDOR_RISK_TEST_DATABASE_URL")
    redis_url = os.environ.get("VENDOR_RISK_TEST_REDIS_URL")
    if db_url and redis_url:
        yield Servers(db_url, redis_url)
        return
    from vendor_risk.embedded import EmbeddedServers

    with tempfile.TemporaryDirectory(prefix="vr-test-") as tmp:
        embedded = EmbeddedServers(Path(tmp), delete_on_stop=True).start()
        try:
            yield Servers(db_url or embedded.database_url, redis_url or embedded.redis_url)
        finally:
            embedded.stop()


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_database(admin_url: str, name: str | None = None) -> tuple[str, str]:
    name = name or f"vr_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, with_database(admin_url, name)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(admin_url: str, name: str | None = None) -> AsyncIterator[str]:
    """A new empty database on ``admin_url``'s server, dropped on exit: yields its URL."""
    name, url = await create_database(admin_url, name)
    try:
        yield url
    finally:
        await drop_database(admin_url, name)


@pytest.fixture(scope="session")
async def database_url(servers: Servers) -> AsyncIterator[str]:
    async with fresh_database(servers.admin_database_url) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(servers: Servers) -> str:
    # A database index of its own, so parallel runs on one Redis do not share queues.
    parts = urlsplit(servers.redis_url)
    index = 1 + secrets.randbelow(15)
    if parts.scheme == "unix":
        return urlunsplit(parts._replace(query=f"db={index}"))
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture(scope="session")
async def settings(database_url: str, redis_url: str) -> Settings:
    settings = load_settings(
        {},
        database_url=database_url,
        redis_url=redis_url,
        data_keys=parse_data_keys("test", TEST_DATA_KEY),
        public_url="http://testserver.local",
        log_json=True,
        log_level="WARNING",
        smtp_url="smtp://127.0.0.1:1",
        metrics_token=METRICS_TOKEN,
    )
    await prepare_database(settings, quiet=True)
    return settings


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    # With the data keys, as the app's pool has them: what a test writes is sealed alike.
    conn = await connect(settings.database_url or "", data_keys=settings.data_keys)
    try:
        yield conn
    finally:
        await conn.close()


MakeUser = Callable[..., Awaitable[dict[str, Any]]]
# Every test user signs in to the pages with this password (hashed once per run).
TEST_PASSWORD = "correct staff password 2026"
_test_password_hash: list[str] = []


async def _password_hash() -> str:
    if not _test_password_hash:
        _test_password_hash.append(await hash_password(TEST_PASSWORD))
    return _test_password_hash[0]


def user_maker(settings: Settings) -> MakeUser:
    """``make(role, **fields)`` creates a user in ``settings``' database; it returns the
    user's id, email, key and auth headers, and the password (and TOTP secret, where the
    role requires a second factor) that the staff pages' ``browser(user)`` signs in with."""

    async def make(role: Role | str = Role.ADMIN, **fields: Any) -> dict[str, Any]:
        role = Role(role)
        email = fields.pop("email", f"{role.value}-{secrets.token_hex(4)}@example.com")
        data = UserCreate(email=email, name=fields.pop("name", f"Test {role.value}"), role=role, **fields)
        totp_secret = pyotp.random_base32() if role.value in settings.policy.second_factor_roles else None
        conn = await connect(settings.database_url or "")
        try:
            created = await auth_service.create_user(conn, SYSTEM, data)
            # Sealed as the service seals it (the secret stays in this dict for the test).
            key_id, sealed = (
                seal_text(settings.data_keys, TOTP_SECRET, created.user.id, totp_secret)
                if totp_secret and settings.data_keys
                else (None, None)
            )
            await conn.execute(
                """
                UPDATE users SET password_hash = $2, totp_secret = $3, totp_key_id = $4, totp_sealed = $5,
                    totp_enabled_at = CASE WHEN $6 THEN now() END
                WHERE id = $1
                """,
                created.user.id,
                await _password_hash(),
                totp_secret if sealed is None else None,
                key_id,
                sealed,
                totp_secret is not None,
            )
        finally:
            await conn.close()
        return {
            "id": created.user.id,
            "email": email,
            "key": created.key,
            "headers": {"Authorization": f"Bearer {created.key}"},
            "password": TEST_PASSWORD,
            "totp_secret": totp_secret,
            "database_url": settings.database_url,
        }

    return make


@pytest.fixture(scope="session")
def make_user(settings: Settings) -> MakeUser:
    """Create a user with a role; returns its id, email, key and auth headers."""
    return user_maker(settings)


@pytest.fixture(scope="session")
async def admin(make_user: MakeUser) -> dict[str, Any]:
    return await make_user(Role.ADMIN)
