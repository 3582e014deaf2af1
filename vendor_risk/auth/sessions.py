"""Staff sessions for the ``/ui`` pages: opened by a sign-in, carried by a cookie.

The browser holds a random token; PostgreSQL holds only its SHA-256, the user, where the
session was opened (device and address, for the user's own list) and two ends (idle and
absolute). Each request resolves the token in one query that also checks the user, so
disabling a user ends the session at once, on every process, without any cache to
invalidate. A password reset, an administrator's "end all" and a disable delete the rows.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Final
from uuid import UUID

import asyncpg

from vendor_risk.auth.models import CurrentUser
from vendor_risk.auth.repository import to_current_user

IDLE_TIMEOUT: Final = timedelta(hours=12)
ABSOLUTE_TIMEOUT: Final = timedelta(days=7)
TOKEN_BYTES: Final = 32
USER_AGENT_MAX: Final = 300

# The idle end moves with use, but a minute's precision is plenty: most page views only read.
TOUCH_RESOLUTION: Final = timedelta(minutes=1)

# One statement, one index probe (the primary key): checks the user is still enabled and
# extends the idle end when the last touch is over a minute old, or records a language
# picked with the switch; any other page view writes nothing.
RESOLVE = """
WITH live AS (
    SELECT s.id AS session_id, s.lang, s.last_seen_at, s.api_key_id AS key_id,
           u.id, u.email, u.name, u.role, u.locale
    FROM staff_sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = $1
      AND s.expires_at > now()
      AND s.last_seen_at > now() - $3::interval
      AND u.disabled_at IS NULL
), touched AS (
    UPDATE staff_sessions s
    SET last_seen_at = now(), lang = coalesce($2::text, s.lang)
    FROM live
    WHERE s.id = live.session_id
      AND (live.last_seen_at <= now() - $4::interval
           OR ($2::text IS NOT NULL AND $2::text IS DISTINCT FROM live.lang))
)
SELECT id, email, name, role, coalesce($2::text, lang, locale) AS locale, key_id, session_id
FROM live
"""

OPEN = """
WITH swept AS (
    DELETE FROM staff_sessions WHERE expires_at <= now() OR last_seen_at <= now() - $4::interval
)
INSERT INTO staff_sessions (token_hash, user_id, expires_at, method, address, user_agent)
SELECT $1, u.id, now() + $3::interval, $5, $6, $7
FROM users u
WHERE u.id = $2 AND u.disabled_at IS NULL
RETURNING id
"""


def session_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(
    conn: asyncpg.Connection, user_id: UUID, *, method: str, address: str, user_agent: str
) -> tuple[str, UUID] | None:
    """Open a session for an enabled user: the token for the cookie and the session's id, or
    None when the user is disabled. Ended sessions are swept on the way, so the table holds
    live ones only (plus those ended since the last sign-in)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session_id = await conn.fetchval(
        OPEN,
        session_hash(token),
        user_id,
        ABSOLUTE_TIMEOUT,
        IDLE_TIMEOUT,
        method,
        address[:100],
        user_agent[:USER_AGENT_MAX],
    )
    return (token, session_id) if session_id is not None else None


async def resolve_session(
    conn: asyncpg.Connection, token: str, lang: str | None = None
) -> CurrentUser | None:
    """The signed-in user, with ``locale`` the page language; None when the session ended.
    ``lang`` (from the switch) is remembered for the rest of the session."""
    row = await conn.fetchrow(RESOLVE, session_hash(token), lang, IDLE_TIMEOUT, TOUCH_RESOLUTION)
    if row is None:
        return None
    return to_current_user(row)


async def close_session(conn: asyncpg.Connection, token: str) -> UUID | None:
    """End the session of this token; its user's id when there was one."""
    user_id: UUID | None = await conn.fetchval(
        "DELETE FROM staff_sessions WHERE token_hash = $1 RETURNING user_id", session_hash(token)
    )
    return user_id
