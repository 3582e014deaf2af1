"""The staff pages' tests run on the assessment tests' service (its own database, the test
questionnaire loaded, a real SMTP server), and drive the pages as a browser without
JavaScript would: each staff member has a cookie jar of their own."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pyotp
import pytest

from tests.integration.assessments.conftest import (  # noqa: F401 - fixtures shared with this package
    Client,
    app,
    auditor,
    client,
    csrf_of,
    fresh_rate_limits,
    make_user,
    new_partner,
    pool,
    procurement,
    review,
    risk_owner,
    send,
    settings,
    smtp,
)


class Browser:
    """A staff member's browser: a cookie jar of its own over the shared test client (which
    runs the app in its own event loop), forms posted with their CSRF token."""

    def __init__(self, client: Client) -> None:  # noqa: F811 - the imported fixture's name
        self.client = client
        self.cookies = httpx.Cookies()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        saved = self.client.cookies
        self.client.cookies = self.cookies
        try:
            return await self.client.request(method, path, follow_redirects=False, **kwargs)
        finally:
            self.cookies = self.client.cookies
            self.client.cookies = saved

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, data: dict[str, Any] | None = None, **params: str) -> httpx.Response:
        return await self.request("POST", path, data=data, params=params or None)

    async def sign_in(
        self, email: str, password: str, lang: str = "en", next_page: str = "/ui"
    ) -> httpx.Response:
        """The first step: email and password (a 303 to the page or to the second step)."""
        page = await self.get("/ui/login", lang=lang)
        assert page.status_code == 200, page.text
        return await self.post(
            "/ui/login",
            {"_csrf_token": csrf_of(page.text), "email": email, "password": password, "next": next_page},
            lang=lang,
        )

    async def enter_code(self, code: str, lang: str = "en") -> httpx.Response:
        page = await self.get("/ui/login/code", lang=lang)
        assert page.status_code == 200, page.text
        return await self.post("/ui/login/code", {"_csrf_token": csrf_of(page.text), "code": code}, lang=lang)

    async def sign_in_as(self, user: dict[str, Any], lang: str = "en") -> httpx.Response:
        """Both steps for a test user: password, then a TOTP code where the role needs one;
        ``lang`` is the language picked on the sign-in page."""
        signed = await self.sign_in(user["email"], user["password"], lang=lang)
        assert signed.status_code == 303, signed.text
        if user.get("totp_secret"):
            assert signed.headers["location"] == "/ui/login/code", signed.headers
            signed = await self.enter_code(await fresh_code(user), lang=lang)
            assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/ui", signed.headers
        return signed

    async def submit(
        self, page_path: str, action: str, fields: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Post a form found on ``page_path`` (its CSRF token taken from that page)."""
        page = await self.get(page_path)
        assert page.status_code == 200, page.text
        return await self.post(action, {"_csrf_token": csrf_of(page.text), **(fields or {})})


OpenBrowser = Callable[..., Awaitable[Browser]]
# The last TOTP time step each test user spent here: a code is accepted once.


async def fresh_code(user: dict[str, Any]) -> str:
    """A code of a time step this user has not spent: now, or the next one (one step of
    drift is allowed); when both are spent (a third sign-in within 30 s) the database
    forgets the last step instead. The spent step is read from the database, not kept
    here: pytest may import this module twice (as ``conftest`` and by its dotted name)."""
    totp = pyotp.TOTP(user["totp_secret"])
    current = int(time.time() // 30)
    conn = await asyncpg.connect(user["database_url"])
    try:
        last = await conn.fetchval("SELECT totp_last_step FROM users WHERE id = $1", user["id"])
        step = current if last is None or last < current else last + 1
        if step > current + 1:
            await conn.execute("UPDATE users SET totp_last_step = NULL WHERE id = $1", user["id"])
            step = current
    finally:
        await conn.close()
    return totp.generate_otp(step)


@pytest.fixture
def browser(client: Client) -> OpenBrowser:  # noqa: F811 - the imported fixture
    """``await browser(user)``: a browser signed in as that user (``None``: signed out)."""

    async def open_as(user: dict[str, Any] | None = None) -> Browser:
        me = Browser(client)
        if user is not None:
            await me.sign_in_as(user)
        return me

    return open_as
