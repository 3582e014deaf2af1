"""Fault drill: portal saves, assessment sends and outbox deliveries under load while Redis is
flushed, killed and restarted, the worker is killed (SIGKILL) and restarted, and the
PostgreSQL cluster itself is crashed (``pg_ctl stop -m immediate``) and started again.

A run on the development machine: 116 messages (58 emails, 58 webhook events), 51 of
72 saves and 40 of 50 notices acknowledged around the faults, 3 worker kills, nothing lost
or doubled, about 50 s.

Afterwards every message is delivered, each arrives under one id (a receiver that
deduplicates by ``Message-ID`` / ``webhook-id`` sees it exactly once), every acknowledged
save and send is in the database with its audit event, and the audit chain verifies.

The drill runs its own PostgreSQL cluster (Debian's server binaries, ``pg_ctl``) and its
own Redis, so that killing them disturbs no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from tests.conftest import TEST_DATA_KEY, user_maker
from tests.helpers import Mailbox, free_port, new_credit_code, smtp_server
from tests.integration.assessments.conftest import EXAMPLE, Partner
from vendor_risk.app import create_app
from vendor_risk.audit.service import verify_report
from vendor_risk.cli import prepare_database
from vendor_risk.db import connect, create_pool
from vendor_risk.notify.delivery import LEASE, deliver_due
from vendor_risk.notify.email import message_id_for
from vendor_risk.notify.outbox import Email, emit_event, enqueue_email
from vendor_risk.questionnaires.loader import load_file
from vendor_risk.questionnaires.service import load_template
from vendor_risk.settings import Settings, load_settings, parse_data_keys

# Debian's server binaries, the newest major version installed (CI installs one).
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent")
)
pytestmark = [
    pytest.mark.skipif(not (PG_BIN / "pg_ctl").exists(), reason="needs PostgreSQL's server binaries"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

PARTNERS = 6
SAVES_PER_PARTNER = 12
EXTRA_SENDS = 12
# Messages another domain writes meanwhile: an email and a webhook event in one transaction.
NOTICES = 50


class Cluster:
    """A PostgreSQL cluster of the drill's own, which it may crash and restart."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vr-drill-pg-"))
        self.port = free_port()
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", self.user, "--", *args] if self.user else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def crash(self) -> None:
        """Stop as a power cut would: no checkpoint, recovery from the WAL at the next start."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
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
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class Receiver:
    """A webhook endpoint on loopback that keeps every delivery's ``webhook-id``."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.ids.append(self.headers["webhook-id"])
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """`vendor-risk worker` as its own process, to be killed without mercy."""

    def __init__(self, settings: Settings) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
        self.env |= {
            "VENDOR_RISK_DATABASE_URL": settings.database_url or "",
            "VENDOR_RISK_REDIS_URL": settings.redis_url or "",
            "VENDOR_RISK_SMTP_URL": settings.smtp_url,
            "VENDOR_RISK_DATA_KEYS": TEST_DATA_KEY,
            "VENDOR_RISK_ALLOW_PRIVATE_WEBHOOKS": "true",
            "VENDOR_RISK_LOG_LEVEL": "WARNING",
        }
        self.process: asyncio.subprocess.Process | None = None
        self.kills = 0

    async def start(self) -> None:
        if self.process is not None and self.process.returncode is None:
            return
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vendor_risk",
            "worker",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
            self.kills += 1

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                await self.kill()


@dataclass
class Ledger:
    """What the service acknowledged to its callers during the drill."""

    acked_saves: dict[str, list[int]] = field(default_factory=dict)  # assessment id -> values
    tried_saves: dict[str, list[int]] = field(default_factory=dict)
    acked_sends: list[str] = field(default_factory=list)
    acked_messages: list[str] = field(default_factory=list)
    failures: int = 0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root needs a postgres user to run the drill's cluster")
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.destroy()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def drill_settings(cluster: Cluster, own_redis: RedisServer, mailbox: tuple[Mailbox, int]) -> Settings:
    settings = load_settings(
        {},
        database_url=cluster.url,
        redis_url=own_redis.url,
        data_keys=parse_data_keys("test", TEST_DATA_KEY),
        public_url="http://testserver.local",
        smtp_url=f"smtp://127.0.0.1:{mailbox[1]}",
        allow_private_webhooks=True,
        session_secret="drill-" * 8,
        log_level="ERROR",
    )
    for _ in range(50):
        try:
            await prepare_database(settings, quiet=True)
            break
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.2)
    conn = await connect(cluster.url)
    try:
        await load_template(conn, load_file(EXAMPLE), EXAMPLE.name)
    finally:
        await conn.close()
    return settings


def partner_body(owner_id: str) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    return {
        "name": f"演练合作方 {tag}",
        "legal_name": f"演练科技有限公司 {tag}",
        "credit_code": new_credit_code(),
        "country": "CN",
        "business_criticality": "medium",
        "services": ["payroll"],
        "owner_id": owner_id,
        "contacts": [{"name": "李雷", "email": f"li.{tag}@partner.example.com", "primary": True}],
    }


async def send_one(client: Any, headers: dict[str, str], owner_id: str) -> dict[str, Any] | None:
    """Create a partner and send it the questionnaire; ``None`` unless both were acknowledged."""
    created = await client.post("/api/v1/partners", json=partner_body(owner_id), headers=headers)
    if created.status_code != 201:
        return None
    sent = await client.post(
        f"/api/v1/partners/{created.json()['id']}/assessments",
        json={"kind": "onboarding", "questionnaires": ["valid-example"]},
        headers=headers,
    )
    if sent.status_code != 201:
        return None
    result: dict[str, Any] = sent.json()
    return result


async def test_nothing_is_lost_or_doubled_through_redis_worker_and_postgres_faults(
    drill_settings: Settings,
    cluster: Cluster,
    own_redis: RedisServer,
    receiver: Receiver,
    mailbox: tuple[Mailbox, int],
) -> None:
    settings = drill_settings
    make_user = user_maker(settings)
    admin = await make_user("admin")
    procurement = await make_user("procurement")
    owner = await make_user("risk_owner")
    ledger = Ledger()
    worker = Worker(settings)
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        hook = await client.post(
            "/api/v1/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=admin["headers"]
        )
        assert hook.status_code == 201, hook.text
        assessments = []
        for _ in range(PARTNERS):
            sent = await send_one(client, procurement["headers"], str(owner["id"]))
            assert sent is not None
            assessments.append(sent)
            ledger.acked_sends.append(sent["assessment"]["id"])
        await worker.start()
        chaos_over = asyncio.Event()

        async def saves(sent: dict[str, Any]) -> None:
            me = Partner(client, sent["link"], lang="en")
            assessment_id = sent["assessment"]["id"]
            for value in range(1, SAVES_PER_PARTNER + 1):
                ledger.tried_saves.setdefault(assessment_id, []).append(value)
                try:
                    saved = await me.save(0, "access", {"ac-1": "yes", "ac-2": value})
                except (AssertionError, OSError, asyncpg.PostgresError, httpx.HTTPError):
                    saved = None
                if saved is not None and saved.status_code == 303:
                    ledger.acked_saves.setdefault(assessment_id, []).append(value)
                else:
                    ledger.failures += 1
                # Spread over the whole chaos sequence (about 12 s).
                await asyncio.sleep(0.8)

        async def sends() -> None:
            for _ in range(EXTRA_SENDS):
                try:
                    sent = await send_one(client, procurement["headers"], str(owner["id"]))
                except (OSError, asyncpg.PostgresError, httpx.HTTPError):
                    sent = None
                if sent is not None:
                    ledger.acked_sends.append(sent["assessment"]["id"])
                await asyncio.sleep(0.6)

        async def notices() -> None:
            writer = await create_pool(settings.database_url or "", 1, 2, data_keys=settings.data_keys)
            try:
                for n in range(NOTICES):
                    try:
                        async with writer.acquire() as conn, conn.transaction():
                            message = await enqueue_email(
                                conn,
                                topic="drill.notice",
                                email=Email(
                                    to=f"n{n}@example.com", subject=f"通知 {n}", text=f"/q/drill-{n}"
                                ),
                            )
                            await emit_event(conn, "finding.opened", {"n": n})
                        ledger.acked_messages.append(str(message))
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        pass
                    await asyncio.sleep(0.15)
            finally:
                await writer.close()

        async def chaos() -> None:
            flusher = aioredis.from_url(own_redis.url)
            try:
                await asyncio.sleep(1.0)
                await flusher.flushall()  # every queued job and rate-limit counter gone
            finally:
                await flusher.aclose()
            await asyncio.sleep(1.0)
            await worker.kill()
            await asyncio.sleep(0.5)
            await worker.start()
            await asyncio.sleep(1.0)
            own_redis.kill()  # Redis gone, with everything in it
            await asyncio.sleep(2.0)
            own_redis.start()
            await asyncio.sleep(1.0)
            await worker.kill()
            await worker.start()
            await asyncio.sleep(1.0)
            await asyncio.to_thread(cluster.crash)  # PostgreSQL gone mid-transaction
            await asyncio.sleep(1.5)
            await asyncio.to_thread(cluster.start)
            await asyncio.sleep(1.0)
            await worker.kill()  # a worker whose pool saw the crash, replaced for good measure
            await worker.start()
            chaos_over.set()

        await asyncio.gather(chaos(), sends(), notices(), *(saves(sent) for sent in assessments))
        assert chaos_over.is_set()

    # Let the live worker drain what it can; then deliver what the killed workers had
    # claimed as if their five-minute lease had passed (the drill does not wait for it).
    pool = await create_pool(settings.database_url or "", 1, 4, data_keys=settings.data_keys)
    try:
        for _ in range(100):
            if not await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= now()"
            ):
                break
            await asyncio.sleep(0.3)
        await worker.stop()
        later = await pool.fetchval("SELECT now()") + LEASE + timedelta(hours=2)
        async with httpx.AsyncClient(timeout=10) as http:
            await deliver_due(pool, http, settings, now=later)

        rows = await pool.fetch("SELECT id, channel, status, last_error FROM outbox")
        assert {r["status"] for r in rows} == {"delivered"}, [
            dict(r) for r in rows if r["status"] != "delivered"
        ]
        box, _ = mailbox
        email_ids = {message_id_for(r["id"], settings.mail_from) for r in rows if r["channel"] == "email"}
        webhook_ids = {str(r["id"]) for r in rows if r["channel"] == "webhook"}
        arrived_emails = [m["Message-ID"] for m in box.messages]
        assert set(arrived_emails) == email_ids
        assert set(receiver.ids) == webhook_ids
        # A worker killed between sending and recording sends that message again, under
        # the same id: at most one batch per kill.
        doubled = len(arrived_emails) - len(email_ids) + len(receiver.ids) - len(webhook_ids)
        assert doubled <= 10 * worker.kills, doubled
        assert len(email_ids) >= len(ledger.acked_sends) + len(ledger.acked_messages)
        assert {message_id_for(UUID(m), settings.mail_from) for m in ledger.acked_messages} <= email_ids
        assert len(webhook_ids) >= len(ledger.acked_sends)

        # Every acknowledged send is there; every acknowledged save is, with its audit event.
        stored_sends = await pool.fetchval(
            "SELECT count(*) FROM assessments WHERE id = ANY($1::uuid[])", ledger.acked_sends
        )
        assert stored_sends == len(ledger.acked_sends)
        assert sum(map(len, ledger.acked_saves.values())) > len(assessments)  # the load got through
        for assessment_id, acked in ledger.acked_saves.items():
            answers = await pool.fetchval(
                "SELECT answers FROM assessment_parts WHERE assessment_id = $1", assessment_id
            )
            stored = int(answers["ac-2"]["value"])
            tried = ledger.tried_saves[assessment_id]
            # The last acknowledged value, or a later one whose answer was lost in a fault
            # after its commit: never an earlier one.
            assert stored in tried[tried.index(acked[-1]) :], (stored, acked)
            audited = await pool.fetch(
                """
                SELECT (after -> 'answers' -> 'ac-2' ->> 'value')::numeric::int AS value FROM audit_events
                WHERE action = 'assessment.section_saved' AND entity_id = $1
                """,
                assessment_id,
            )
            assert set(acked) <= {r["value"] for r in audited}
        async with pool.acquire() as conn:
            report = await verify_report(conn)
        assert report.ok, [b.describe() for b in report.breaks]
    finally:
        await worker.kill()
        await pool.close()
