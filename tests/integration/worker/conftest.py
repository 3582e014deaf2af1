"""Peers for the worker tests: a real SMTP server and a real HTTP receiver on loopback,
and a database of the package's own, so that whole-outbox assertions see only its rows."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import pytest

from tests.conftest import fresh_database
from tests.helpers import Mailbox, smtp_server
from vendor_risk.cli import prepare_database
from vendor_risk.db import create_pool
from vendor_risk.settings import Settings


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


class Delivery(msgspec.Struct):
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP endpoint answering each POST with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.statuses: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.received = threading.Event()
        self.lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                state.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            state.received.set()
            # A held receiver stands for a peer that is slow while its sender dies.
            state.hold.wait(timeout=30)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

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
        state.hold.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="package")
async def worker_settings(settings: Settings) -> AsyncIterator[Settings]:
    shared = settings.database_url or ""
    async with fresh_database(shared, f"{urlsplit(shared).path.lstrip('/')}_worker") as url:
        worker_settings = msgspec.structs.replace(settings, database_url=url, allow_private_webhooks=True)
        await prepare_database(worker_settings, quiet=True)
        yield worker_settings


@pytest.fixture(scope="package")
async def pool(worker_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(worker_settings.database_url or "", 1, 10, data_keys=worker_settings.data_keys)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
async def clean_outbox(pool: asyncpg.Pool) -> None:
    """Each test starts with no messages and no subscriptions, so it can speak of 'all'."""
    await pool.execute("TRUNCATE outbox, webhooks")


def ctx_for(pool: asyncpg.Pool, http: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    """What an arq worker hands a job, built by hand."""
    return {"db_pool": pool, "http": http, "settings": settings}
