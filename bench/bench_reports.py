"""Reports at scale: the partner register of 100k partners as XLSX and CSV (time and peak
RSS of a process that does only that), the heat map and trend queries, the rating and
snapshot sweeps, and the import of 10,000 rows.

    uv run python bench/bench_reports.py [--partners 100000] [--import-rows 10000]

Each figure is printed with its goal and its ratio to a bare equivalent doing the same work
with nothing of the service around it: the register's statement read through a plain
asyncpg cursor into XlsxWriter's typed writers (constant memory) or the csv module, each
value written as it comes (ours writes the rows' XML itself, so its XLSX ratio is under 1);
the heat map as one GROUP BY over the partners; the trend as a plain read of the snapshot
rows; the import as COPY of the same rows, unvalidated, into the same tables (their
triggers fire). Each export runs in a child process that reports its own peak RSS (VmHWM),
not the data generator's. Other work on the machine moves every figure: the load average is printed
beside each.
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
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import xlsxwriter

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


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def line(
    label: str,
    value: str,
    goal: str = "",
    bare: float | None = None,
    ours: float | None = None,
    unit: str = "",
) -> None:
    """One figure: what, how much, the goal, the ratio to the bare equivalent (and its
    figure), and the load average when it was taken."""
    ratio = f"{ours / bare:.3g}x bare ({bare:.3g}{unit})" if bare and ours is not None else ""
    print(f"{label:<46} {value:>10}  {goal:<10} {ratio:<26} ({load()})", flush=True)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM, the high-water mark of its address space.

    Not ru_maxrss: Linux carries it across fork and exec, so a child started by a parent of 229 MB
    (this bench, after generating the data) reported 229 MB for every export, ours and bare
    alike, whatever the export itself used."""
    with open("/proc/self/status") as status:
        for entry in status:
            if entry.startswith("VmHWM:"):
                return int(entry.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _register_query() -> tuple[str, list[Any]]:
    spec = exports.SPECS["partner-register"]
    return exports.build_query(spec, {"today": datetime.now(UTC).date(), "lang": "zh-CN"}, {})


async def export_once(url: str, fmt: str) -> None:
    """The child: write the register as the API does and report time, rows, size, peak RSS."""
    settings = load_settings({}, database_url=url)
    pool = await create_pool(url, 1, 2)
    started, cpu = time.perf_counter(), cpu_seconds()
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
    print(f"{fmt} {rows} {size} {elapsed:.2f} {peak_rss_mb():.0f} {cpu_seconds() - cpu:.2f}")


async def bare_export_once(url: str, fmt: str) -> None:
    """The bare child: the same statement through a plain cursor, each value written as it
    comes (no labels, no formula neutralising, no dates as dates), JIT off as in ours."""
    conn = await asyncpg.connect(url)
    started, cpu = time.perf_counter(), cpu_seconds()
    sql, params = _register_query()
    handle, path = tempfile.mkstemp(prefix="perfreports-bare-", suffix=f".{fmt}")
    os.close(handle)
    rows = 0
    async with conn.transaction(readonly=True):
        await conn.execute("SET LOCAL jit = off")
        if fmt == "xlsx":
            book = xlsxwriter.Workbook(path, {"constant_memory": True})
            sheet = book.add_worksheet()
            async for record in conn.cursor(sql, *params, prefetch=exports.BATCH):
                rows += 1
                for index, value in enumerate(record.values()):
                    if value is None:
                        continue
                    if isinstance(value, int | float):
                        sheet.write_number(rows, index, value)
                    else:
                        sheet.write_string(rows, index, str(value))
            book.close()
        else:
            with open(path, "w", newline="", encoding="utf-8-sig") as out:  # noqa: ASYNC230
                writer = csv.writer(out)
                async for record in conn.cursor(sql, *params, prefetch=exports.BATCH):
                    writer.writerow(record.values())
                    rows += 1
    size = Path(path).stat().st_size  # noqa: ASYNC240 - once, on a local file
    os.unlink(path)
    elapsed = time.perf_counter() - started
    await conn.close()
    print(f"{fmt} {rows} {size} {elapsed:.2f} {peak_rss_mb():.0f} {cpu_seconds() - cpu:.2f}")


def run_export(url: str, fmt: str, bare: bool = False) -> tuple[int, int, float, float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--bare-export" if bare else "--export", fmt, "--url", url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.split()
    return int(out[1]), int(out[2]), float(out[3]), float(out[4]), float(out[5])


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


async def bare_import(conn: Any, content: bytes) -> None:
    """The same rows COPYed into the same tables, unvalidated, in a transaction rolled back."""
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    next(reader)
    keys = [c.key for c in imports.COLUMNS]
    partners, contacts, agreements = [], [], []
    for values in reader:
        row = dict(zip(keys, values, strict=False))
        pid = uuid.uuid4()
        partners.append((pid, row["name"], row["legal_name"], row["credit_code"], "CN", "medium"))
        contacts.append((pid, row["contact_name"], row["contact_email"], True))
        signed = datetime.fromisoformat(row["agreement_signed_on"]).date()
        agreements.append((pid, "nda", row["agreement_title"], signed, signed))
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.copy_records_to_table(
            "partners",
            records=partners,
            columns=["id", "name", "legal_name", "credit_code", "country", "business_criticality"],
        )
        await conn.copy_records_to_table(
            "partner_contacts", records=contacts, columns=["partner_id", "name", "email", "is_primary"]
        )
        await conn.copy_records_to_table(
            "agreements",
            records=agreements,
            columns=["partner_id", "kind", "title", "signed_on", "effective_from"],
        )
    finally:
        await transaction.rollback()


async def main(opts: Any) -> None:
    if opts.database:
        await measure(opts, opts.database)
        return
    async with scratch_database() as (url, _redis):
        conn = await connect(url)
        started = time.perf_counter()
        print(f"generating {opts.partners:,} partners and their history ({load()})")
        await generate(conn, opts.partners, log=lambda *_: None)
        print(f"generated in {time.perf_counter() - started:.0f}s ({load()})")
        await conn.close()
        await measure(opts, url)


async def measure(opts: Any, url: str) -> None:
    conn = await connect(url)
    print(f"{'':<46} {'figure':>10}  {'goal':<10} {'ratio to bare':<26}")

    started = time.perf_counter()
    changed = await rating.repair(conn, SYSTEM)
    line(f"repair_ratings, first run ({changed:,} set)", f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    assert await rating.repair(conn, SYSTEM) == 0
    line("repair_ratings, nothing to change", f"{time.perf_counter() - started:.1f} s")
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    written = await snapshots.take_snapshots(conn, today)
    line(f"snapshot_portfolio, back-fill ({written} rows)", f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    await snapshots.take_snapshots(conn, today)
    line("snapshot_portfolio, hourly refresh", f"{time.perf_counter() - started:.1f} s")
    await conn.execute("VACUUM ANALYZE partners")

    async def bare_heat(c: Any) -> None:
        await c.fetch(
            """
            SELECT tier, coalesce(residual_rating, 'unrated'), count(*) FROM partners
            WHERE status <> 'offboarded' GROUP BY 1, 2
            """
        )

    async def bare_trend(c: Any, day: Any) -> None:
        await c.fetch("SELECT * FROM portfolio_snapshots WHERE day > $1 ORDER BY day", day)

    heat, heat_bare = (
        await timed(conn, opts.runs, snapshots.heat_map),
        await timed(conn, opts.runs, bare_heat),
    )
    line("heat map (tier x rating)", f"{heat:.2f} ms", "< 50 ms", heat_bare, heat, " ms")
    year_ago = snapshots.month_ends(today)[0]
    trend = await timed(conn, opts.runs, snapshots.trend, today)
    trend_bare = await timed(conn, opts.runs, bare_trend, year_ago)
    line("trend (12 monthly points)", f"{trend:.2f} ms", "< 50 ms", trend_bare, trend, " ms")

    for fmt in ("xlsx", "csv"):
        rows, size, seconds, rss, cpu = run_export(url, fmt)
        _, _, bare_seconds, bare_rss, bare_cpu = run_export(url, fmt, bare=True)
        goal = "< 15 s" if fmt == "xlsx" else "(as XLSX)"
        line(
            f"register {fmt.upper()}, {rows:,} rows, {size / 2**20:.1f} MB",
            f"{seconds:.1f} s",
            goal,
            bare_seconds,
            seconds,
            " s",
        )
        # Wall time moves with the machine's load; the process's own CPU time much less.
        line("  its CPU time (this process only)", f"{cpu:.1f} s", "", bare_cpu, cpu, " s")
        line("  its peak RSS", f"{rss:.0f} MB", "< 200 MB", bare_rss, rss, " MB")

    content = import_file(opts.import_rows)
    started = time.perf_counter()
    await bare_import(conn, content)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    report = await imports.run_import(conn, SYSTEM, content, "bench.csv", "zh-CN", dry_run=True)
    checked = time.perf_counter() - started
    line(f"import of {opts.import_rows:,} rows, dry run", f"{checked:.1f} s", "", bare, checked, " s")
    started = time.perf_counter()
    report = await imports.run_import(conn, SYSTEM, content, "bench.csv", "zh-CN", dry_run=False)
    imported = time.perf_counter() - started
    assert not report.errors, report.errors[:3]
    assert report.created == opts.import_rows
    line(
        f"import of {opts.import_rows:,} rows (+contacts, NDAs)",
        f"{imported:.1f} s",
        "< 10 s",
        bare,
        imported,
        " s",
    )
    started = time.perf_counter()
    again = await imports.run_import(conn, SYSTEM, content, "bench.csv", "zh-CN", dry_run=False)
    seconds = time.perf_counter() - started
    line(f"the same file again ({again.updated:,} matched)", f"{seconds:.1f} s", "", bare, seconds, " s")
    await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--database",
        metavar="URL",
        help="measure on this database, made by `datagen.py --keep` (the import adds to it)",
    )
    parser.add_argument("--export", choices=("xlsx", "csv"), help=argparse.SUPPRESS)
    parser.add_argument("--bare-export", choices=("xlsx", "csv"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.export:
        asyncio.run(export_once(options.url, options.export))
    elif options.bare_export:
        asyncio.run(bare_export_once(options.url, options.bare_export))
    else:
        asyncio.run(main(options))
