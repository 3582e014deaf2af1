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
    NewApiKey,
    Role,
    User,
    UserCreate,
    UserUpdate,
    UserWithKey,
)
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged


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


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["auth"]
    guards = [requires_admin]

    @post("/", operation_id="CreateUser")
    async def create_user(
        self, request: Request[Any, Any, Any], db: DbConnection, data: UserCreate
    ) -> UserWithKey:
        """Create a staff user; the response holds its first API key, shown only once."""
        return await service.create_user(db, actor_of(request), data)

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
        user_id: UUID,
        data: UserUpdate,
    ) -> User:
        """Rename, change role or locale, disable or enable; disabling stops its keys at once."""
        user = await service.update_user(db, actor_of(request), user_id, data)
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
        """Issue another key for a user; the key is in this response only."""
        return await service.create_key(db, actor_of(request), user_id, data.name)


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["auth"]
    guards = [requires_admin]

    @delete("/{key_id:uuid}", operation_id="RevokeApiKey", status_code=HTTP_200_OK)
    async def revoke(self, request: Request[Any, Any, Any], db: DbConnection, key_id: UUID) -> ApiKey:
        key = await service.revoke_key(db, actor_of(request), key_id)
        request.app.state.key_cache.clear()
        return key
