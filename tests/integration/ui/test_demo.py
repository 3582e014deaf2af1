"""The demo firm loads through the services into an empty install, twice without
doubling, and every staff page it fills opens in Chinese."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import fresh_database, user_maker
from tests.integration.assessments.conftest import Client
from tests.integration.ui.conftest import Browser
from tests.integration.ui.test_language_walk import problems, visible
from vendor_risk.app import create_app
from vendor_risk.cli import prepare_database
from vendor_risk.db import connect
from vendor_risk.demo import PARTNERS, load_demo
from vendor_risk.settings import Settings


@pytest.fixture(scope="module")
async def demo_settings(settings: Settings) -> AsyncIterator[Settings]:
    shared = settings.database_url or ""
    name = f"{urlsplit(shared).path.lstrip('/')}_demo_{secrets.token_hex(3)}"
    async with fresh_database(shared, name) as url:
        own = msgspec.structs.replace(settings, database_url=url)
        await prepare_database(own, quiet=True)
        yield own


@pytest.fixture(scope="module")
async def demo_client(demo_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(demo_settings), base_url="http://testserver.local") as client:
        yield client


async def test_the_demo_firm_loads_once_and_its_pages_open_in_chinese(
    demo_settings: Settings, demo_client: Client
) -> None:
    conn = await connect(demo_settings.database_url or "")
    try:
        first = await load_demo(conn, demo_settings)
        assert first.refused == []
        assert len(first.created) == len(PARTNERS) == 12
        again = await load_demo(conn, demo_settings)
        assert again.created == []
        assert len(again.skipped) == 12
        statuses = {
            r["status"]: r["n"]
            for r in await conn.fetch("SELECT status, count(*) AS n FROM partners GROUP BY status")
        }
        # Two onboarding, two more onboarding with their answers waiting for review.
        assert statuses == {"proposed": 2, "onboarding": 4, "active": 4, "suspended": 1, "offboarding": 1}
        tiers = {r["tier"] for r in await conn.fetch("SELECT DISTINCT tier FROM partners")}
        assert len(tiers) >= 3
        assert await conn.fetchval("SELECT count(*) FROM assessments WHERE status = 'submitted'") == 2
        assert await conn.fetchval("SELECT count(*) FROM findings") > 0
        assert await conn.fetchval("SELECT count(*) FROM incidents WHERE status = 'open'") == 1
        assert await conn.fetchval("SELECT count(*) FROM agreements") == 10
        incident = await conn.fetchval("SELECT id FROM incidents")
        partner_ids = [r["id"] for r in await conn.fetch("SELECT id FROM partners ORDER BY name")]
    finally:
        await conn.close()

    admin = await user_maker(demo_settings)("admin", name="管理员张伟")
    me = Browser(demo_client)
    await me.sign_in_as(admin, lang="zh-CN")
    paths = [
        "/ui",
        "/ui/partners",
        "/ui/reviews",
        "/ui/findings",
        "/ui/incidents",
        f"/ui/incidents/{incident}",
        "/ui/audit",
        *(f"/ui/partners/{pid}" for pid in partner_ids),
    ]
    for path in paths:
        page = await me.get(path)
        assert page.status_code == 200, (path, page.text[-500:])
    dashboard = (await me.get("/ui")).text
    assert "共享邮箱疑似被钓鱼" in dashboard
    assert "待审核的评估" in dashboard
    own_pages = [
        f"/ui/incidents/{incident}",
        "/ui",
        "/ui/admin/webhooks",
        "/ui/admin/outbox?status=all",
        "/ui/audit",
    ]
    found = [
        f"{p}: {problem}"
        for p in own_pages
        for problem in problems(visible((await me.get(p)).text, []), "zh-CN")
    ]
    assert not found, "\n".join(found)
