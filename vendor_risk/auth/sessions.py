"""Staff sessions for the ``/ui`` pages: opened with an API key, carried by a cookie.

The browser holds a random token; PostgreSQL holds only its SHA-256, the key the session
was opened with and two ends (idle and absolute). Each request resolves the token in one
query that also checks the user and the key, so disabling a user or revoking the key ends
the session at once, on every process, without any cache to invalidate.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Final

import asyncpg

from vendor_risk.auth.keys import hash_key, looks_like_key
from vendor_risk.auth.models import CurrentUser
from vendor_risk.auth.repository import to_current_user

IDLE_TIMEOUT: Final = timedelta(hours=12)
ABSOLUTE_TIMEOUT: Final = timedelta(days=7)
TOKEN_BYTES: Final = 32

# One statement, one index probe (the primary key): extends the idle end and records a
# language picked with the switch, but only while user and key are still good.
RESOLVE = """
UPDATE staff_sessions s
SET last_seen_at = now(), lang = coalesce($2, s.lang)
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE s.token_hash = $1
  AND k.id = s.api_key_id
  AND s.expires_at > now()
  AND s.last_seen_at > now() - $3::interval
  AND k.revoked_at IS NULL
  AND u.disabled_at IS NULL
RETURNING u.id, u.email, u.name, u.role, coalesce(s.lang, u.locale) AS locale, k.id AS key_id
"""

OPEN_WITH_KEY = """
WITH swept AS (
    DELETE FROM staff_sessions WHERE expires_at <= now() OR last_seen_at <= now() - $4::interval
)
INSERT INTO staff_sessions (token_hash, user_id, api_key_id, expires_at)
SELECT $1, u.id, k.id, now() + $3::interval
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.key_hash = $2 AND k.revoked_at IS NULL AND u.disabled_at IS NULL
RETURNING user_id
"""


def session_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(conn: asyncpg.Connection, api_key: str) -> str | None:
    """Open a session for the holder of ``api_key``; the token to put in the cookie, or
    None when the key is unknown, revoked, or its user disabled. Ended sessions are swept
    on the way, so the table holds live ones only (plus those ended since the last sign-in)."""
    api_key = api_key.strip()
    if not looks_like_key(api_key):
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    opened = await conn.fetchval(
        OPEN_WITH_KEY, session_hash(token), hash_key(api_key), ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
    )
    return token if opened is not None else None


async def resolve_session(
    conn: asyncpg.Connection, token: str, lang: str | None = None
) -> CurrentUser | None:
    """The signed-in user, with ``locale`` the page language; None when the session ended.
    ``lang`` (from the switch) is remembered for the rest of the session."""
    row = await conn.fetchrow(RESOLVE, session_hash(token), lang, IDLE_TIMEOUT)
    if row is None:
        return None
    return to_current_user(row)


async def close_session(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("DELETE FROM staff_sessions WHERE token_hash = $1", session_hash(token))
