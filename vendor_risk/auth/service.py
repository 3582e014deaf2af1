"""Managing staff users and their API keys; every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.auth import repository as repo
from vendor_risk.auth.cache import notify_auth_changed
from vendor_risk.auth.keys import generate_key
from vendor_risk.auth.models import ApiKey, NewApiKey, User, UserCreate, UserUpdate, UserWithKey
from vendor_risk.errors import Problem, not_found, stale_version


async def create_user(conn: asyncpg.Connection, actor: Actor, data: UserCreate) -> UserWithKey:
    """Create a user with a first API key; the key is returned once and never stored."""
    async with conn.transaction():
        existing = await repo.find_user_by_email(conn, data.email)
        if existing is not None:
            raise Problem(
                409,
                "duplicate-user",
                f"a user with email {data.email} already exists",
                user_id=str(existing.id),
            )
        user = await repo.insert_user(conn, data.email, data.name, data.role.value, data.locale)
        await audit.record(
            conn,
            actor=actor,
            action="user.created",
            entity_type="user",
            entity_id=user.id,
            after=user,
        )
        issued = await _issue_key(conn, actor, user.id, "default")
    return UserWithKey(user=user, api_key=issued.api_key, key=issued.key)


async def update_user(conn: asyncpg.Connection, actor: Actor, user_id: UUID, data: UserUpdate) -> User:
    async with conn.transaction():
        before = await repo.get_user(conn, user_id, for_update=True)
        if before is None:
            raise not_found("user", user_id)
        if before.version != data.version:
            raise stale_version("user", data.version, before.version)
        changes: dict[str, object] = {}
        if data.name is not None:
            changes["name"] = data.name
        if data.role is not None:
            changes["role"] = data.role.value
        if data.locale is not None:
            changes["locale"] = data.locale
        if data.disabled is not None and data.disabled != before.disabled:
            if data.disabled and actor.id == user_id:
                raise Problem(409, "self-disable", "you cannot disable your own account")
            changes["disabled_at"] = _now_or_none(data.disabled)
        if not changes:
            return before
        # Disabling or demoting an enabled admin must leave another admin able to sign in.
        leaves_admins = changes.get("disabled_at") is not None or changes.get("role", "admin") != "admin"
        if before.role == "admin" and not before.disabled and leaves_admins:
            await _keep_an_admin(conn, without_key=None, without_user=user_id)
        after = await repo.update_user(conn, user_id, changes)
        await notify_auth_changed(conn)
        await audit.record(
            conn,
            actor=actor,
            action="user.updated",
            entity_type="user",
            entity_id=user_id,
            before=before,
            after=after,
        )
    return after


def _now_or_none(flag: bool) -> datetime | None:
    return datetime.now(UTC) if flag else None


async def create_key(conn: asyncpg.Connection, actor: Actor, user_id: UUID, name: str) -> NewApiKey:
    async with conn.transaction():
        user = await repo.get_user(conn, user_id)
        if user is None:
            raise not_found("user", user_id)
        if user.disabled:
            raise Problem(409, "user-disabled", f"user {user_id} is disabled; enable it first")
        return await _issue_key(conn, actor, user_id, name)


async def _issue_key(conn: asyncpg.Connection, actor: Actor, user_id: UUID, name: str) -> NewApiKey:
    key = generate_key()
    api_key = await repo.insert_key(conn, user_id, name, key)
    await audit.record(
        conn,
        actor=actor,
        action="api_key.created",
        entity_type="api_key",
        entity_id=api_key.id,
        after=api_key,
    )
    return NewApiKey(api_key=api_key, key=key)


LAST_ADMIN_RULE = "last-admin-credential"


async def _keep_an_admin(
    conn: asyncpg.Connection, *, without_key: UUID | None, without_user: UUID | None
) -> None:
    """Refuse (409 naming the rule) a change after which no enabled admin holds a live key:
    nobody could then manage users or keys except by writing the database. Changes of
    admin credentials are serialized so that two at once cannot both take the last one."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vendor-risk:admin-credentials'))")
    remaining = await conn.fetchval(
        """
        SELECT count(*) FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE u.role = 'admin' AND u.disabled_at IS NULL AND k.revoked_at IS NULL
          AND k.id IS DISTINCT FROM $1 AND u.id IS DISTINCT FROM $2
        """,
        without_key,
        without_user,
    )
    if remaining == 0:
        raise Problem(
            409,
            LAST_ADMIN_RULE,
            "this is the last live API key of an enabled admin; create another admin key first",
            rule=LAST_ADMIN_RULE,
        )


async def revoke_key(conn: asyncpg.Connection, actor: Actor, key_id: UUID) -> ApiKey:
    async with conn.transaction():
        before = await repo.get_key(conn, key_id)
        if before is None:
            raise not_found("API key", key_id)
        if not before.revoked:
            await _keep_an_admin(conn, without_key=key_id, without_user=None)
        after = await repo.revoke_key(conn, key_id)
        await notify_auth_changed(conn)
        if not before.revoked:
            await audit.record(
                conn,
                actor=actor,
                action="api_key.revoked",
                entity_type="api_key",
                entity_id=key_id,
                before=before,
                after=after,
            )
    return after
