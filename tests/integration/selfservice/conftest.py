"""Self-service tests run on the assessment tests' service (a database of their own, the
test questionnaire, a real SMTP server) and drive ``/p`` as a browser without JavaScript:
each contact has a cookie jar of their own, and signs in with the link read from the
(sealed) outbox."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers import outbox_emails
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
    risk_owner,
    send,
    settings,
    smtp,
)
from tests.integration.ui.conftest import Browser, browser  # noqa: F401 - the staff's browser
from vendor_risk.settings import Settings

LINK = re.compile(r"https?://[^/\s]+(/p/link/[A-Za-z0-9_-]{43})")


class Contact:
    """A partner contact's browser on ``/p``."""

    def __init__(self, client: Client, email: str, lang: str = "zh-CN") -> None:  # noqa: F811
        self.client = client
        self.email = email
        self.lang = lang
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
        return await self.request("GET", path, params={"lang": self.lang, **params})

    async def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, data=data, params={"lang": self.lang}, **kwargs)

    async def submit(
        self, page_path: str, action: str, fields: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        """Post a form found on ``page_path`` with that page's CSRF token."""
        page = await self.get(page_path)
        assert page.status_code == 200, page.text
        return await self.post(action, {"_csrf_token": csrf_of(page.text), **(fields or {})}, **kw)

    async def ask_link(self, email: str | None = None) -> httpx.Response:
        return await self.submit("/p/sign-in", "/p/sign-in", {"email": email or self.email})


async def latest_link(db: asyncpg.Connection, settings: Settings, email: str) -> str | None:  # noqa: F811
    """The path of the newest sign-in link emailed to ``email`` (read from the outbox)."""
    emails = await outbox_emails(
        db, settings.data_keys, "topic = 'selfservice_link' AND payload->>'to' = $1", email.lower()
    )
    if not emails:
        return None
    found = LINK.search(emails[-1]["text"])
    assert found, emails[-1]["text"]
    return found.group(1)


SignIn = Callable[..., Awaitable[Contact]]


@pytest.fixture
def sign_in(client: Client, settings: Settings, pool: asyncpg.Pool) -> SignIn:  # noqa: F811
    """``await sign_in(email)``: a contact's browser signed in through the emailed link
    (with ``partner_id`` chosen when the address is a contact of several partners)."""

    async def run(email: str, lang: str = "zh-CN", partner_id: str | None = None) -> Contact:
        me = Contact(client, email, lang)
        asked = await me.ask_link()
        assert asked.status_code == 303, asked.text
        async with pool.acquire() as db:
            link = await latest_link(db, settings, email)
        assert link, f"no link for {email}"
        page = await me.get(link)
        assert page.status_code == 200, page.text
        used = await me.post(link, {"_csrf_token": csrf_of(page.text)})
        assert used.status_code == 303, used.text
        if partner_id is not None:
            chosen = await me.submit("/p/choose", "/p/choose", {"partner_id": partner_id})
            assert chosen.status_code == 303, chosen.text
        return me

    return run
