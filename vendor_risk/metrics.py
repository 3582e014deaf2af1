"""Prometheus metrics of the worker and the outbox.

Job and delivery counters count in the process that runs the jobs: they are on the API's
``/metrics`` with ``vendor-risk up`` (one process), and on the worker's own port
(``VENDOR_RISK_WORKER_METRICS_PORT``) for ``vendor-risk worker``. The outbox gauges are
read from PostgreSQL each time ``/metrics`` is scraped (one query on the status index),
so they stay true when no worker runs, which is when a growing outbox matters.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import structlog
from litestar import Request
from prometheus_client import Counter, Gauge

from vendor_risk.notify.models import Channel, OutboxStatus

log = structlog.get_logger("vendor_risk.metrics")

SCRAPE_QUERY_TIMEOUT = 2.0

JOBS_STARTED = Counter("vendor_risk_jobs_started", "arq jobs started", ["job"])
JOBS_FAILED = Counter("vendor_risk_jobs_failed", "arq jobs that ended in an error", ["job"])
JOBS_RETRIED = Counter(
    "vendor_risk_jobs_retried", "arq jobs deferred for another try after a temporary error", ["job"]
)
OUTBOX_SENDS = Counter(
    "vendor_risk_outbox_sends",
    "Outbox delivery attempts by outcome (delivered, retrying, dead)",
    ["channel", "outcome"],
)
OUTBOX_MESSAGES = Gauge(
    "vendor_risk_outbox_messages",
    "Outbox messages waiting (pending) or given up (dead)",
    ["channel", "status"],
)
OUTBOX_OLDEST_PENDING_AGE = Gauge(
    "vendor_risk_outbox_oldest_pending_age_seconds",
    "Age of the oldest undelivered outbox message (0 when none waits)",
    ["channel"],
)

_CHANNELS: tuple[Channel, ...] = ("email", "webhook")
_UNDELIVERED: tuple[OutboxStatus, ...] = ("pending", "dead")


async def refresh_outbox_gauges(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch(
        """
        SELECT channel, status, count(*) AS messages,
               extract(epoch FROM now() - min(created_at))::float8 AS oldest_age
        FROM outbox WHERE status IN ('pending', 'dead')
        GROUP BY channel, status
        """
    )
    found = {(r["channel"], r["status"]): r for r in rows}
    for channel in _CHANNELS:
        for status in _UNDELIVERED:
            row = found.get((channel, status))
            OUTBOX_MESSAGES.labels(channel, status).set(row["messages"] if row else 0)
        pending = found.get((channel, "pending"))
        OUTBOX_OLDEST_PENDING_AGE.labels(channel).set(max(pending["oldest_age"], 0.0) if pending else 0)


async def refresh_before_scrape(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of ``/metrics``: a slow or absent database must not stop the
    other metrics from being served, so the gauges then keep their last values."""
    try:
        async with asyncio.timeout(SCRAPE_QUERY_TIMEOUT):
            await refresh_outbox_gauges(request.app.state.db_pool)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("outbox metrics not refreshed", error=f"{type(exc).__name__}: {exc}")
