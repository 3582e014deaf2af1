"""Bearer API key authentication for everything under /api."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from vendor_risk.auth.cache import KeyCache
from vendor_risk.auth.keys import hash_key, looks_like_key
from vendor_risk.auth.repository import to_current_user
from vendor_risk.errors import Problem

# last_used_at is for humans ("is this key still used?"): minute precision is plenty and
# saves a write on almost every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)

LOOKUP = """
SELECT k.id AS key_id, k.last_used_at, u.id, u.email, u.name, u.role, u.locale
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL
"""


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Resolve the Bearer key to a user, or refuse with 401.

    A guard on the API router rather than a middleware: guards run inside the route's
    error handling, so a refusal is a normal response that passes through logging and
    metrics like any other.
    """
    header = connection.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthenticated("an API key is required (Authorization: Bearer <key>)")
    token = token.strip()
    if not looks_like_key(token):
        raise _unauthenticated("the API key is not valid")
    state = connection.app.state
    cache: KeyCache = state.key_cache
    pool: asyncpg.Pool = state.db_pool
    key_hash = hash_key(token)
    entry = cache.get(key_hash)
    if entry is not None:
        user, last_used_at = entry.user, entry.last_used_at
    else:
        row = await pool.fetchrow(LOOKUP, key_hash)
        if row is None:
            raise _unauthenticated("the API key is not valid, revoked, or its user is disabled")
        user = to_current_user(row)
        last_used_at = row["last_used_at"]
        cache.put(key_hash, user, last_used_at)
    now = datetime.now(UTC)
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        await pool.execute("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", user.key_id, now)
        cache.put(key_hash, user, now)
    connection.scope["user"] = user
    connection.scope["auth"] = user.key_id
