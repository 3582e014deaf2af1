"""A page view reads the session; it writes the row only when the idle end must move."""

from __future__ import annotations

import hashlib

import asyncpg

from tests.integration.assessments.conftest import User
from tests.integration.ui.conftest import Browser, OpenBrowser


async def _session(db: asyncpg.Connection, me: Browser) -> asyncpg.Record:
    """This browser's session row (the user may have others open)."""
    token = me.cookies["vr_ui_session"]
    row = await db.fetchrow(
        "SELECT id, last_seen_at, lang, xmin::text AS xmin FROM staff_sessions WHERE token_hash = $1",
        hashlib.sha256(token.encode()).digest(),
    )
    assert row is not None
    return row


async def test_page_views_touch_the_session_at_most_once_a_minute(
    browser: OpenBrowser, risk_owner: User, db: asyncpg.Connection
) -> None:
    me = await browser(risk_owner)
    first = await _session(db, me)
    for _ in range(3):
        assert (await me.get("/ui")).status_code == 200
    # No write: the row version is the one the sign-in left.
    assert await _session(db, me) == first

    # A minute later the next view moves the idle end.
    await db.execute(
        "UPDATE staff_sessions SET last_seen_at = last_seen_at - interval '61 seconds' WHERE id = $1",
        first["id"],
    )
    aged = await _session(db, me)
    assert (await me.get("/ui")).status_code == 200
    touched = await _session(db, me)
    assert touched["last_seen_at"] > aged["last_seen_at"]

    # Picking a language is remembered at once, even within the minute.
    assert (await me.get("/ui", lang="zh-CN")).status_code == 200
    assert (await _session(db, me))["lang"] == "zh-CN"
    page = await me.get("/ui")
    assert 'lang="zh-CN"' in page.text


async def test_an_idle_session_past_its_end_still_signs_out(
    browser: OpenBrowser, risk_owner: User, db: asyncpg.Connection
) -> None:
    me = await browser(risk_owner)
    await db.execute(
        "UPDATE staff_sessions SET last_seen_at = now() - interval '13 hours' WHERE id = $1",
        (await _session(db, me))["id"],
    )
    refused = await me.get("/ui")
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/ui/login")
