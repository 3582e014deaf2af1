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
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

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
# Webhooks and chat robots are sent this many at a time, each lane one after another.
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
# Messages not started this long after their claim are handed back unsent, so a slow
# server cannot keep the queue past its lease.
BATCH_SEND_LIMIT = LEASE.total_seconds() / 2
# The next batch is claimed once no more than this many of the last wait for a lane.
REFILL_AT = BATCH_SIZE // 2
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

    Claimed messages wait in two queues: emails for ``smtp_connections`` lanes, each an
    SMTP connection kept for the run (``SmtpConnection``), webhooks and chat robots for
    ``HTTP_CONCURRENCY`` lanes. Each lane takes the next message when it is free, so the
    database work (the next claim, recording the deliveries so far) overlaps the sending
    instead of pausing every lane between batches. Each message's failure is its own,
    retried with backoff or dead, as ever. Deliveries are recorded before each claim and
    when the run ends, even when it is cancelled midway.
    """
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + budget
    counts: Counter[str] = Counter()
    # Sent but not yet recorded, and claimed but not started in time (handed back).
    delivered: list[Claimed] = []
    unsent: list[Claimed] = []
    emails: asyncio.Queue[tuple[float, Claimed] | None] = asyncio.Queue()
    others: asyncio.Queue[tuple[float, Claimed] | None] = asyncio.Queue()
    taken = asyncio.Event()
    smtps = [SmtpConnection(settings.smtp_url, settings.mail_from) for _ in range(smtp_connections)]

    async def lane(queue: asyncio.Queue[tuple[float, Claimed] | None], smtp: SmtpConnection) -> None:
        while (item := await queue.get()) is not None:
            taken.set()
            start_by, claim = item
            try:
                if loop.time() > start_by:
                    unsent.append(claim)
                    continue
                outcome = await _attempt(pool, http, settings, smtp, claim, now)
                counts[outcome] += 1
                if outcome == "delivered":
                    delivered.append(claim)
            finally:
                queue.task_done()

    async def record() -> None:
        done, unsent_now = delivered[:], unsent[:]
        delivered.clear()
        unsent.clear()
        await repo.mark_delivered(pool, done, now)
        await repo.release(pool, unsent_now)

    async def feed() -> None:
        # Whether every message claimed so far has been tried: only then does a claim
        # that finds nothing mean that nothing is due.
        settled = True
        while loop.time() < stop_at:
            # Recorded first: a delivered message may have made the next one of its
            # recipient claimable.
            await record()
            claims = await repo.claim_due(pool, now=now, lease=LEASE, limit=BATCH_SIZE)
            if not claims:
                if settled:
                    break
                await emails.join()
                await others.join()
                settled = True
                continue
            settled = False
            # Messages not started this long after the claim are handed back unsent, so a
            # slow server cannot keep them past their lease.
            start_by = loop.time() + BATCH_SEND_LIMIT
            for claim in claims:
                (emails if claim.channel == "email" else others).put_nowait((start_by, claim))
            # The next claim is made while the lanes send what remains of this one.
            while emails.qsize() > REFILL_AT or others.qsize() > REFILL_AT:
                taken.clear()
                await taken.wait()
        await emails.join()
        await others.join()
        for _ in smtps:
            emails.put_nowait(None)
        for _ in range(HTTP_CONCURRENCY):
            others.put_nowait(None)

    tasks = [
        asyncio.create_task(feed()),
        *(asyncio.create_task(lane(emails, smtp)) for smtp in smtps),
        # The SMTP connection is not used for webhooks and chat robots.
        *(asyncio.create_task(lane(others, smtps[0])) for _ in range(HTTP_CONCURRENCY)),
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        # A failed lane or feed (the database gone) or a cancelled run stops them all.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await record()
        finally:
            await asyncio.gather(*(smtp.close() for smtp in smtps))
    return {outcome: counts[outcome] for outcome in ("delivered", "retrying", "dead")}
