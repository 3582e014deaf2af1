"""A live server for the browser: the assessment tests' isolated service, served by uvicorn
on a loopback port in a thread of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pyotp
import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from tests.helpers import free_port
from tests.integration.assessments.conftest import (  # noqa: F401 - fixtures shared with the portal tests
    app,
    client,
    fresh_rate_limits,
    make_user,
    new_partner,
    procurement,
    risk_owner,
    send,
    settings,
    smtp,
)
from vendor_risk.app import create_app
from vendor_risk.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
)


@pytest.fixture(scope="package")
def live_url(settings: Settings) -> Iterator[str]:  # noqa: F811 - the imported fixture
    # An app of its own: its lifespan opens pools on the server thread's event loop.
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in_page(page: Any, user: dict[str, Any]) -> None:
    """Sign ``user`` in on the Chinese sign-in form the page shows now: email and password,
    then, where the role needs one, the authenticator code (the user's last spent code step
    is forgotten first, so this sign-in's code is fresh)."""
    await page.get_by_label("电子邮箱").fill(user["email"])
    await page.get_by_label("密码").fill(user["password"])
    await page.get_by_role("button", name="登录").click()
    if user.get("totp_secret"):
        conn = await asyncpg.connect(user["database_url"])
        try:
            await conn.execute("UPDATE users SET totp_last_step = NULL WHERE id = $1", user["id"])
        finally:
            await conn.close()
        await page.get_by_label("验证码").fill(pyotp.TOTP(user["totp_secret"]).now())
        await page.get_by_role("button", name="验证").click()
