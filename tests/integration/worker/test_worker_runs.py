"""The worker as it runs: lost Redis, killed and concurrent workers, the health check."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest
from arq.connections import ArqRedis
from arq.worker import Retry
from prometheus_client import REGISTRY

from tests.helpers import Mailbox, free_port
from tests.integration.worker.conftest import Receiver, ctx_for
from tests.integration.worker.test_outbox_email import queue_email
from tests.integration.worker.test_outbox_webhooks import emit, subscribe
from vendor_risk.db import create_pool
from vendor_risk.notify.delivery import BATCH_SIZE, LEASE, deliver_due, kick_outbox
from vendor_risk.notify.email import message_id_for
from vendor_risk.queue import create_arq_pool
from vendor_risk.settings import Settings
from vendor_risk.worker import build_worker, deliver_outbox, stop_worker

pytestmark = [
    pytest.mark.usefixtures("clean_outbox"),
    # arq's Worker.close() calls redis-py's close(), deprecated for aclose() since redis 5.0.1.
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest.fixture
async def redis(worker_settings: Settings) -> AsyncIterator[ArqRedis]:
    """The queue, emptied: a stopped worker leaves its next cron runs queued."""
    redis = await create_arq_pool(worker_settings.redis_url or "")
    await redis.flushdb()
    try:
        yield redis
    finally:
        await redis.aclose()


def with_smtp(settings: Settings, port: int) -> Settings:
    return msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")


async def run_burst(settings: Settings) -> None:
    """Run a real worker until its queue is empty, as `vendor-risk worker` would run it."""
    worker = build_worker(settings, burst=True)
    try:
        await worker.run_check()
    finally:
        await worker.close()


async def statuses(pool: asyncpg.Pool, ids: list[UUID]) -> Counter[str]:
    rows = await pool.fetch("SELECT status FROM outbox WHERE id = ANY($1::uuid[])", ids)
    return Counter(r["status"] for r in rows)


def copies_received(box: Mailbox, ids: list[UUID], settings: Settings) -> Counter[int]:
    """How many copies of each message arrived, counted by copies: {1: n} is n, once each.

    The worker's start-up sweeps may send other mail too; only these messages count here.
    """
    received = Counter(m["Message-ID"] for m in box.messages)
    return Counter(received[message_id_for(i, settings.mail_from)] for i in ids)


async def test_kicked_job_runs_on_a_real_worker(
    worker_settings: Settings, pool: asyncpg.Pool, redis: ArqRedis, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = with_smtp(worker_settings, port)
    ids = [await queue_email(pool, subject="kicked")]
    # A burst of commits kicks many times; the shared job id keeps one job in the queue.
    for _ in range(5):
        await kick_outbox(redis)
    assert await redis.zcard("arq:queue") == 1

    await run_burst(settings)

    assert copies_received(box, ids, settings) == {1: 1}
    assert await statuses(pool, ids) == {"delivered": 1}


async def test_redis_emptied_between_enqueue_and_run_still_delivers(
    worker_settings: Settings, pool: asyncpg.Pool, redis: ArqRedis, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = with_smtp(worker_settings, port)
    ids = [await queue_email(pool, subject=f"message {i}") for i in range(3)]
    await kick_outbox(redis)
    # FLUSHDB rather than FLUSHALL: a CI Redis may be shared with other test runs.
    await redis.flushdb()
    assert await redis.zcard("arq:queue") == 0

    # The job is gone; the minute sweep (which also runs when a worker starts) reads
    # PostgreSQL and delivers everything anyway.
    await run_burst(settings)

    assert copies_received(box, ids, settings) == {1: 3}
    assert await statuses(pool, ids) == {"delivered": 3}


async def test_two_workers_deliver_each_message_exactly_once(
    worker_settings: Settings, pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = with_smtp(worker_settings, port)
    # Each to an inbox of its own: one inbox's messages go out one after the other. More
    # than one batch, so that the first claim cannot take them all.
    count = BATCH_SIZE + 45
    ids = [await queue_email(pool, to=f"p{i}@example.com", subject=f"message {i}") for i in range(count)]
    second_pool = await create_pool(settings.database_url or "", 1, 5)
    try:
        async with httpx.AsyncClient() as http:
            reports = await asyncio.gather(
                deliver_due(pool, http, settings), deliver_due(second_pool, http, settings)
            )
    finally:
        await second_pool.close()

    assert sum(r["delivered"] for r in reports) == count
    # Both took part: SKIP LOCKED handed them disjoint batches.
    assert all(r["delivered"] > 0 for r in reports)
    assert copies_received(box, ids, settings) == {1: count}
    assert await pool.fetchval("SELECT max(attempts) FROM outbox WHERE id = ANY($1::uuid[])", ids) == 1


async def test_two_real_workers_started_together_send_once(
    worker_settings: Settings, pool: asyncpg.Pool, redis: ArqRedis, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = with_smtp(worker_settings, port)
    ids = [await queue_email(pool, subject=f"message {i}") for i in range(25)]
    await kick_outbox(redis)

    await asyncio.gather(run_burst(settings), run_burst(settings))

    assert copies_received(box, ids, settings) == {1: 25}
    assert await statuses(pool, ids) == {"delivered": 25}


async def test_worker_killed_mid_send_is_delivered_after_the_lease(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await subscribe(pool, receiver.url, ["assessment.overdue"])
    await emit(pool, "assessment.overdue", {"assessment_id": "a-1"})
    message_id: UUID = await pool.fetchval("SELECT id FROM outbox")

    # The receiver holds the request; the worker dies while waiting for the answer.
    receiver.hold.clear()
    dying = asyncio.create_task(deliver_due(pool, http, worker_settings))
    assert await asyncio.to_thread(receiver.received.wait, 10)
    dying.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await dying
    receiver.hold.set()

    claimed = await pool.fetchrow("SELECT * FROM outbox WHERE id = $1", message_id)
    assert (claimed["status"], claimed["attempts"]) == ("pending", 1)
    # While the lease lasts, no other worker takes it.
    assert await deliver_due(pool, http, worker_settings) == {"delivered": 0, "retrying": 0, "dead": 0}

    after_lease = claimed["next_attempt_at"]
    assert after_lease - claimed["created_at"] >= LEASE
    assert await deliver_due(pool, http, worker_settings, now=after_lease) == {
        "delivered": 1,
        "retrying": 0,
        "dead": 0,
    }
    first, second = receiver.deliveries
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(message_id)
    row = await pool.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", message_id)
    assert (row["status"], row["attempts"]) == ("delivered", 2)


async def worker_check(settings: Settings) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = settings.database_url or ""
    env["VENDOR_RISK_REDIS_URL"] = settings.redis_url or ""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vendor_risk",
        "worker",
        "--check",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


async def test_worker_check_reports_a_running_worker(worker_settings: Settings, redis: ArqRedis) -> None:
    assert await worker_check(worker_settings) == 1

    worker = build_worker(worker_settings)
    running = asyncio.create_task(worker.async_run())
    try:
        for _ in range(100):
            if await redis.exists("arq:queue:health-check"):
                break
            await asyncio.sleep(0.1)
        assert await worker_check(worker_settings) == 0
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await stop_worker(worker)

    assert await worker_check(worker_settings) == 1


DELIVERIES_STARTED = re.compile(
    r'^vendor_risk_jobs_started_total\{job="deliver_outbox"\} (\S+)$', re.MULTILINE
)


async def test_worker_process_serves_its_job_metrics(worker_settings: Settings) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env |= {
        "VENDOR_RISK_DATABASE_URL": worker_settings.database_url or "",
        "VENDOR_RISK_REDIS_URL": worker_settings.redis_url or "",
        "VENDOR_RISK_WORKER_METRICS_PORT": str(port),
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vendor_risk",
        "worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        started: list[float] = []
        async with httpx.AsyncClient() as http:
            # Up to 70 s: a loaded machine may take half a minute to start the process, and
            # if its start-up delivery was taken for one already queued in this Redis
            # database (arq keys jobs by id), the next minute's run at :00 is counted.
            for _ in range(350):
                with contextlib.suppress(httpx.HTTPError):
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                    started = [float(n) for n in DELIVERIES_STARTED.findall(text)]
                # The minute sweep also runs as the worker starts, and queues a delivery
                # (more than one if the outbox has work): each start is counted.
                if started and started[0] >= 1:
                    break
                await asyncio.sleep(0.2)
        assert started, "no delivery counted"
        assert started[0] >= 1
    finally:
        worker.send_signal(signal.SIGINT)
        printed, _ = await asyncio.wait_for(worker.communicate(), 30)
    assert worker.returncode == 0, printed.decode()


async def test_unreachable_database_defers_the_job_then_fails_it(
    worker_settings: Settings, http: httpx.AsyncClient
) -> None:
    unreachable = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/x", min_size=0)

    def count(metric: str) -> float:
        return REGISTRY.get_sample_value(f"vendor_risk_jobs_{metric}_total", {"job": "deliver_outbox"}) or 0.0

    retried, failed = count("retried"), count("failed")
    try:
        ctx = ctx_for(unreachable, http, worker_settings)
        with pytest.raises(Retry):
            await deliver_outbox(ctx | {"job_try": 1})
        # The last allowed try fails for good, with the real error.
        with pytest.raises(ConnectionRefusedError):
            await deliver_outbox(ctx | {"job_try": 3})
    finally:
        await unreachable.close()
    assert (count("retried"), count("failed")) == (retried + 1, failed + 1)
