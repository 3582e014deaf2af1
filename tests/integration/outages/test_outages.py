"""Outages: a Redis that stops (a real redis-server this test starts and stops) and a
PostgreSQL that cannot be reached (a pool pointed at a closed port)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import msgspec
import pytest
import redis.asyncio as aioredis
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from tests.helpers import free_port
from vendor_risk.app import create_app
from vendor_risk.assessments.tokens import generate_token
from vendor_risk.db import create_pool
from vendor_risk.settings import Settings
from vendor_risk.worker import run_worker

Client = AsyncTestClient[Litestar]
# arq closes its Redis pool with redis-py's deprecated close().
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


class RedisServer:
    """A redis-server of the test's own on a loopback port, started and stopped at will."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.dir = tmp
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_up(self) -> None:
        client = aioredis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    await client.ping()
                    return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        await server.wait_up()
        yield server
    finally:
        server.stop()


@contextmanager
def captured_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    previous = structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        processors=[structlog.processors.JSONRenderer()],
    )
    try:
        yield buffer
    finally:
        structlog.configure(**previous)


def events(buffer: io.StringIO) -> list[str]:
    return [
        json.loads(line).get("event", "") for line in buffer.getvalue().splitlines() if line.startswith("{")
    ]


async def test_with_redis_down_the_portal_pages_and_api_keep_working(
    settings: Settings, redis_server: RedisServer, make_user: MakeUser
) -> None:
    own = msgspec.structs.replace(settings, redis_url=redis_server.url)
    admin = await make_user("admin")
    async with AsyncTestClient(app=create_app(own), base_url="http://testserver.local") as client:
        assert (await client.get("/readyz")).json()["status"] == "ok"
        redis_server.stop()
        with captured_log() as log:
            # The portal answers (an unknown link is a 404 page, not a 500), rate limited per process.
            statuses = [(await client.get(f"/q/{generate_token()}")).status_code for _ in range(3)]
            assert statuses == [404, 404, 404]
            login = await client.get("/ui/login")
            assert login.status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            assert ready.json()["redis"].startswith("error")
            # A write commits; its worker kick is lost and logged (the minute sweep delivers).
            created = await client.post(
                "/api/v1/users",
                json={
                    "email": f"new-{generate_token()[:8].lower()}@example.com",
                    "name": "新同事",
                    "role": "auditor",
                },
                headers=admin["headers"],
            )
            assert created.status_code == 201, created.text
        logged = events(log)
        assert logged.count("rate limits fall back to a per-process limiter: Redis does not answer") == 1
        redis_server.start()
        await redis_server.wait_up()
        await asyncio.sleep(5.1)  # the fallback retries Redis after five seconds
        with captured_log() as log:
            assert (await client.get(f"/q/{generate_token()}")).status_code == 404
        assert "rate limits are back on Redis" in events(log)
        assert (await client.get("/readyz")).json()["status"] == "ok"


async def test_the_worker_comes_back_with_redis(settings: Settings, redis_server: RedisServer) -> None:
    own = msgspec.structs.replace(settings, redis_url=redis_server.url)
    probe = aioredis.from_url(redis_server.url)

    async def healthy() -> bool:
        for _ in range(100):
            if await probe.get("arq:queue:health-check"):
                return True
            await asyncio.sleep(0.1)
        return False

    with captured_log() as log:
        # No cron jobs: the sweeps would act on the shared test database.
        working = asyncio.create_task(run_worker(own, max_delay=1.0, cron_jobs=[], health_check_interval=1))
        try:
            assert await healthy()
            redis_server.stop()
            await asyncio.sleep(3)
            assert not working.done(), working
            redis_server.start()
            await redis_server.wait_up()
            assert await healthy()  # a fresh worker wrote its health check again
            assert not working.done()
        finally:
            working.cancel()
            with pytest.raises(asyncio.CancelledError):
                await working
            await probe.aclose()
    logged = events(log)
    assert "worker lost Redis; it starts again when Redis answers" in logged
    assert "worker reconnecting to Redis" in logged


async def test_with_postgres_down_every_request_is_a_503_problem(
    settings: Settings, make_user: MakeUser
) -> None:
    admin = await make_user("admin")
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        assert (await client.get("/api/v1/me", headers=admin["headers"])).status_code == 200
        working = app.state.db_pool
        # Made in the app's event loop (the test client runs the app in a loop of its own).
        dead = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
        app.state.db_pool = client.blocking_portal.call(create_pool, dead, 0, 2)
        try:
            for path, headers in [
                ("/api/v1/partners", admin["headers"]),
                ("/api/v1/me", {"Authorization": "Bearer vrk_" + "x" * 43}),
                (f"/q/{generate_token()}", {}),
                ("/ui", {"Cookie": "vr_ui_session=" + "x" * 43}),
                ("/readyz", {}),
            ]:
                response = await client.get(path, headers=headers)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["retry-after"].isdigit(), path
                if path != "/readyz":
                    assert response.headers["content-type"].startswith("application/problem+json"), path
                    assert response.json()["type"] == "urn:vendor-risk:problem:database-unavailable"
            assert (await client.get("/readyz")).json()["status"] == "unavailable"
            assert (await client.get("/healthz")).status_code == 200
        finally:
            closed: asyncpg.Pool = app.state.db_pool
            app.state.db_pool = working
            client.blocking_portal.call(closed.close)
