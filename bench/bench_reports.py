"""Reports at scale: the partner register of 100k partners as XLSX and CSV (time and peak
RSS of a process that does only that), the heat map and trend queries, the rating and
snapshot sweeps, and the import of 10,000 rows.

    uv run python bench/bench_reports.py [--partners 100000] [--import-rows 10000]

Goals: the register under 15 s and 200 MB, streamed; heat map and trends under 50 ms; the
10,000-row import under 10 s. Each export runs in a child process so that its peak RSS is
the export's alone, not the data generator's.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import scratch_database  # noqa: E402
from bench.datagen import generate  # noqa: E402
from tests.helpers import new_credit_code  # noqa: E402
from vendor_risk.audit.models import SYSTEM  # noqa: E402
from vendor_risk.db import connect, create_pool  # noqa: E402
from vendor_risk.i18n import translator  # noqa: E402
from vendor_risk.partners import rating  # noqa: E402
from vendor_risk.reports import exports, imports, snapshots  # noqa: E402
from vendor_risk.settings import load_settings  # noqa: E402


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def export_once(url: str, fmt: str) -> None:
    """The child: write the register as the API does and report time, rows, size, peak RSS."""
    settings = load_settings({}, database_url=url)
    pool = await create_pool(url, 1, 2)
    started = time.perf_counter()
    spec = exports.SPECS["partner-register"]
    today = datetime.now(UTC).date()
    query = exports.build_query(
        spec, {"today": today, "lang": "zh-CN", "expiring_days": settings.agreement_expiring_days}, {}
    )
    size = 0
    rows = 0
    if fmt == "xlsx":
        async with pool.acquire() as conn:
            written = await exports.write_xlsx(conn, spec, query, "zh-CN", today)
        async for chunk in exports.stream_file(written.path):
            size += len(chunk)
        rows = written.rows
    else:
        async for chunk in exports.stream_csv(pool, spec, query, "zh-CN", today):
            size += len(chunk)
            rows += chunk.count(b"\r\n")
        rows -= 1
    elapsed = time.perf_counter() - started
    await pool.close()
    print(f"{fmt} {rows} {size} {elapsed:.2f} {peak_rss_mb():.0f}")


def run_export(url: str, fmt: str) -> tuple[int, int, float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--export", fmt, "--url", url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.split()
    return int(out[1]), int(out[2]), float(out[3]), float(out[4])


async def timed(conn: Any, runs: int, fn: Any, *args: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn(conn, *args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def import_file(rows: int) -> bytes:
    t = translator("zh-CN")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t(c.header) for c in imports.COLUMNS])
    for i in range(rows):
        values = {
            "name": f"导入基准 {i}",
            "legal_name": f"上海导入基准测试有限公司 {i}",
            "credit_code": new_credit_code(),
            "business_criticality": "中",
            "contact_name": "韩梅梅",
            "contact_email": f"bench.{i}@import.example.com",
            "services": "代理记账、报税",
            "agreement_kind": "NDA",
            "agreement_title": "保密协议",
            "agreement_signed_on": "2025-03-01",
        }
        writer.writerow([values.get(c.key, "") for c in imports.COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


async def main(opts: Any) -> None:
    async with scratch_database() as (url, _redis):
        conn = await connect(url)
        started = time.perf_counter()
        print(f"generating {opts.partners:,} partners and their history")
        await generate(conn, opts.partners, log=lambda *_: None)
        print(f"generated in {time.perf_counter() - started:.0f}s")

        started = time.perf_counter()
        changed = await rating.repair(conn, SYSTEM)
        print(f"repair_ratings (first run, {changed:,} ratings set)   {time.perf_counter() - started:6.1f} s")
        started = time.perf_counter()
        assert await rating.repair(conn, SYSTEM) == 0
        print(f"repair_ratings (steady state, nothing to change)  {time.perf_counter() - started:6.1f} s")
        today = datetime.now(UTC).date()
        started = time.perf_counter()
        written = await snapshots.take_snapshots(conn, today)
        print(f"snapshot_portfolio (back-fill, {written} rows)        {time.perf_counter() - started:6.1f} s")
        started = time.perf_counter()
        await snapshots.take_snapshots(conn, today)
        print(f"snapshot_portfolio (hourly refresh of today)       {time.perf_counter() - started:6.1f} s")
        await conn.execute("VACUUM ANALYZE partners")
        heat = await timed(conn, opts.runs, snapshots.heat_map)
        trend = await timed(conn, opts.runs, snapshots.trend, today)
        print(f"heat map query (tier x rating)                     {heat:6.1f} ms  (goal < 50 ms)")
        print(f"trend query (12 monthly points)                    {trend:6.1f} ms  (goal < 50 ms)")

        for fmt in ("xlsx", "csv"):
            rows, size, seconds, rss = run_export(url, fmt)
            print(
                f"partner register {fmt.upper():<4} {rows:,} rows, {size / 2**20:5.1f} MB   "
                f"{seconds:6.1f} s, peak RSS {rss:4.0f} MB  (goal < 15 s, < 200 MB)"
            )

        content = import_file(opts.import_rows)
        started = time.perf_counter()
        report = await imports.run_import(conn, SYSTEM, content, "bench.csv", "zh-CN", dry_run=True)
        checked = time.perf_counter() - started
        started = time.perf_counter()
        report = await imports.run_import(conn, SYSTEM, content, "bench.csv", "zh-CN", dry_run=False)
        imported = time.perf_counter() - started
        assert not report.errors, report.errors[:3]
        assert report.created == opts.import_rows
        print(
            f"import of {opts.import_rows:,} rows: dry run {checked:5.1f} s, import {imported:5.1f} s "
            f"({report.created:,} partners, contacts and NDAs; goal < 10 s)"
        )
        started = time.perf_counter()
        again = await imports.run_import(conn, SYSTEM, content, "bench.csv", "zh-CN", dry_run=False)
        seconds = time.perf_counter() - started
        print(f"the same file again (all {again.updated:,} updated)       {seconds:5.1f} s")
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--export", choices=("xlsx", "csv"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.export:
        asyncio.run(export_once(options.url, options.export))
    else:
        asyncio.run(main(options))
