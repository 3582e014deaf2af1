"""The incident jobs on a real arq worker against the test Redis."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.incidents.conftest import NewPartner, User, incident_body
from vendor_risk.incidents.automation import KICK_JOB_ID
from vendor_risk.settings import Settings
from vendor_risk.worker import build_worker

Client = AsyncTestClient[Litestar]

# arq's Worker.close() calls redis-py's close(), deprecated for aclose() since redis 5.0.1.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


async def test_the_kick_after_opening_contains_the_leak_on_a_real_worker(
    client: Client,
    db: asyncpg.Connection,
    settings: Settings,
    redis: ArqRedis,
    partner_sharing: NewPartner,
    risk_owner: User,
) -> None:
    partner = await partner_sharing("invoices", "contracts")
    opened = await client.post(
        f"/api/v1/partners/{partner['id']}/incidents", json=incident_body(), headers=risk_owner["headers"]
    )
    assert opened.status_code == 201, opened.text
    assert await redis.zscore("arq:queue", KICK_JOB_ID) is not None

    worker = build_worker(settings, burst=True)
    try:
        await worker.run_check()
    finally:
        await worker.close()

    scopes = (
        await client.get(f"/api/v1/partners/{partner['id']}/scopes", headers=risk_owner["headers"])
    ).json()
    assert {s["category"]["code"]: s["status"] for s in scopes["items"]} == {
        "invoices": "suspended",
        "contracts": "approved",
    }
    run = await db.fetchrow(
        "SELECT status, attempts FROM incident_action_runs WHERE incident_id = $1 AND action = $2",
        UUID(opened.json()["id"]),
        "suspend_scopes",
    )
    assert (run["status"], run["attempts"]) == ("succeeded", 1)
