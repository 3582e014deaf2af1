"""The arq worker: cron sweeps and jobs.

PostgreSQL stays the source of truth: every sweep re-reads it, so a job lost with Redis
is found again by the next sweep, and every job is safe to run twice.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import httpx
import msgspec
import redis.exceptions
import structlog
from arq import cron
from arq.cron import CronJob
from arq.worker import Function, Retry, Worker, func

from vendor_risk import sweeps
from vendor_risk.assessments import rendering
from vendor_risk.audit import checkpoints as audit_checkpoints
from vendor_risk.audit.models import Actor
from vendor_risk.db import create_pool, database_url
from vendor_risk.i18n import messages
from vendor_risk.incidents import automation as incidents
from vendor_risk.metrics import JOBS_FAILED, JOBS_RETRIED, JOBS_STARTED
from vendor_risk.notices import service as notice_service
from vendor_risk.notify.delivery import deliver_due, kick_outbox
from vendor_risk.notify.repository import purge_delivered
from vendor_risk.partners import rating
from vendor_risk.queue import job_deserializer, job_serializer, redis_settings
from vendor_risk.reports import snapshots
from vendor_risk.settings import Settings

log = structlog.get_logger("vendor_risk.worker")

T = TypeVar("T")
Job = Callable[[dict[str, Any]], Awaitable[T]]

# Errors that say "PostgreSQL or Redis is unreachable right now", not "this job is wrong".
TEMPORARY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

_FUNCTIONS: dict[str, Function] = {}
RATING_REPAIRER = Actor(id=None, label="system: rating sweep")


def job(*, timeout: int, max_tries: int) -> Callable[[Job[T]], Job[T]]:
    """Register an arq job, counted in the metrics.

    A temporary error is turned into ``Retry`` (deferred 10 s, 20 s, 40 s … with jitter)
    until ``max_tries``; after that, and for any other error, the job fails and says why
    in the log. Results are not kept: PostgreSQL holds what a job did, and a kept result
    would block the next job enqueued with the same id.
    """

    def register(fn: Job[T]) -> Job[T]:
        name = fn.__name__

        @functools.wraps(fn)
        async def run(ctx: dict[str, Any]) -> T:
            JOBS_STARTED.labels(name).inc()
            try:
                return await fn(ctx)
            except TEMPORARY_ERRORS as exc:
                job_try = int(ctx.get("job_try", 1))
                if job_try >= max_tries:
                    JOBS_FAILED.labels(name).inc()
                    raise
                JOBS_RETRIED.labels(name).inc()
                defer = 10 * 2 ** (job_try - 1) * random.uniform(1.0, 1.5)  # noqa: S311 - jitter
                log.warning("job will retry", job=name, try_=job_try, error=f"{type(exc).__name__}: {exc}")
                raise Retry(defer=defer) from exc
            except Exception:
                JOBS_FAILED.labels(name).inc()
                raise

        _FUNCTIONS[name] = func(run, name=name, timeout=timeout, max_tries=max_tries, keep_result=0)
        return run

    return register


def _cron(job_name: str, **when: Any) -> CronJob:
    """A schedule for a registered job, with the job's timeout and tries."""
    function = _FUNCTIONS[job_name]
    # Its own name: a cron sharing the job's name would replace the job in the worker.
    return cron(
        function.coroutine,
        name=f"cron:{job_name}",
        timeout=function.timeout_s,
        max_tries=function.max_tries,
        unique=True,
        **when,
    )


def warm_up() -> None:
    """Read the message catalogue and compile the emails' templates now, once per process:
    on a busy 2-core machine that took ~1.6 s, which the first sweep to send an email
    (while holding its partners' locks) would otherwise pay."""
    messages()
    env = rendering.environment()
    for name in env.list_templates(filter_func=lambda name: name.startswith("email/")):
        env.get_template(name)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    warm_up()
    # Tests may inject their own pool and client.
    if "db_pool" not in ctx:
        ctx["db_pool"] = await create_pool(
            database_url(settings), 1, settings.db_pool_max, data_keys=settings.data_keys
        )
        ctx["owns_db_pool"] = True
    if "http" not in ctx:
        # Never follow redirects: a webhook URL is checked, the target of a redirect is not.
        ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        ctx["owns_http"] = True


async def shutdown(ctx: dict[str, Any]) -> None:
    if ctx.pop("owns_http", False):
        await ctx["http"].aclose()
    if ctx.pop("owns_db_pool", False):
        await ctx["db_pool"].close()


@job(timeout=300, max_tries=3)
async def deliver_outbox(ctx: dict[str, Any]) -> dict[str, int]:
    """Deliver the due outbox messages: kicked after commits, and swept every minute."""
    return await deliver_due(ctx["db_pool"], ctx["http"], ctx["settings"])


async def _kick_outbox(ctx: dict[str, Any]) -> None:
    """After a sweep wrote messages: a worker has its Redis in ctx; a test's ctx may not."""
    if "redis" in ctx:
        await kick_outbox(ctx["redis"])


@job(timeout=1800, max_tries=3)
async def sweep_expiries(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: alert agreements expiring, act on agreements expired, expire ended scopes,
    repair the dashboard counters."""
    report = await sweeps.sweep_expiries(ctx["db_pool"], ctx["settings"])
    await _kick_outbox(ctx)
    return msgspec.structs.asdict(report)


@job(timeout=1800, max_tries=3)
async def sweep_reassessments(ctx: dict[str, Any]) -> int:
    """Hourly: send the reassessments that cadence, a risen tier or a renewal made due."""
    sent = await sweeps.sweep_reassessments(ctx["db_pool"], ctx["settings"])
    await _kick_outbox(ctx)
    return sent


@job(timeout=1800, max_tries=3)
async def send_reminders(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: D-7, D-3, D-1 reminders, overdue escalations, expiry after the grace."""
    report = await sweeps.send_reminders(ctx["db_pool"], ctx["settings"])
    await _kick_outbox(ctx)
    return msgspec.structs.asdict(report)


@job(timeout=1800, max_tries=3)
async def verify_audit_chain(ctx: dict[str, Any]) -> int:
    """Daily: walk the audit chain against the checkpoints; a failure is recorded, and the
    admins are emailed and subscribers told (``audit.verify_failed``)."""
    _, report = await audit_checkpoints.run_scheduled_verify(ctx["db_pool"], ctx["settings"])
    if not report.ok:
        await _kick_outbox(ctx)
    return report.events_checked


@job(timeout=300, max_tries=3)
async def checkpoint_audit_chain(ctx: dict[str, Any]) -> int | None:
    """Hourly: sign the audit chain's head and send it out, when it moved."""
    settings: Settings = ctx["settings"]
    if settings.audit_signing_key is None:
        log.warning("no audit checkpoint: VENDOR_RISK_AUDIT_SIGNING_KEY is not set")
        return None
    async with ctx["db_pool"].acquire() as conn:
        checkpoint = await audit_checkpoints.create_checkpoint(conn, settings, only_if_moved=True)
    if checkpoint is None:
        return None
    log.info("audit checkpoint signed", seq=checkpoint.seq, hash=checkpoint.hash, key_id=checkpoint.key_id)
    await _kick_outbox(ctx)
    return checkpoint.seq


@job(timeout=1800, max_tries=3)
async def purge_outbox(ctx: dict[str, Any]) -> int:
    """Daily: delivered messages older than the retention keep only their metadata."""
    return await purge_delivered(ctx["db_pool"], ctx["settings"].outbox_retention_days)


@job(timeout=1800, max_tries=3)
async def repair_ratings(ctx: dict[str, Any]) -> int:
    """Daily after the expiry sweep (and at start): recompute every partner's residual
    rating, for what time changed (an acceptance past its date) or a change missed."""
    async with ctx["db_pool"].acquire() as conn:
        return await rating.repair(conn, RATING_REPAIRER, policy=ctx["settings"].policy.rating)


@job(timeout=1800, max_tries=3)
async def snapshot_portfolio(ctx: dict[str, Any]) -> int:
    """Hourly (and at start): refresh today's portfolio snapshot and back-fill the month
    ends of the past year that have none. Idempotent per day."""
    async with ctx["db_pool"].acquire() as conn:
        return await snapshots.take_snapshots(conn, datetime.now(UTC).date())


@job(timeout=1800, max_tries=3)
async def sweep_notices(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: security notice reminders before the due date (each once per contact) and
    one escalation per late partner to its owner."""
    settings: Settings = ctx["settings"]
    async with ctx["db_pool"].acquire() as conn:
        report = await notice_service.sweep_notices(conn, datetime.now(UTC).date(), settings, settings.policy)
    await _kick_outbox(ctx)
    return msgspec.structs.asdict(report)


# Incidents: the playbooks' automatic actions (kicked after commits) and the deadline sweep.
job(timeout=300, max_tries=3)(incidents.run_incident_actions)
job(timeout=300, max_tries=3)(incidents.escalate_incident_steps)


def cron_jobs() -> list[CronJob]:
    """The schedules, made afresh for each worker: a CronJob remembers its next run."""
    return [
        # The safety net under the kicks: delivers whatever a lost kick (or Redis) left.
        _cron("deliver_outbox", second={0}, run_at_startup=True),
        # 08:05 in China: alerts arrive at the start of the working day.
        _cron("sweep_expiries", hour={0}, minute={5}, run_at_startup=True),
        _cron("send_reminders", hour={1}, minute={5}, run_at_startup=True),
        _cron("sweep_notices", hour={1}, minute={15}, run_at_startup=True),
        _cron("sweep_reassessments", minute={25}, run_at_startup=True),
        _cron("verify_audit_chain", hour={3}, minute={17}),
        # At start too: a worker that was down for hours still signs the head it finds.
        _cron("checkpoint_audit_chain", minute={7}, run_at_startup=True),
        _cron("purge_outbox", hour={2}, minute={35}, run_at_startup=True),
        # After sweep_expiries lapsed the acceptances past their date.
        _cron("repair_ratings", hour={0}, minute={35}, run_at_startup=True),
        # Hourly, so a day's row ends within the hour before midnight UTC.
        _cron("snapshot_portfolio", minute={55}, run_at_startup=True),
        # Runs whatever actions a lost kick left, and escalates late steps, every minute.
        _cron("run_incident_actions", second={20}, run_at_startup=True),
        _cron("escalate_incident_steps", second={40}, run_at_startup=True),
    ]


class WorkerSettings:
    functions: list[Function] = list(_FUNCTIONS.values())
    on_startup = startup
    on_shutdown = shutdown
    job_serializer = job_serializer
    job_deserializer = job_deserializer
    job_timeout = 300
    max_tries = 5
    keep_result = 3600
    health_check_interval = 30


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    """A worker configured from settings; ``up`` and ``vendor-risk worker`` both use it."""
    if not settings.redis_url:
        raise RuntimeError("no Redis configured (VENDOR_RISK_REDIS_URL)")
    options: dict[str, Any] = {
        name: getattr(WorkerSettings, name)
        for name in (
            "functions",
            "on_startup",
            "on_shutdown",
            "job_serializer",
            "job_deserializer",
            "job_timeout",
            "max_tries",
            "keep_result",
            "health_check_interval",
        )
    }
    options["cron_jobs"] = cron_jobs()
    options["redis_settings"] = redis_settings(settings.redis_url)
    options["ctx"] = {"settings": settings}
    options["handle_signals"] = False
    options.update(overrides)
    return Worker(**options)


async def stop_worker(worker: Worker, grace: float = 20.0) -> None:
    """Close a worker whose main task was cancelled (Ctrl-C, SIGTERM).

    Jobs in flight get ``grace`` seconds to finish: one cut short is run again later, but
    a clean end repeats nothing. arq's ``close()`` awaits the job tasks again and would
    re-raise a cancelled one's ``CancelledError``, skipping its own clean-up, so they are
    awaited (and forgotten) here first.
    """
    running = [t for t in worker.tasks.values() if not t.done()]
    if running:
        await asyncio.wait(running, timeout=grace)
        for task in running:
            task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    await worker.close()


REDIS_LOST_ERRORS: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)


async def run_worker(settings: Settings, *, max_delay: float = 30.0, **overrides: Any) -> None:
    """Run a worker until cancelled, outliving Redis outages.

    arq's worker ends when its Redis connection breaks; ``up`` would end with it. Here a
    lost Redis is logged and a fresh worker starts as soon as Redis answers again (retried
    after 1, 2, 4 … up to ``max_delay`` seconds). Nothing is lost meanwhile: PostgreSQL
    holds the work, and the start-up sweeps of the new worker find it. Cancelling (Ctrl-C,
    SIGTERM) stops the current worker as ``stop_worker`` does.
    """
    delay = 1.0
    lost = False
    while True:
        worker = build_worker(settings, **overrides)
        try:
            await worker.async_run()
            return
        except asyncio.CancelledError:
            await _close_quietly(worker)
            raise
        except REDIS_LOST_ERRORS as exc:
            if not lost:
                log.warning(
                    "worker lost Redis; it starts again when Redis answers",
                    error=f"{type(exc).__name__}: {exc}",
                )
            lost = True
            await _close_quietly(worker)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
        if lost:
            log.info("worker reconnecting to Redis")


async def _close_quietly(worker: Worker) -> None:
    """``stop_worker``, and the shutdown hook even when Redis is gone (arq's ``close``
    talks to Redis before it runs the hook, so the PostgreSQL pool would leak)."""
    try:
        await stop_worker(worker)
    except REDIS_LOST_ERRORS:
        await shutdown(worker.ctx)  # idempotent: it closes only what it still owns
