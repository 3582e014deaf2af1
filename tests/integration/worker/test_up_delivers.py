"""`vendor-risk up` runs the worker in its own process: an email written to the outbox
reaches the configured SMTP server without starting anything else."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_DATA_KEY
from tests.helpers import Mailbox, free_port
from tests.integration.worker.test_outbox_email import queue_email
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.queue import create_arq_pool
from vendor_risk.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_outbox")

WITHIN = 60.0


def printed(log: Path) -> str:
    return log.read_text()


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, log: Path) -> None:
    for _ in range(int(WITHIN / 0.2)):
        if await condition():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"{what} did not happen within {WITHIN}s:\n{printed(log)}")


async def test_up_delivers_outbox_email_to_the_configured_server(
    tmp_path: Path, worker_settings: Settings, pool: asyncpg.Pool, mailbox: tuple[Mailbox, int]
) -> None:
    box, smtp_port = mailbox
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env |= {
        "PYTHONUNBUFFERED": "1",
        "VENDOR_RISK_DATABASE_URL": worker_settings.database_url or "",
        "VENDOR_RISK_REDIS_URL": worker_settings.redis_url or "",
        "VENDOR_RISK_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "VENDOR_RISK_LOG_JSON": "false",
        # The test's pool seals emails with the test data key: `up` must hold it to open them.
        "VENDOR_RISK_DATA_KEYS": TEST_DATA_KEY,
    }
    log = tmp_path / "up.log"
    with log.open("w") as out:
        up = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vendor_risk",
            "up",
            "--port",
            str(port),
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:

        async def ready() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_for(ready, "up answering /readyz", log)
        message_id = await queue_email(pool, to="newcomer@example.com", subject="第一封邮件 / first email")
        redis = await create_arq_pool(worker_settings.redis_url or "")
        try:
            await kick_outbox(redis)
        finally:
            await redis.aclose()

        def newcomers() -> list[EmailMessage]:
            return [m for m in box.messages if m["To"] == "newcomer@example.com"]

        async def arrived() -> bool:
            return bool(newcomers())

        await wait_for(arrived, "the email arriving", log)
        [email] = newcomers()
        assert email["Subject"] == "第一封邮件 / first email"

        # The worker records the outcome just after the SMTP server accepted the message.
        async def recorded() -> bool:
            status = await pool.fetchval("SELECT status FROM outbox WHERE id = $1", message_id)
            return bool(status == "delivered")

        await wait_for(recorded, "the delivery being recorded", log)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(up.wait(), 30)
        except TimeoutError:
            up.kill()
            await up.wait()
    assert up.returncode == 0, printed(log)
