"""The partner list at scale: 100k partners, their agreements and scopes.

Generates the data with COPY into a fresh database, then prints

1. the list query's time per filter (name search in Chinese and Latin, status, tier,
   needs_attention, a deep keyset page), run directly on a connection;
2. the authenticated ``GET /api/v1/partners`` served by uvicorn against a bare Litestar +
   asyncpg handler running the same query (``create_bare``), under the same load.

    uv run python bench/bench_partners.py [--partners 100000] [--seconds 5] [--concurrency 8]

Uses VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL when set, else embedded
servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import measure, scratch_database, serve_bare, serve_ours  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk.audit.models import SYSTEM  # noqa: E402
from vendor_risk.auth import service  # noqa: E402
from vendor_risk.auth.models import Role, UserCreate  # noqa: E402
from vendor_risk.db import connect, init_connection  # noqa: E402
from vendor_risk.partners import repository as repo  # noqa: E402
from vendor_risk.partners.models import PartnerSummary  # noqa: E402
from vendor_risk.partners.rules import (  # noqa: E402
    CREDIT_CODE_ALPHABET,
    credit_code_check_char,
    org_code_check_char,
)

# Realistic-looking names: city + two characters + trade, a fifth with a Latin brand.
CITIES = "北京 上海 广州 深圳 杭州 成都 武汉 南京 苏州 西安 重庆 天津 厦门 青岛 宁波".split()  # noqa: SIM905
WORDS = list("金蝶用友云账税财信达恒通华盛泰安顺德利新创智汇联科鑫源丰")
TRADES = "会计服务 税务师事务所 信息技术 人力资源 软件 数据科技 档案管理 印务 快递 咨询".split()  # noqa: SIM905
LATIN = "Acme Kingdee Yonyou Cloud Ledger Tax Payroll Archive Print Data Global Star".split()  # noqa: SIM905
STATUSES = ["proposed", "onboarding", "active", "active", "active", "suspended", "offboarding"]
TIERS = ["low", "medium", "medium", "high", "critical"]


def credit_code(rng: random.Random) -> str:
    org = "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(8))
    first17 = "91" + "310115" + org + org_code_check_char(org)
    return first17 + credit_code_check_char(first17)


async def generate(conn: asyncpg.Connection, count: int, owner: UUID) -> None:
    """Partners (COPY), an NDA for two in three, a scope for each, in a few seconds."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    today = now.date()
    categories = [r["id"] for r in await conn.fetch("SELECT id FROM data_categories")]
    partners, agreements, scopes, seen = [], [], [], set()
    for i in range(count):
        code = credit_code(rng)
        while code in seen:
            code = credit_code(rng)
        seen.add(code)
        name = rng.choice(CITIES) + "".join(rng.sample(WORDS, 2)) + rng.choice(TRADES)
        if i % 5 == 0:
            name = f"{rng.choice(LATIN)} {rng.choice(LATIN)} {name}"
        pid = uuid4()
        created = now - timedelta(minutes=count - i)
        partners.append(
            (
                pid,
                name,
                name + "有限公司",
                code,
                "CN",
                rng.choice(["low", "medium", "high", "critical"]),
                owner if i % 3 else None,
                rng.choice(STATUSES),
                rng.choice(TIERS),
                created,
                created,
            )
        )
        if i % 3:
            expires = today + timedelta(days=rng.randint(-100, 1500))
            agreements.append((uuid4(), pid, "nda", "NDA", today - timedelta(days=400), expires))
        scopes.append(
            (
                uuid4(),
                pid,
                rng.choice(categories),
                "代理记账",
                ["process"],
                "api",
                today - timedelta(days=300),
                today + timedelta(days=rng.randint(-30, 900)),
                365,
                "1k_10k",
                rng.choice(["requested", "approved", "approved", "revoked"]),
            )
        )
    await conn.copy_records_to_table(
        "partners",
        records=partners,
        columns=[
            "id",
            "name",
            "legal_name",
            "credit_code",
            "country",
            "business_criticality",
            "owner_id",
            "status",
            "tier",
            "created_at",
            "updated_at",
        ],
    )
    await conn.copy_records_to_table(
        "agreements",
        records=[(*a[:5], a[4], a[5]) for a in agreements],
        columns=["id", "partner_id", "kind", "title", "signed_on", "effective_from", "expires_on"],
    )
    await conn.copy_records_to_table(
        "scopes",
        records=scopes,
        columns=[
            "id",
            "partner_id",
            "category_id",
            "purpose",
            "processing_methods",
            "transfer_method",
            "starts_on",
            "ends_on",
            "retention_days",
            "volume_band",
            "status",
        ],
    )
    await conn.execute("ANALYZE")


CASES: list[tuple[str, dict[str, Any]]] = [
    ("first page, no filter", {}),
    ("q: two Chinese characters", {"q": "金蝶"}),
    ("q: one Chinese character", {"q": "鑫"}),
    ("q: rare Chinese name", {"q": "苏州恒泰"}),
    ("q: Latin, any case", {"q": "kingdee cloud"}),
    ("status=active", {"statuses": ["active"]}),
    ("tier=critical", {"tiers": ["critical"]}),
    ("needs_attention=true", {"needs_attention": True}),
    ("needs_attention=false + tier", {"needs_attention": False, "tiers": ["high"]}),
]


async def time_queries(conn: asyncpg.Connection, runs: int) -> None:
    today = datetime.now(UTC).date()
    print(f"{'list query (50 rows)':<34} {'median':>9} {'p95':>9} {'rows':>5}")
    for label, filters in CASES:
        timings, rows = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            rows = await repo.list_partners(conn, repo.ListFilters(**filters), None, 51, today, 60)
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(f"{label:<34} {statistics.median(timings):>7.2f}ms {p95:>7.2f}ms {len(rows):>5}")
    # A deep page: the cursor of row 50,000 costs what page one costs.
    row = await conn.fetchrow(
        "SELECT created_at, id FROM partners ORDER BY created_at DESC, id DESC OFFSET 50000 LIMIT 1"
    )
    if row:
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            await repo.list_partners(conn, repo.ListFilters(), (row["created_at"], row["id"]), 51, today, 60)
            timings.append((time.perf_counter() - t0) * 1000)
        print(f"{'page after row 50,000 (cursor)':<34} {statistics.median(timings):>7.2f}ms")
    timings = []
    for _ in range(max(3, runs // 5)):
        t0 = time.perf_counter()
        await repo.dashboard(conn, today, 60, 10)
        timings.append((time.perf_counter() - t0) * 1000)
    print(f"{'dashboard (one statement)':<34} {statistics.median(timings):>7.2f}ms")


def create_bare() -> Litestar:
    """The yardstick: the same list query behind a bare Litestar + asyncpg handler."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10, init=init_connection
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    @get("/partners")
    async def list_partners(state: State, q: str | None = None) -> list[PartnerSummary]:
        async with state.pool.acquire() as conn:
            rows: list[PartnerSummary] = await repo.list_partners(
                conn, repo.ListFilters(q=q), None, 51, datetime.now(UTC).date(), 60
            )
            return rows[:50]

    return Litestar([list_partners], lifespan=[lifespan])


async def main(opts: Any) -> None:
    async with scratch_database() as (url, redis_url):
        conn = await connect(url)
        owner = await service.create_user(
            conn, SYSTEM, UserCreate(email="owner@example.com", name="Owner", role=Role.RISK_OWNER)
        )
        reader = await service.create_user(
            conn, SYSTEM, UserCreate(email="reader@example.com", name="Reader", role=Role.AUDITOR)
        )
        t0 = time.perf_counter()
        await generate(conn, opts.partners, owner.user.id)
        elapsed = time.perf_counter() - t0
        print(f"generated {opts.partners:,} partners with agreements and scopes in {elapsed:.1f}s")
        await time_queries(conn, opts.runs)
        await conn.close()

        procs = []
        try:
            bare_port = free_port()
            procs.append(serve_bare("bench.bench_partners:create_bare", url, bare_port))
            ours_port = free_port()
            procs.append(serve_ours(url, redis_url, ours_port))
            query = "?" + urlencode({"q": "金蝶"})
            print(
                f"\nGET the first 50 partners matching q=金蝶, {opts.concurrency} keep-alive "
                f"connections, {opts.seconds:.0f} s each"
            )
            bare_latency, bare_us = await measure(
                "bare litestar+asyncpg", procs[0], bare_port, f"/partners{query}", {}, opts
            )
            auth = {"Authorization": f"Bearer {reader.key}"}
            ours_latency, ours_us = await measure(
                "vendor-risk (auth)", procs[1], ours_port, f"/api/v1/partners{query}", auth, opts
            )
            print(f"ratio, latency of a request:   {ours_latency / bare_latency:.2f}x")
            print(f"ratio, server CPU per request: {ours_us / bare_us:.2f}x")
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
