"""The last way in for an admin cannot be taken away through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser, Servers, fresh_database, user_maker
from vendor_risk.app import create_app
from vendor_risk.cli import prepare_database
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def alone(servers: Servers, settings: Settings) -> AsyncIterator[tuple[Client, MakeUser]]:
    """A service on a database of its own, where the test decides who the admins are."""
    async with fresh_database(servers.admin_database_url) as url:
        own = msgspec.structs.replace(settings, database_url=url)
        await prepare_database(own, quiet=True)
        async with AsyncTestClient(app=create_app(own), base_url="http://testserver.local") as client:
            yield client, user_maker(own)


def refused_as_last(response: Any) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:vendor-risk:problem:last-admin-credential"


async def test_the_last_admin_key_cannot_be_revoked(alone: tuple[Client, MakeUser]) -> None:
    client, make_user = alone
    admin = await make_user("admin")
    keys = await client.get(f"/api/v1/users/{admin['id']}/api-keys", headers=admin["headers"])
    (only,) = keys.json()
    refused_as_last(await client.delete(f"/api/v1/api-keys/{only['id']}", headers=admin["headers"]))
    assert (await client.get("/api/v1/me", headers=admin["headers"])).status_code == 200

    # With a second key, the first may go; then the second is the last.
    second = await client.post(
        f"/api/v1/users/{admin['id']}/api-keys", json={"name": "spare"}, headers=admin["headers"]
    )
    assert second.status_code == 201, second.text
    spare = {"Authorization": f"Bearer {second.json()['key']}"}
    assert (await client.delete(f"/api/v1/api-keys/{only['id']}", headers=spare)).status_code == 200
    refused_as_last(await client.delete(f"/api/v1/api-keys/{second.json()['api_key']['id']}", headers=spare))
    audit = await client.get("/api/v1/audit-events", params={"action": "api_key.revoked"}, headers=spare)
    assert [e["entity_id"] for e in audit.json()["items"]] == [only["id"]]


async def test_the_last_admin_cannot_be_disabled_or_demoted_by_another(
    alone: tuple[Client, MakeUser],
) -> None:
    client, make_user = alone
    first = await make_user("admin")
    second = await make_user("admin")
    # Another admin remains: disabling one is fine.
    user = (await client.get(f"/api/v1/users/{second['id']}", headers=first["headers"])).json()
    disabled = await client.patch(
        f"/api/v1/users/{second['id']}",
        json={"version": user["version"], "disabled": True},
        headers=first["headers"],
    )
    assert disabled.status_code == 200, disabled.text
    # The first is now the only one; a third admin without keys does not count.
    third = await make_user("admin")
    keys = (await client.get(f"/api/v1/users/{third['id']}/api-keys", headers=first["headers"])).json()
    assert (
        await client.delete(f"/api/v1/api-keys/{keys[0]['id']}", headers=first["headers"])
    ).status_code == 200
    me = (await client.get(f"/api/v1/users/{first['id']}", headers=first["headers"])).json()
    refused_as_last(
        await client.patch(
            f"/api/v1/users/{first['id']}",
            json={"version": me["version"], "role": "auditor"},
            headers=first["headers"],
        )
    )
    assert (await client.get("/api/v1/me", headers=first["headers"])).json()["role"] == "admin"
