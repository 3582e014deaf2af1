"""The audit trail: written with every change, listed with filters, tamper-evident."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser, Servers, fresh_database
from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.audit.service import verify
from vendor_risk.db import connect, migrate

Client = AsyncTestClient[Litestar]


async def test_changes_are_audited_and_listed(
    client: Client, admin: dict[str, Any], make_user: MakeUser
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "audited@example.com", "name": "A", "role": "auditor"},
        headers=admin["headers"],
    )
    user_id = created.json()["user"]["id"]
    auditor = await make_user("auditor")
    events = await client.get(
        "/api/v1/audit-events",
        params={"entity_type": "user", "entity_id": user_id},
        headers=auditor["headers"],
    )
    assert events.status_code == 200
    listed = events.json()["items"]
    assert [e["action"] for e in listed] == ["user.invited", "user.created"]  # newest first
    event = listed[1]
    assert event["actor_id"] == str(admin["id"])
    assert event["after"]["email"] == "audited@example.com"
    assert len(event["hash"]) == 64
    by_actor = await client.get(
        "/api/v1/audit-events",
        params={"actor_id": str(admin["id"]), "action": "user.invited"},
        headers=auditor["headers"],
    )
    assert all(e["action"] == "user.invited" for e in by_actor.json()["items"])
    # The invitation's secret link is in no event.
    assert all("/ui/password/" not in str(e) for e in listed)
    assert by_actor.json()["items"]
    procurement = await make_user("procurement")
    assert (await client.get("/api/v1/audit-events", headers=procurement["headers"])).status_code == 403


async def test_audit_list_pages_newest_first(client: Client, admin: dict[str, Any]) -> None:
    first = (await client.get("/api/v1/audit-events", params={"limit": 3}, headers=admin["headers"])).json()
    assert len(first["items"]) == 3
    second = (
        await client.get(
            "/api/v1/audit-events",
            params={"limit": 3, "cursor": first["next_cursor"]},
            headers=admin["headers"],
        )
    ).json()
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == len(seqs)


@pytest.fixture
async def scratch_db(servers: Servers) -> AsyncIterator[str]:
    async with fresh_database(servers.admin_database_url) as url:
        conn = await connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url


async def write_events(url: str, count: int, writers: int = 1) -> None:
    async def writer(n: int) -> None:
        conn = await connect(url)
        try:
            for i in range(n):
                async with conn.transaction():
                    await audit.record(
                        conn,
                        actor=Actor(id=None, label="test"),
                        action="thing.changed",
                        entity_type="thing",
                        entity_id=str(i),
                        after={"i": i, "名": "值"},
                    )
        finally:
            await conn.close()

    await asyncio.gather(*(writer(count) for _ in range(writers)))


async def test_concurrent_writers_do_not_fork_the_chain(scratch_db: str) -> None:
    await write_events(scratch_db, 10, writers=5)
    conn = await connect(scratch_db)
    try:
        checked, broken = await verify(conn)
    finally:
        await conn.close()
    assert checked == 50
    assert broken is None


def run_verify(url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "vendor_risk", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_events SET after = '{\"i\": 99}' WHERE seq = 4",
        "UPDATE audit_events SET actor_label = 'someone else' WHERE seq = 4",
        "DELETE FROM audit_events WHERE seq = 4",
        "UPDATE audit_events SET seq = 100 WHERE seq = 4",
    ],
)
async def test_verify_names_the_first_tampered_event(scratch_db: str, tamper: str) -> None:
    await write_events(scratch_db, 6)
    intact = await asyncio.to_thread(run_verify, scratch_db)
    assert intact.returncode == 0, intact.stderr
    assert "6 events verified" in intact.stdout
    conn = await connect(scratch_db)
    try:
        await conn.execute(tamper)
    finally:
        await conn.close()
    broken = await asyncio.to_thread(run_verify, scratch_db)
    assert broken.returncode == 1
    assert "seq 4" in broken.stdout or "seq 5" in broken.stdout
    assert "BROKEN" in broken.stdout
