"""Users, API keys and the caller's own identity."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post
from litestar.status_codes import HTTP_200_OK

from vendor_risk.audit.models import Actor
from vendor_risk.auth import repository as repo
from vendor_risk.auth import service
from vendor_risk.auth.guards import current_user, requires_admin, requires_authenticated
from vendor_risk.auth.models import (
    ApiKey,
    ApiKeyCreate,
    CurrentUser,
    Invited,
    NewApiKey,
    Role,
    Session,
    SessionsEnded,
    User,
    UserCreate,
    UserUpdate,
)
from vendor_risk.auth.sessions import IDLE_TIMEOUT
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.settings import Settings


def actor_of(request: Request[Any, Any, Any]) -> Actor:
    user = current_user(request)
    return Actor(id=user.id, label=user.label)


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["auth"]
    guards = [requires_authenticated]

    @get("/", operation_id="GetMe")
    async def me(self, request: Request[CurrentUser, Any, Any]) -> CurrentUser:
        return current_user(request)

    @get("/api-keys", operation_id="ListMyApiKeys")
    async def my_keys(self, request: Request[Any, Any, Any], db: DbConnection) -> list[ApiKey]:
        return await repo.keys_of_user(db, current_user(request).id)

    @post("/api-keys", operation_id="CreateMyApiKey")
    async def create_my_key(
        self, request: Request[Any, Any, Any], db: DbConnection, data: ApiKeyCreate
    ) -> NewApiKey:
        """A new key of your own; the key is in this response only."""
        return await service.create_key(db, actor_of(request), current_user(request).id, data.name)

    @delete("/api-keys/{key_id:uuid}", operation_id="RevokeMyApiKey", status_code=HTTP_200_OK)
    async def revoke_my_key(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, key_id: UUID
    ) -> ApiKey:
        key = await service.revoke_key(
            db, actor_of(request), key_id, settings, owner=current_user(request).id
        )
        request.app.state.key_cache.clear()
        return key


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["auth"]
    guards = [requires_admin]

    @post("/", operation_id="InviteUser")
    async def create_user(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, data: UserCreate
    ) -> Invited:
        """Invite a person: the user is created and emailed a one-time link (72 hours) to set
        their password. Neither the link nor any key is in the response."""
        invited, _link = await service.invite_user(db, actor_of(request), data, settings)
        return invited

    @post("/{user_id:uuid}/invitation", operation_id="ResendInvitation", status_code=HTTP_200_OK)
    async def resend_invitation(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, user_id: UUID
    ) -> Invited:
        """A new invitation link by email; earlier ones stop working."""
        invited, _link = await service.resend_invitation(db, actor_of(request), user_id, settings)
        return invited

    @get("/{user_id:uuid}/sessions", operation_id="ListUserSessions")
    async def list_sessions(self, db: DbConnection, user_id: UUID) -> list[Session]:
        return await repo.sessions_of_user(db, user_id, IDLE_TIMEOUT)

    @post("/{user_id:uuid}/sessions/end", operation_id="EndUserSessions", status_code=HTTP_200_OK)
    async def end_sessions(
        self, request: Request[Any, Any, Any], db: DbConnection, user_id: UUID
    ) -> SessionsEnded:
        """Sign the user out of every browser at once."""
        return SessionsEnded(ended=await service.end_all_sessions(db, actor_of(request), user_id))

    @post("/{user_id:uuid}/second-factor/reset", operation_id="ResetSecondFactor", status_code=HTTP_200_OK)
    async def reset_second_factor(
        self, request: Request[Any, Any, Any], db: DbConnection, user_id: UUID
    ) -> User:
        """Clear a user's second factor (a lost phone): they enrol again at their next sign-in."""
        return await service.reset_second_factor(db, actor_of(request), user_id)

    @get("/", operation_id="ListUsers")
    async def list_users(
        self,
        db: DbConnection,
        role: Role | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[User]:
        check_limit(limit)
        after = created_after(cursor)
        users = await repo.list_users(db, role.value if role else None, after, limit + 1)
        return paged(users, limit)

    @get("/{user_id:uuid}", operation_id="GetUser")
    async def get_user(self, db: DbConnection, user_id: UUID) -> User:
        user = await repo.get_user(db, user_id)
        if user is None:
            raise not_found("user", user_id)
        return user

    @patch("/{user_id:uuid}", operation_id="UpdateUser")
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        user_id: UUID,
        data: UserUpdate,
    ) -> User:
        """Rename, change role or locale, disable or enable; disabling stops its keys and
        sessions at once. The last admin who can sign in cannot be disabled or demoted (409)."""
        user = await service.update_user(db, actor_of(request), user_id, data, settings)
        # Other processes drop their caches on the NOTIFY; this one does not wait for it.
        request.app.state.key_cache.clear()
        return user

    @get("/{user_id:uuid}/api-keys", operation_id="ListUserApiKeys")
    async def list_keys(self, db: DbConnection, user_id: UUID) -> list[ApiKey]:
        return await repo.keys_of_user(db, user_id)

    @post("/{user_id:uuid}/api-keys", operation_id="CreateApiKey")
    async def create_key(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        user_id: UUID,
        data: ApiKeyCreate,
    ) -> NewApiKey:
        """Issue another key for yourself (403 for anyone else: a key acts as its user)."""
        return await service.create_key(db, actor_of(request), user_id, data.name)


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["auth"]
    guards = [requires_admin]

    @delete("/{key_id:uuid}", operation_id="RevokeApiKey", status_code=HTTP_200_OK)
    async def revoke(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, key_id: UUID
    ) -> ApiKey:
        key = await service.revoke_key(db, actor_of(request), key_id, settings)
        request.app.state.key_cache.clear()
        return key
