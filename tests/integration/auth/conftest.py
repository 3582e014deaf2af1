"""Accounts tests: the assessment tests' isolated service (a database of its own, a real
SMTP server), staff browsers without JavaScript, and no failed sign-in carried from one
test to the next (they all come from the test client's one address)."""

from __future__ import annotations

import re
from email.message import EmailMessage

import asyncpg
import pytest

from tests.integration.assessments.conftest import (  # noqa: F401 - fixtures shared with this package
    Client,
    app,
    client,
    csrf_of,
    fresh_rate_limits,
    make_user,
    pool,
    settings,
    smtp,
)
from tests.integration.ui.conftest import Browser, OpenBrowser, browser  # noqa: F401


@pytest.fixture(autouse=True)
async def no_failed_sign_ins(pool: asyncpg.Pool) -> None:  # noqa: F811 - the imported fixture
    await pool.execute("DELETE FROM signin_failures")


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


def password_link(message: EmailMessage) -> str:
    """The path of the one-time link in an invitation or reset email."""
    found = re.search(r"https?://[^/\s]+(/ui/password/[A-Za-z0-9_-]{43})", text_of(message))
    assert found, text_of(message)
    return found.group(1)


__all__ = ["Browser", "Client", "OpenBrowser", "csrf_of", "password_link", "text_of"]
