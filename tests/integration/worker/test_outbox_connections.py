"""Outbox emails share a few SMTP connections per run, survive a server that drops it, and a
run drains a backlog of several batches."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest

from tests.helpers import Mailbox
from tests.integration.worker.conftest import ctx_for
from vendor_risk.notify import delivery
from vendor_risk.notify.delivery import BATCH_SIZE, SMTP_CONNECTIONS, deliver_due
from vendor_risk.notify.email import message_id_for
from vendor_risk.notify.outbox import Email, enqueue_email
from vendor_risk.settings import Settings
from vendor_risk.worker import deliver_outbox

pytestmark = pytest.mark.usefixtures("clean_outbox")


async def queue_emails(pool: asyncpg.Pool, count: int) -> list[UUID]:
    """``count`` emails, each to an inbox of its own (one inbox's go out one by one)."""
    ids: list[UUID] = []
    async with pool.acquire() as conn, conn.transaction():
        for i in range(count):
            email = Email(to=f"partner{i}@example.com", subject=f"问卷 {i}", text="Open the link.", lang="en")
            message_id = await enqueue_email(conn, topic="test.email", email=email)
            assert message_id is not None
            ids.append(message_id)
    return ids


def watch_connections(box: Mailbox, *, drop_after: int | None = None) -> list[Any]:
    """The client address of every accepted message; with ``drop_after``, the server
    closes the connection right after accepting that many messages (once)."""
    peers: list[Any] = []
    accept = box.handle_DATA

    async def handle_data(server: Any, session: Any, envelope: Any) -> str:
        answer = await accept(server, session, envelope)
        peers.append(session.peer)
        if drop_after is not None and len(peers) == drop_after:
            asyncio.get_running_loop().call_soon(server.transport.close)
        return answer

    box.handle_DATA = handle_data  # type: ignore[method-assign]
    return peers


def smtp(settings: Settings, port: int) -> Settings:
    return msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")


async def statuses(pool: asyncpg.Pool, ids: list[UUID]) -> dict[tuple[str, int], int]:
    rows = await pool.fetch(
        "SELECT status, attempts, count(*) AS n FROM outbox WHERE id = ANY($1::uuid[]) GROUP BY 1, 2", ids
    )
    return {(r["status"], r["attempts"]): r["n"] for r in rows}


async def test_many_emails_go_over_a_few_kept_connections(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    peers = watch_connections(box)
    ids = await queue_emails(pool, 30)

    report = await deliver_outbox(ctx_for(pool, http, smtp(worker_settings, port)))

    assert report == {"delivered": 30, "retrying": 0, "dead": 0}
    assert len(peers) == 30
    assert 1 < len(set(peers)) <= SMTP_CONNECTIONS
    # Each keeps its own stable Message-ID.
    assert sorted(m["Message-ID"] for m in box.messages) == sorted(
        message_id_for(i, worker_settings.mail_from) for i in ids
    )
    assert await statuses(pool, ids) == {("delivered", 1): 30}


async def test_a_connection_dropped_mid_batch_is_reopened_and_nothing_is_lost(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    peers = watch_connections(box, drop_after=10)
    ids = await queue_emails(pool, 30)

    report = await deliver_due(pool, http, smtp(worker_settings, port), smtp_connections=1)

    # The eleventh found the connection closed and went out on a fresh one, first try.
    assert report == {"delivered": 30, "retrying": 0, "dead": 0}
    assert len(set(peers)) == 2
    assert len(set(peers[:10])) == 1
    assert len(set(peers[10:])) == 1
    assert sorted(m["To"] for m in box.messages) == sorted(f"partner{i}@example.com" for i in range(30))
    assert await statuses(pool, ids) == {("delivered", 1): 30}


async def test_a_refusal_mid_batch_is_that_email_s_alone(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    peers = watch_connections(box)
    ids = await queue_emails(pool, 5)
    box.refuse_next = 1

    report = await deliver_due(pool, http, smtp(worker_settings, port), smtp_connections=1)

    # The greylisted one waits for its backoff; the others went on over the same connection.
    assert report == {"delivered": 4, "retrying": 1, "dead": 0}
    assert len(set(peers)) == 1
    assert await statuses(pool, ids) == {("delivered", 1): 4, ("pending", 1): 1}


async def test_one_run_drains_a_backlog_of_several_batches(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    count = 2 * BATCH_SIZE + 7
    ids = await queue_emails(pool, count)

    report = await deliver_outbox(ctx_for(pool, http, smtp(worker_settings, port)))

    assert report == {"delivered": count, "retrying": 0, "dead": 0}
    assert len(box.messages) == count
    assert await statuses(pool, ids) == {("delivered", 1): count}


async def test_emails_not_started_in_time_are_handed_back_unsent(
    worker_settings: Settings,
    pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, port = mailbox
    ids = await queue_emails(pool, 3)
    # As if the server were so slow that none could start before its lease runs short.
    monkeypatch.setattr(delivery, "BATCH_SEND_LIMIT", -1.0)

    report = await deliver_due(pool, http, smtp(worker_settings, port), budget=0.5)

    assert report == {"delivered": 0, "retrying": 0, "dead": 0}
    assert box.messages == []
    # Due again at once, the attempt that never was not counted.
    assert await statuses(pool, ids) == {("pending", 0): 3}
