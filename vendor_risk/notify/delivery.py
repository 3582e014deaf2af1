"""Delivering the outbox: claim due messages, send them, record what happened.

A message is sent by one worker at a time (``FOR UPDATE SKIP LOCKED`` plus a lease, see
``repository.claim_due``), at least once, and never again once recorded as delivered.
Temporary failures (timeouts, refused connections, HTTP 5xx/408/429, SMTP 4xx) are tried
again with exponential backoff and jitter; permanent ones (HTTP 4xx, SMTP 5xx, a refused
URL) and the last allowed attempt make the message ``dead``, shown with its last error in
``GET /api/v1/outbox`` until an admin retries it.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import aiosmtplib
import asyncpg
import httpx
import msgspec
import structlog
from arq.connections import ArqRedis
from litestar import Request
from redis import exceptions as redis_errors

from vendor_risk.metrics import OUTBOX_SENDS
from vendor_risk.notify import repository as repo
from vendor_risk.notify.chat import ChatPayload, ChatRefused, send_chat
from vendor_risk.notify.devmail import capture
from vendor_risk.notify.email import SmtpConnection
from vendor_risk.notify.outbox import open_email
from vendor_risk.notify.repository import Claimed
from vendor_risk.notify.webhooks import WebhookUrlRefused, send_webhook
from vendor_risk.settings import Settings

log = structlog.get_logger("vendor_risk.delivery")

MAX_ATTEMPTS = 8
BATCH_SIZE = 200
# Webhooks and chat robots of one batch are sent this many at a time.
HTTP_CONCURRENCY = 10
# Emails go over this many SMTP connections kept for the run, one after another on each:
# an email costs four round trips, so one connection mostly waits for the server, and
# several let it work on one while the next is on its way.
SMTP_CONNECTIONS = 8
# A run drains while messages are due, until this budget (below the job's 300 s timeout)
# is spent; the minute sweep starts the next run.
RUN_BUDGET = 240.0
# Longer than any one send can take (SEND_TIMEOUT), so a live worker never loses its claim.
LEASE = timedelta(minutes=5)
SEND_TIMEOUT = 90.0
# Emails of a batch not started this long after the claim are handed back unsent, so a
# slow server cannot keep a sequential batch past its lease.
BATCH_SEND_LIMIT = LEASE.total_seconds() / 2
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)

# Every kick shares this arq job id: a burst of commits becomes one queued job.
KICK_JOB_ID = "deliver_outbox:kick"


async def kick_outbox(redis: ArqRedis) -> None:
    """Ask a worker to deliver now; call it after committing messages to the outbox.

    A kick only hastens delivery (a sweep every minute delivers whatever a lost kick
    left), so an unreachable Redis is logged, never raised into the committed request.
    """
    try:
        await redis.enqueue_job("deliver_outbox", _job_id=KICK_JOB_ID)
    except (redis_errors.RedisError, OSError) as exc:
        log.warning("outbox kick lost; the minute sweep will deliver", error=f"{type(exc).__name__}: {exc}")


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def kick_outbox_after_write(request: Request[Any, Any, Any]) -> None:
    """``after_response`` hook: a write may have queued messages, so deliver them now.

    It runs once the response is sent, so the caller never waits for Redis; the kick's
    job id coalesces a burst of writes into one delivery run.
    """
    if request.method in WRITE_METHODS:
        await kick_outbox(request.app.state.redis)


class Undeliverable(Exception):
    """A message that no later attempt can deliver."""


def retry_delay(attempt: int) -> timedelta:
    """Backoff after failed attempt ``attempt`` (1, 2, …): 1, 2, 4 … minutes up to an hour,
    each drawn from its upper half so that messages failing together spread out."""
    # The exponent stops growing long after the cap is reached; timedelta would overflow.
    doubling: int = 2 ** min(attempt - 1, 20)
    ceiling = min(RETRY_CAP, RETRY_BASE * doubling)
    jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
    return ceiling * jitter


def describe_failure(exc: Exception) -> tuple[str, bool]:
    """What went wrong, as stored in ``last_error``, and whether a later try may succeed."""
    match exc:
        case httpx.HTTPStatusError(response=response):
            status = response.status_code
            return f"HTTP {status} {response.reason_phrase}", status >= 500 or status in (408, 429)
        case httpx.TimeoutException() | TimeoutError():
            return f"timed out ({type(exc).__name__})", True
        case httpx.TransportError():
            return f"connection failed ({type(exc).__name__}: {exc})", True
        case aiosmtplib.SMTPRecipientsRefused(recipients=refused):
            text = "; ".join(f"SMTP {r.code} {r.message} ({r.recipient})" for r in refused)
            return text, any(400 <= r.code < 500 for r in refused)
        case aiosmtplib.SMTPAuthenticationError():
            # The configuration is wrong, not the message: it may be fixed meanwhile.
            return f"SMTP login refused: {exc.code} {exc.message}", True
        case aiosmtplib.SMTPResponseException():
            return f"SMTP {exc.code} {exc.message}", 400 <= exc.code < 500
        case aiosmtplib.SMTPException() | OSError():
            return f"{type(exc).__name__}: {exc}", True
        case ChatRefused():
            # The platform's error body (a bad signature, a rate limit): tried again, then dead.
            return str(exc), True
        case WebhookUrlRefused():
            return f"URL refused: it {exc}", False
        case Undeliverable() | msgspec.ValidationError():
            return str(exc), False
    # An error nobody foresaw is a bug: keep its trace, and do not hammer the peer with it.
    log.error("outbox send failed unexpectedly", exc_info=exc)
    return f"{type(exc).__name__}: {exc}", False


async def _send(
    pool: asyncpg.Pool, claim: Claimed, http: httpx.AsyncClient, settings: Settings, smtp: SmtpConnection
) -> None:
    if claim.channel == "email":
        try:
            email = open_email(
                settings.data_keys, claim.id, claim.payload, claim.key_id, claim.nonce, claim.sealed
            )
        except RuntimeError as exc:  # its data key is gone, or the row was altered
            raise Undeliverable(str(exc)) from None
        if settings.dev_mailbox:
            # `up` with no SMTP server: the development mailbox keeps it (see devmail.py).
            await capture(pool, claim.id, claim.topic, email)
            return
        await smtp.send(claim.id, email)
        return
    if claim.channel == "chat":
        if not claim.chat_active or claim.chat_channel_id is None:
            raise Undeliverable("the chat channel was deleted")
        try:
            chat_url = repo.open_chat_url(
                settings.data_keys,
                claim.chat_channel_id,
                claim.chat_url,
                claim.chat_url_key_id,
                claim.chat_url_sealed,
            )
            chat_secret = repo.open_chat_secret(
                settings.data_keys,
                claim.chat_channel_id,
                claim.chat_secret,
                claim.chat_secret_key_id,
                claim.chat_secret_nonce,
                claim.chat_secret_sealed,
            )
        except RuntimeError as exc:
            raise Undeliverable(str(exc)) from None
        if chat_url is None:
            raise Undeliverable("the chat channel has no address")
        await send_chat(
            http,
            url=chat_url,
            secret=chat_secret,
            payload=msgspec.convert(claim.payload, ChatPayload),
            public_url=settings.public_url,
            allow_private=settings.allow_private_webhooks,
        )
        return
    secret = None
    if claim.webhook_id is not None:
        try:
            secret = repo.open_webhook_secret(
                settings.data_keys,
                claim.webhook_id,
                claim.webhook_secret,
                claim.webhook_secret_key_id,
                claim.webhook_secret_nonce,
                claim.webhook_secret_sealed,
            )
        except RuntimeError as exc:
            raise Undeliverable(str(exc)) from None
    if not claim.webhook_active or claim.webhook_url is None or secret is None:
        raise Undeliverable("the webhook subscription was deleted")
    await send_webhook(
        http,
        url=claim.webhook_url,
        secret=secret,
        message_id=claim.id,
        payload=claim.payload,
        allow_private=settings.allow_private_webhooks,
    )


async def _attempt(
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    settings: Settings,
    smtp: SmtpConnection,
    claim: Claimed,
    now: datetime | None,
) -> str:
    """Send one claimed message and record a failure; returns the outcome. Deliveries are
    recorded by the caller, a batch in one statement."""
    try:
        async with asyncio.timeout(SEND_TIMEOUT):
            await _send(pool, claim, http, settings, smtp)
    except Exception as exc:
        error, temporary = describe_failure(exc)
        if temporary and claim.attempt < MAX_ATTEMPTS:
            await repo.schedule_retry(pool, claim, now, retry_delay(claim.attempt), error)
            outcome = "retrying"
        else:
            await repo.mark_dead(pool, claim, error)
            outcome = "dead"
        log.warning(
            "outbox delivery failed",
            message_id=str(claim.id),
            channel=claim.channel,
            topic=claim.topic,
            attempt=claim.attempt,
            error=error,
            outcome=outcome,
        )
    else:
        outcome = "delivered"
        log.info(
            "outbox message delivered", message_id=str(claim.id), channel=claim.channel, topic=claim.topic
        )
    OUTBOX_SENDS.labels(claim.channel, outcome).inc()
    return outcome


async def _send_emails(
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    settings: Settings,
    lanes: list[SmtpConnection],
    claims: list[Claimed],
    now: datetime | None,
    outcomes: dict[UUID, str],
) -> None:
    """Over the run's SMTP connections, each taking the batch's next email when it is
    free (a batch holds at most one message per recipient, so their order is kept); those
    not started within ``BATCH_SEND_LIMIT`` are handed back unsent."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + BATCH_SEND_LIMIT
    waiting = deque(claims)

    async def lane(smtp: SmtpConnection) -> None:
        while waiting:
            if loop.time() > stop_at:
                unsent = list(waiting)
                waiting.clear()
                await repo.release(pool, unsent)
                return
            claim = waiting.popleft()
            outcomes[claim.id] = await _attempt(pool, http, settings, smtp, claim, now)

    await asyncio.gather(*(lane(smtp) for smtp in lanes[: len(claims)]))


async def _send_others(
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    settings: Settings,
    smtp: SmtpConnection,
    claims: list[Claimed],
    now: datetime | None,
    outcomes: dict[UUID, str],
) -> None:
    """Webhooks and chat robots, ``HTTP_CONCURRENCY`` at a time."""
    gate = asyncio.Semaphore(HTTP_CONCURRENCY)

    async def attempt(claim: Claimed) -> None:
        async with gate:
            outcomes[claim.id] = await _attempt(pool, http, settings, smtp, claim, now)

    await asyncio.gather(*(attempt(c) for c in claims))


async def deliver_due(
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    now: datetime | None = None,
    budget: float = RUN_BUDGET,
    smtp_connections: int = SMTP_CONNECTIONS,
) -> dict[str, int]:
    """Deliver every message due at ``now`` (the current time unless a test injects one),
    batch after batch while any is due, until ``budget`` seconds are spent; returns how
    many were delivered, are retrying and went dead.

    The emails of a run share ``smtp_connections`` SMTP connections (``SmtpConnection``),
    opened as needed and kept for the run; each message's
    failure is its own, retried with backoff or dead, as ever. A batch's deliveries are
    recorded together when it ends, even when the run is cancelled midway.
    """
    counts: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + budget
    lanes = [SmtpConnection(settings.smtp_url, settings.mail_from) for _ in range(smtp_connections)]
    try:
        # A delivered message may have made the next one of its recipient claimable, so
        # the run goes on until a claim finds nothing.
        while loop.time() < stop_at:
            claims = await repo.claim_due(pool, now=now, lease=LEASE, limit=BATCH_SIZE)
            if not claims:
                break
            outcomes: dict[UUID, str] = {}
            try:
                await asyncio.gather(
                    _send_emails(
                        pool,
                        http,
                        settings,
                        lanes,
                        [c for c in claims if c.channel == "email"],
                        now,
                        outcomes,
                    ),
                    _send_others(
                        pool,
                        http,
                        settings,
                        lanes[0],
                        [c for c in claims if c.channel != "email"],
                        now,
                        outcomes,
                    ),
                )
            finally:
                delivered = [c for c in claims if outcomes.get(c.id) == "delivered"]
                await repo.mark_delivered(pool, delivered, now)
            counts.update(outcomes.values())
    finally:
        await asyncio.gather(*(smtp.close() for smtp in lanes))
    return {outcome: counts[outcome] for outcome in ("delivered", "retrying", "dead")}
