"""Prometheus metrics of the HTTP requests, the worker and the outbox.

The request metrics keep the names and labels Litestar's PrometheusMiddleware gave them
(``litestar_requests_total``, ``litestar_request_duration_seconds``,
``litestar_requests_in_progress``, ``litestar_requests_error_total``; labels ``method``,
``path`` (the route template), ``status_code``, ``app_name``), recorded by the app's one
request middleware with each label set's children looked up once, not per request.

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
from prometheus_client import Counter, Gauge, Histogram

from vendor_risk.notify.models import Channel, OutboxStatus

log = structlog.get_logger("vendor_risk.metrics")

SCRAPE_QUERY_TIMEOUT = 2.0

APP_NAME = "vendor_risk"
_HTTP_LABELS = ["method", "path", "status_code", "app_name"]
HTTP_REQUESTS = Counter("litestar_requests_total", "Total requests", _HTTP_LABELS)
HTTP_DURATION = Histogram("litestar_request_duration_seconds", "Request duration, in seconds", _HTTP_LABELS)
HTTP_IN_PROGRESS = Gauge(
    "litestar_requests_in_progress",
    "Total requests currently in progress",
    _HTTP_LABELS,
    multiprocess_mode="livesum",
)
HTTP_ERRORS = Counter("litestar_requests_error_total", "Total errors in requests", _HTTP_LABELS)

# Requests in progress per (method, route template), read when /metrics is scraped: a
# plain count per request instead of the gauge's locked increment and decrement.
_running: dict[tuple[str, str], int] = {}
_done: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}


def request_started(method: str, path_template: str) -> tuple[str, str]:
    """Count a request in progress; returns the key ``request_ended`` takes."""
    key = (method, path_template)
    running = _running.get(key)
    if running is None:
        # In progress has no status yet: labelled 200, as Litestar's middleware labels it.
        gauge = HTTP_IN_PROGRESS.labels(method, path_template, "200", APP_NAME)
        gauge.set_function(lambda: _running[key])
        running = 0
    _running[key] = running + 1
    return key


def request_ended(key: tuple[str, str]) -> None:
    _running[key] -= 1


def request_finished(method: str, path_template: str, status: int, seconds: float) -> None:
    """Count a request answered and its duration."""
    children = _done.get((method, path_template, status))
    if children is None:
        labels = (method, path_template, str(status), APP_NAME)
        children = _done[method, path_template, status] = (
            HTTP_REQUESTS.labels(*labels),
            HTTP_DURATION.labels(*labels),
            HTTP_ERRORS.labels(*labels) if status >= 500 else None,
        )
    count, duration, errors = children
    count.inc()
    duration.observe(seconds)
    if errors is not None:
        errors.inc()


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
