"""The arq worker: cron sweeps and jobs.

PostgreSQL stays the source of truth: every sweep re-reads it, so a job lost with Redis
is found again by the next sweep, and every job is safe to run twice.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from arq import cron
from arq.worker import Worker

from vendor_risk import audit
from vendor_risk.db import create_pool, database_url
from vendor_risk.queue import job_deserializer, job_serializer, redis_settings
from vendor_risk.settings import Settings

log = structlog.get_logger("vendor_risk.worker")


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    # Tests may inject their own pool and client.
    if "db_pool" not in ctx:
        ctx["db_pool"] = await create_pool(database_url(settings), 1, settings.db_pool_max)
        ctx["owns_db_pool"] = True
    if "http" not in ctx:
        ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        ctx["owns_http"] = True


async def shutdown(ctx: dict[str, Any]) -> None:
    if ctx.pop("owns_http", False):
        await ctx["http"].aclose()
    if ctx.pop("owns_db_pool", False):
        await ctx["db_pool"].close()


async def verify_audit_chain(ctx: dict[str, Any]) -> int:
    """Walk the audit chain daily so tampering is noticed without anyone asking."""
    async with ctx["db_pool"].acquire() as conn:
        checked, broken = await audit.service.verify(conn)
    if broken is not None:
        log.error("audit chain broken", seq=broken.seq, reason=broken.reason, checked=checked)
    else:
        log.info("audit chain intact", checked=checked)
    return checked


class WorkerSettings:
    functions: list[Any] = [verify_audit_chain]
    cron_jobs: list[Any] = [
        cron(verify_audit_chain, hour={3}, minute={17}, run_at_startup=False, unique=True),
    ]
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
            "cron_jobs",
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
    options["redis_settings"] = redis_settings(settings.redis_url)
    options["ctx"] = {"settings": settings}
    options["handle_signals"] = False
    options.update(overrides)
    return Worker(**options)
