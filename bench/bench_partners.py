"""The partner list at scale: 100k partners, their agreements and scopes.

Generates the data with COPY into a fresh database (``datagen.generate_partners``), then prints

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
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import measure, scratch_database, serve_bare, serve_ours  # noqa: E402
from bench.datagen import generate_partners  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk.audit.models import SYSTEM  # noqa: E402
from vendor_risk.auth import service  # noqa: E402
from vendor_risk.auth.models import Role, UserCreate  # noqa: E402
from vendor_risk.db import connect, init_connection  # noqa: E402
from vendor_risk.partners import repository as repo  # noqa: E402
from vendor_risk.partners.models import PartnerSummary  # noqa: E402

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
        await generate_partners(conn, opts.partners, [owner.user.id])
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
