"""Fixtures for incidents: users by role, a partner sharing data under approved scopes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from tests.helpers import new_credit_code
from vendor_risk.db import create_pool
from vendor_risk.incidents.automation import KICK_JOB_ID
from vendor_risk.notify.delivery import KICK_JOB_ID as OUTBOX_KICK_JOB_ID
from vendor_risk.queue import create_arq_pool
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]
User = dict[str, Any]


@pytest.fixture(scope="package")
async def risk_owner(make_user: MakeUser) -> User:
    return await make_user("risk_owner", name="王芳")


@pytest.fixture(scope="package")
async def procurement(make_user: MakeUser) -> User:
    return await make_user("procurement", name="Procurement Li", locale="en")


@pytest.fixture(scope="package")
async def auditor(make_user: MakeUser) -> User:
    return await make_user("auditor")


@pytest.fixture(scope="package")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url or "", 1, 5)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    redis = await create_arq_pool(settings.redis_url or "")
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture(autouse=True)
async def drain_kicks(redis: ArqRedis) -> AsyncIterator[None]:
    """The API kicks the worker after each change; no worker runs in these tests unless
    one asks for it, so the kicks left queued are taken back for the next package."""
    yield
    for job_id in (KICK_JOB_ID, OUTBOX_KICK_JOB_ID):
        await redis.zrem("arq:queue", job_id)
        await redis.delete(f"arq:job:{job_id}")


NewPartner = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def partner_sharing(client: Client, procurement: User, risk_owner: User) -> NewPartner:
    """A partner with an NDA and an approved scope for each category code given (only
    categories below ``personal`` need nothing more); returns the partner with its
    ``scopes`` by category code."""

    async def create(*codes: str) -> dict[str, Any]:
        tag = secrets.token_hex(3)
        response = await client.post(
            "/api/v1/partners",
            json={
                "name": f"云账房 {tag}",
                "legal_name": f"北京云账房科技有限公司 {tag}",
                "credit_code": new_credit_code(),
                "business_criticality": "critical",
                "owner_id": str(risk_owner["id"]),
                "contacts": [{"name": "韩梅梅", "email": f"han.{tag}@example.com", "primary": True}],
            },
            headers=procurement["headers"],
        )
        assert response.status_code == 201, response.text
        partner: dict[str, Any] = response.json()
        pid = partner["id"]
        categories = {
            c["code"]: c["id"]
            for c in (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
        }
        nda = await client.post(
            f"/api/v1/partners/{pid}/agreements",
            json={
                "kind": "nda",
                "title": "保密协议",
                "signed_on": "2025-01-10",
                "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "韩梅梅"}],
                "category_ids": [categories[code] for code in codes],
            },
            headers=procurement["headers"],
        )
        assert nda.status_code == 201, nda.text
        partner["scopes"] = {}
        for code in codes:
            scope = await client.post(
                f"/api/v1/partners/{pid}/scopes",
                json={
                    "category_id": categories[code],
                    "purpose": "代理记账",
                    "processing_methods": ["store", "process"],
                    "transfer_method": "api",
                    "starts_on": "2025-01-01",
                    "retention_days": 365,
                    "volume_band": "1k_10k",
                },
                headers=procurement["headers"],
            )
            assert scope.status_code == 201, scope.text
            approved = await client.post(
                f"/api/v1/partners/{pid}/scopes/{scope.json()['id']}/approve",
                json={},
                headers=risk_owner["headers"],
            )
            assert approved.status_code == 200, approved.text
            partner["scopes"][code] = approved.json()
        return partner

    return create


def incident_body(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "合作方共享邮箱被钓鱼，发票数据可能外泄",
        "severity": "high",
        "detected_at": datetime.now(UTC).isoformat(),
        "playbook": "partner-data-leak",
        "affected_categories": ["invoices"],
        "description": "合作方一名会计的邮箱密码被钓鱼窃取，邮箱中有我方客户的发票。",
    } | overrides
