"""The staff pages' tests run on the assessment tests' service (its own database, the test
questionnaire loaded, a real SMTP server), and drive the pages as a browser without
JavaScript would: each staff member has a cookie jar of their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
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

    async def sign_in(self, key: str, lang: str = "en") -> httpx.Response:
        page = await self.get("/ui/login", lang=lang)
        assert page.status_code == 200, page.text
        return await self.post(
            "/ui/login", {"_csrf_token": csrf_of(page.text), "api_key": key, "next": "/ui"}, lang=lang
        )

    async def submit(
        self, page_path: str, action: str, fields: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Post a form found on ``page_path`` (its CSRF token taken from that page)."""
        page = await self.get(page_path)
        assert page.status_code == 200, page.text
        return await self.post(action, {"_csrf_token": csrf_of(page.text), **(fields or {})})


def key_of(user: dict[str, Any]) -> str:
    key: str = user["headers"]["Authorization"].removeprefix("Bearer ")
    return key


OpenBrowser = Callable[..., Awaitable[Browser]]


@pytest.fixture
def browser(client: Client) -> OpenBrowser:  # noqa: F811 - the imported fixture
    """``await browser(user)``: a browser signed in as that user (``None``: signed out)."""

    async def open_as(user: dict[str, Any] | None = None) -> Browser:
        me = Browser(client)
        if user is not None:
            signed = await me.sign_in(key_of(user))
            assert signed.status_code == 303, signed.text
        return me

    return open_as
