"""SQL for users and API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from vendor_risk.auth.keys import display_prefix, hash_key
from vendor_risk.auth.models import ApiKey, CurrentUser, OwnedApiKey, Role, Session, User

USER_COLUMNS = (
    "id, email, name, role, locale, disabled_at IS NOT NULL AS disabled, created_at, version, "
    "password_hash IS NOT NULL AS has_password, totp_enabled_at IS NOT NULL AS second_factor, "
    "oidc_subject IS NOT NULL AS sso_linked"
)
KEY_COLUMNS = "id, user_id, name, prefix, created_at, last_used_at, revoked_at IS NOT NULL AS revoked"


def to_user(row: asyncpg.Record | dict[str, Any]) -> User:
    values = dict(row)
    return User(**{**values, "role": Role(values["role"])})


def to_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(**dict(row))


def to_current_user(row: asyncpg.Record) -> CurrentUser:
    """The caller, from a row with the user's columns and its key's ``key_id``."""
    return CurrentUser(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        locale=row["locale"],
        key_id=row["key_id"],
        session_id=row.get("session_id"),
    )


async def insert_user(
    conn: asyncpg.Connection,
    email: str,
    name: str,
    role: str,
    locale: str,
    oidc_subject: str | None = None,
) -> User:
    row = await conn.fetchrow(
        f"""
        INSERT INTO users (email, name, role, locale, oidc_subject) VALUES ($1, $2, $3, $4, $5)
        RETURNING {USER_COLUMNS}
        """,
        email,
        name,
        role,
        locale,
        oidc_subject,
    )
    return to_user(row)


async def get_user(conn: asyncpg.Connection, user_id: UUID, *, for_update: bool = False) -> User | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1{lock}", user_id)
    return to_user(row) if row else None


async def find_user_by_email(conn: asyncpg.Connection, email: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)", email)
    return to_user(row) if row else None


async def list_users(
    conn: asyncpg.Connection, role: str | None, after: tuple[Any, ...] | None, limit: int
) -> list[User]:
    rows = await conn.fetch(
        f"""
        SELECT {USER_COLUMNS} FROM users
        WHERE ($1::text IS NULL OR role = $1)
          AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
        ORDER BY created_at, id
        LIMIT $4
        """,
        role,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [to_user(r) for r in rows]


async def update_user(conn: asyncpg.Connection, user_id: UUID, changes: dict[str, Any]) -> User:
    # Column names come from a fixed allow-list in the service, never from the request.
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
    row = await conn.fetchrow(
        f"UPDATE users SET {assignments}, version = version + 1 WHERE id = $1 RETURNING {USER_COLUMNS}",
        user_id,
        *changes.values(),
    )
    return to_user(row)


async def insert_key(conn: asyncpg.Connection, user_id: UUID, name: str, key: str) -> ApiKey:
    row = await conn.fetchrow(
        f"""
        INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4)
        RETURNING {KEY_COLUMNS}
        """,
        user_id,
        name,
        display_prefix(key),
        hash_key(key),
    )
    return to_key(row)


async def get_key(conn: asyncpg.Connection, key_id: UUID) -> ApiKey | None:
    row = await conn.fetchrow(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1", key_id)
    return to_key(row) if row else None


async def revoke_key(conn: asyncpg.Connection, key_id: UUID) -> ApiKey:
    row = await conn.fetchrow(
        f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING {KEY_COLUMNS}",
        key_id,
    )
    return to_key(row)


async def keys_of_user(conn: asyncpg.Connection, user_id: UUID) -> list[ApiKey]:
    rows = await conn.fetch(
        f"SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at",
        user_id,
    )
    return [to_key(r) for r in rows]


async def admins_who_can_sign_in(
    conn: asyncpg.Connection, password_signin: bool, sso_domains: list[str]
) -> int:
    """Enabled admins left with a way in: a password (while password sign-in is on), a live
    API key, an open invitation, or single sign-on for their email's domain."""
    count: int = await conn.fetchval(
        """
        SELECT count(*) FROM users u
        WHERE u.role = 'admin' AND u.disabled_at IS NULL AND (
            ($1 AND u.password_hash IS NOT NULL)
            OR split_part(lower(u.email), '@', 2) = ANY ($2::text[])
            OR EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = u.id AND k.revoked_at IS NULL)
            OR EXISTS (
                SELECT 1 FROM user_tokens t
                WHERE t.user_id = u.id AND t.used_at IS NULL AND t.expires_at > now()
            )
        )
        """,
        password_signin,
        sso_domains,
    )
    return count


async def insert_token(
    conn: asyncpg.Connection, user_id: UUID, purpose: str, token_hash: bytes, lifetime: timedelta
) -> datetime:
    expires: datetime = await conn.fetchval(
        """
        INSERT INTO user_tokens (token_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, now() + $4)
        RETURNING expires_at
        """,
        token_hash,
        user_id,
        purpose,
        lifetime,
    )
    return expires


async def retire_tokens(conn: asyncpg.Connection, user_id: UUID, purpose: str | None = None) -> None:
    await conn.execute(
        """
        UPDATE user_tokens SET used_at = now()
        WHERE user_id = $1 AND used_at IS NULL AND ($2::text IS NULL OR purpose = $2)
        """,
        user_id,
        purpose,
    )


async def end_sessions(conn: asyncpg.Connection, user_id: UUID) -> int:
    result: str = await conn.execute("DELETE FROM staff_sessions WHERE user_id = $1", user_id)
    return int(result.rsplit(" ", 1)[-1])


SESSION_COLUMNS = "id, user_id, method, user_agent, address, created_at, last_seen_at, expires_at"


async def sessions_of_user(conn: asyncpg.Connection, user_id: UUID, idle: timedelta) -> list[Session]:
    rows = await conn.fetch(
        f"""
        SELECT {SESSION_COLUMNS} FROM staff_sessions
        WHERE user_id = $1 AND expires_at > now() AND last_seen_at > now() - $2::interval
        ORDER BY last_seen_at DESC
        """,
        user_id,
        idle,
    )
    return [Session(**dict(r)) for r in rows]


async def list_all_keys(
    conn: asyncpg.Connection, after: tuple[Any, ...] | None, limit: int
) -> list[OwnedApiKey]:
    rows = await conn.fetch(
        """
        SELECT k.id, k.user_id, k.name, k.prefix, k.created_at, k.last_used_at,
               k.revoked_at IS NOT NULL AS revoked, u.name AS user_name, u.email AS user_email
        FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE ($1::timestamptz IS NULL OR (k.created_at, k.id) > ($1, $2::uuid))
        ORDER BY k.created_at, k.id
        LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [OwnedApiKey(**dict(r)) for r in rows]
