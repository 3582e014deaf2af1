"""The auth matrix: who can call what, with which key."""

import asyncio
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from vendor_risk.audit.models import SYSTEM
from vendor_risk.auth import repository as auth_repo
from vendor_risk.auth import service as auth_service
from vendor_risk.auth.models import UserUpdate
from vendor_risk.db import connect

Client = AsyncTestClient[Litestar]


async def test_me_with_a_valid_key(client: Client, admin: dict[str, Any]) -> None:
    response = await client.get("/api/v1/me", headers=admin["headers"])
    assert response.status_code == 200
    assert response.json()["email"] == admin["email"]
    assert response.json()["role"] == "admin"


async def test_missing_or_wrong_key_is_401_problem(client: Client, admin: dict[str, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer vrk_" + "x" * 43}, {"Authorization": "Basic abc"}):
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["type"] == "urn:vendor-risk:problem:unauthenticated"
        assert body["status"] == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_role_is_403(client: Client, make_user: MakeUser) -> None:
    auditor = await make_user("auditor")
    response = await client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "name": "New", "role": "procurement"},
        headers=auditor["headers"],
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:vendor-risk:problem:forbidden"
    assert "admin" in response.json()["detail"]


async def test_admin_invites_a_user_and_sees_no_secret(
    client: Client, admin: dict[str, Any], db: Any
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"email": "Risk.Owner@Example.com", "name": "王芳", "role": "risk_owner", "locale": "zh-CN"},
        headers=admin["headers"],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user", "invitation_expires_at"}
    assert body["user"]["has_password"] is False
    assert "vrk_" not in response.text
    assert "/ui/password/" not in response.text
    # The link went to the outbox (the user's email), its token stored only as a hash.
    [_queued] = await db.fetch(
        "SELECT payload FROM outbox WHERE topic = 'auth_invitation' AND payload->>'to' = $1",
        "Risk.Owner@Example.com",
    )
    assert (
        await db.fetchval("SELECT count(*) FROM api_keys WHERE user_id = $1", UUID(body["user"]["id"])) == 0
    )
    # Email uniqueness ignores case.
    again = await client.post(
        "/api/v1/users",
        json={"email": "risk.owner@example.com", "name": "X", "role": "auditor"},
        headers=admin["headers"],
    )
    assert again.status_code == 409
    assert again.json()["type"] == "urn:vendor-risk:problem:duplicate-user"


async def test_validation_errors_name_each_field(client: Client, admin: dict[str, Any]) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"email": "not-an-email", "name": "X", "role": "boss"},
        headers=admin["headers"],
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "urn:vendor-risk:problem:validation"
    fields = {e["field"] for e in body["errors"]}
    assert fields & {"email", "role"}
    unknown = await client.post(
        "/api/v1/users",
        json={"email": "a@example.com", "name": "X", "role": "auditor", "rol": "admin"},
        headers=admin["headers"],
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [{"field": "rol", "message": "unknown field"}]


async def test_disabled_user_keys_stop_at_once(
    client: Client, admin: dict[str, Any], make_user: MakeUser
) -> None:
    user = await make_user("procurement")
    assert (await client.get("/api/v1/me", headers=user["headers"])).status_code == 200
    current = (await client.get(f"/api/v1/users/{user['id']}", headers=admin["headers"])).json()
    response = await client.patch(
        f"/api/v1/users/{user['id']}",
        json={"version": current["version"], "disabled": True},
        headers=admin["headers"],
    )
    assert response.status_code == 200
    assert response.json()["disabled"] is True
    assert (await client.get("/api/v1/me", headers=user["headers"])).status_code == 401
    stale = await client.patch(
        f"/api/v1/users/{user['id']}",
        json={"version": current["version"], "name": "x"},
        headers=admin["headers"],
    )
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:vendor-risk:problem:stale-version"


async def test_keys_are_created_by_their_own_user_only(
    client: Client, admin: dict[str, Any], make_user: MakeUser, db: Any
) -> None:
    user = await make_user("risk_owner")
    # An admin cannot mint a key for someone else and act as them.
    for_other = await client.post(
        f"/api/v1/users/{user['id']}/api-keys", json={"name": "ci"}, headers=admin["headers"]
    )
    assert for_other.status_code == 403
    assert for_other.json()["type"] == "urn:vendor-risk:problem:own-keys-only"
    assert (
        await db.fetchval("SELECT count(*) FROM api_keys WHERE user_id = $1 AND name = 'ci'", user["id"]) == 0
    )
    created = await client.post("/api/v1/me/api-keys", json={"name": "ci"}, headers=user["headers"])
    assert created.status_code == 201
    second = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.get("/api/v1/me", headers=second)).status_code == 200
    # The admin may list and revoke anyone's keys.
    revoked = await client.delete(
        f"/api/v1/api-keys/{created.json()['api_key']['id']}", headers=admin["headers"]
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    assert (await client.get("/api/v1/me", headers=second)).status_code == 401
    # The first key is untouched, and its use was recorded.
    assert (await client.get("/api/v1/me", headers=user["headers"])).status_code == 200
    keys = await client.get(f"/api/v1/users/{user['id']}/api-keys", headers=admin["headers"])
    first = next(k for k in keys.json() if k["name"] == "default")
    assert first["last_used_at"] is not None
    assert "key" not in first
    # A user revokes their own key, never another's.
    other = await make_user("auditor")
    [theirs] = (await client.get("/api/v1/me/api-keys", headers=other["headers"])).json()
    assert (
        await client.delete(f"/api/v1/me/api-keys/{theirs['id']}", headers=user["headers"])
    ).status_code == 404


async def test_user_list_paginates(client: Client, admin: dict[str, Any], make_user: MakeUser) -> None:
    for _ in range(3):
        await make_user("auditor")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "role": "auditor"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/users", params=params, headers=admin["headers"])).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 3
    bad = await client.get("/api/v1/users", params={"cursor": "garbage!"}, headers=admin["headers"])
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_disabling_elsewhere_reaches_a_running_process(
    client: Client, make_user: MakeUser, settings: Any
) -> None:
    """Another process (the CLI, another replica) disables a user: this one's cache drops it."""
    user = await make_user("auditor")
    assert (await client.get("/api/v1/me", headers=user["headers"])).status_code == 200  # now cached
    conn = await connect(settings.database_url)
    try:
        current = await auth_repo.get_user(conn, user["id"])
        assert current is not None
        await auth_service.update_user(
            conn, SYSTEM, user["id"], UserUpdate(version=current.version, disabled=True)
        )
    finally:
        await conn.close()
    # The NOTIFY arrives asynchronously; poll briefly rather than assume a delay.
    for _ in range(100):
        if (await client.get("/api/v1/me", headers=user["headers"])).status_code == 401:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the disabled user's key still works in the running process")
