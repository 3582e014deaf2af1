"""SQL for users and API keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from vendor_risk.auth.keys import display_prefix, hash_key
from vendor_risk.auth.models import ApiKey, CurrentUser, Role, User

USER_COLUMNS = "id, email, name, role, locale, disabled_at IS NOT NULL AS disabled, created_at, version"
KEY_COLUMNS = "id, user_id, name, prefix, created_at, last_used_at, revoked_at IS NOT NULL AS revoked"


def to_user(row: asyncpg.Record) -> User:
    return User(**dict(row))


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
    )


async def insert_user(conn: asyncpg.Connection, email: str, name: str, role: str, locale: str) -> User:
    row = await conn.fetchrow(
        f"INSERT INTO users (email, name, role, locale) VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}",
        email,
        name,
        role,
        locale,
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
