"""The development mailbox is `up`'s alone: with no SMTP server configured `up` keeps
outgoing mail in PostgreSQL and routes /ui/dev/mail; `serve` never does, whatever the
configuration."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_DATA_KEY
from tests.helpers import Mailbox, free_port
from tests.integration.worker.test_outbox_email import queue_email
from tests.integration.worker.test_up_delivers import printed, wait_for
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.queue import create_arq_pool
from vendor_risk.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_outbox")


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    return env | {
        "PYTHONUNBUFFERED": "1",
        "VENDOR_RISK_DATABASE_URL": settings.database_url or "",
        "VENDOR_RISK_REDIS_URL": settings.redis_url or "",
        "VENDOR_RISK_LOG_JSON": "false",
        # The test's pool seals emails with the test data key: `up` must hold it to open them.
        "VENDOR_RISK_DATA_KEYS": TEST_DATA_KEY,
    }


async def _start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("w") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vendor_risk", *command, cwd=cwd, env=env, stdout=out, stderr=out
        )


async def _stop(proc: asyncio.subprocess.Process, log: Path) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    assert proc.returncode == 0, printed(log)


async def _ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_up_without_smtp_keeps_mail_in_the_development_mailbox_and_serve_never_does(
    tmp_path: Path, worker_settings: Settings, pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    env = _env(worker_settings)
    port = free_port()
    log = tmp_path / "up.log"
    up = await _start(["up", "--port", str(port)], env, tmp_path, log)
    try:
        await wait_for(lambda: _ready(port), "up answering /readyz", log)
        assert "development mailbox" in printed(log)
        message_id = await queue_email(pool, to="newcomer@example.com", subject="第一封邮件")
        redis = await create_arq_pool(worker_settings.redis_url or "")
        try:
            await kick_outbox(redis)
        finally:
            await redis.aclose()

        async def kept() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM dev_mail WHERE outbox_id = $1", message_id))

        await wait_for(kept, "the email kept in the development mailbox", log)
        row = await pool.fetchrow("SELECT recipient, subject FROM dev_mail WHERE outbox_id = $1", message_id)
        assert (row["recipient"], row["subject"]) == ("newcomer@example.com", "第一封邮件")

        async def delivered() -> bool:
            return bool(
                await pool.fetchval("SELECT status FROM outbox WHERE id = $1", message_id) == "delivered"
            )

        await wait_for(delivered, "the delivery being recorded", log)
        # Routed (a visitor is sent to sign in), not a 404.
        async with httpx.AsyncClient() as client:
            shown = await client.get(f"http://127.0.0.1:{port}/ui/dev/mail")
        assert shown.status_code == 303
    finally:
        await _stop(up, log)
    assert mailbox[0].messages == []  # nothing went out by SMTP

    port = free_port()
    log = tmp_path / "serve.log"
    serve = await _start(["serve", "--port", str(port), "--skip-migrate"], env, tmp_path, log)
    try:
        await wait_for(lambda: _ready(port), "serve answering /readyz", log)
        async with httpx.AsyncClient() as client:
            absent = await client.get(f"http://127.0.0.1:{port}/ui/dev/mail")
        assert absent.status_code == 404
    finally:
        await _stop(serve, log)
