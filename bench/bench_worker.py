"""The worker at scale: the reassessment sweep (a day with 10,000 partners due, then an
idle hour), the outbox draining the invitations it wrote to a local SMTP server, and the
worker's memory afterwards, with the machine's load average.

    uv run python bench/bench_worker.py [--partners 100000] [--due 10000] [--blocked 500]

It generates a scratch database with ``bench/datagen.py`` (dropped at the end), runs the
worker's own functions in this process (as the arq worker runs them) against it, and an
SMTP sink (aiosmtpd, its own process) on ``--smtp-port``. Each figure is printed with its
goal (issue #16) and, where there is one, its bare equivalent: the outbox's rate against
aiosmtplib ``sendmail``-ing as many prebuilt messages over as many connections (and over
one) to the same sink, with no database; the idle sweep against its candidate statement
alone. CPU time of this process is printed beside wall time, steadier on a shared machine.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiosmtplib
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import create_database, drop_database  # noqa: E402
from vendor_risk.db import connect, create_pool  # noqa: E402
from vendor_risk.logging import configure_logging  # noqa: E402
from vendor_risk.notify.delivery import SMTP_CONNECTIONS, deliver_due  # noqa: E402
from vendor_risk.notify.email import message_bytes  # noqa: E402
from vendor_risk.notify.outbox import Email  # noqa: E402
from vendor_risk.settings import Settings, load_settings, parse_data_keys  # noqa: E402
from vendor_risk.sweeps import reassessments_due, send_reminders, sweep_expiries, sweep_reassessments  # noqa: E402
from vendor_risk.worker import warm_up  # noqa: E402

DATA_KEY = f"bench:{base64.b64encode(b'b' * 32).decode()}"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds this process has used (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def smtp_sink(port: int) -> Iterator[None]:
    """aiosmtpd's Sink (accepts and discards) in a process of its own."""
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.1)
        yield
    finally:
        sink.terminate()
        sink.wait(timeout=10)


_GENERATE = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from bench.datagen import generate
from vendor_risk.db import connect, migrate

async def main():
    conn = await connect(sys.argv[2])
    await migrate(conn)
    await generate(conn, int(sys.argv[3]), log=lambda line: None)
    await conn.close()

asyncio.run(main())
"""


def generate_elsewhere(url: str, partners: int) -> None:
    """The data generator in a process of its own, so that the RSS measured here is the
    worker's work alone, not what generating the data left behind."""
    subprocess.run([sys.executable, "-c", _GENERATE, str(ROOT), url, str(partners)], check=True)


async def timed(coro: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - started


async def bare_smtp(port: int, count: int, connections: int = 1) -> float:
    """Messages a second for aiosmtplib alone (no database, no sealing, the messages built
    beforehand), ``sendmail`` one after another on each of ``connections``."""
    mail_from = "vendor-risk <noreply@example.com>"
    messages = [
        (
            f"contact{i}@partner.example",
            message_bytes(
                uuid4(),
                Email(
                    to=f"contact{i}@partner.example",
                    subject="请填写安全问卷",
                    text="x" * 1200,
                    html="<p>x</p>",
                ),
                mail_from,
                eight_bit=True,
            ),
        )
        for i in range(count)
    ]
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    await asyncio.gather(*(client.connect() for client in clients))

    async def lane(client: aiosmtplib.SMTP, mine: list[tuple[str, bytes]]) -> None:
        for to, data in mine:
            await client.sendmail("noreply@example.com", [to], data, mail_options=["BODY=8BITMIME"])

    started = time.perf_counter()
    await asyncio.gather(*(lane(c, messages[i::connections]) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(client.quit() for client in clients))
    return count / elapsed


async def prepare_due(settings: Settings, url: str, due: int, blocked: int) -> tuple[int, int]:
    """Leave exactly ``due`` partners due (the others suspended), ``blocked`` of them without
    a primary contact. Returns (due, blocked)."""
    conn = await connect(url)
    try:
        found = await reassessments_due(conn, datetime.now(UTC), settings.policy.cadence_months)
        ids = [d.partner_id for d in found]
        await conn.execute("UPDATE partners SET status = 'suspended' WHERE id = ANY($1::uuid[])", ids[due:])
        kept = ids[:due]
        await conn.execute(
            "UPDATE partner_contacts SET is_primary = false WHERE partner_id = ANY($1::uuid[])",
            kept[:blocked],
        )
        # The generated subscriptions point at hooks.example.com: nothing leaves this machine.
        await conn.execute("UPDATE webhooks SET disabled_at = now()")
        await conn.execute("ANALYZE partners")
        return len(kept), min(blocked, len(kept))
    finally:
        await conn.close()


async def main(opts: argparse.Namespace) -> None:
    admin_url = os.environ.get("VENDOR_RISK_TEST_DATABASE_URL")
    if not admin_url:
        sys.exit("set VENDOR_RISK_TEST_DATABASE_URL to a PostgreSQL server this may create databases on")
    # As the worker logs in production (JSON), at warnings: the figures are the work's.
    configure_logging("WARNING", json=True)
    print(f"load average at start: {load()}")
    name, url = await create_database(admin_url, f"{opts.db_prefix}_{uuid4().hex[:12]}")
    try:
        print(f"generating {opts.partners:,} partners …")
        generate_elsewhere(url, opts.partners)
        settings = load_settings(
            {},
            database_url=url,
            data_keys=parse_data_keys("bench", DATA_KEY),
            smtp_url=f"smtp://127.0.0.1:{opts.smtp_port}",
            public_url="https://vendor-risk.example.com",
            log_level="ERROR",
        )
        due, blocked = await prepare_due(settings, url, opts.due, opts.blocked)
        warm_up()  # as the worker's startup does
        gc.collect()
        if opts.trace:
            tracemalloc.start(25)
        baseline = rss_mb()
        pool = await create_pool(url, 1, 10, data_keys=settings.data_keys)
        try:
            cpu_0 = cpu_s()
            sent, sweep_s = await timed(sweep_reassessments(pool, settings))
            sweep_cpu = cpu_s() - cpu_0
            idle = []
            for _ in range(3):
                again, seconds = await timed(sweep_reassessments(pool, settings))
                assert again == 0, again
                idle.append(seconds)
            # The idle sweep's bare equivalent: its one candidate statement on a plain connection.
            bare_idle = []
            async with pool.acquire() as conn:
                for _ in range(3):
                    _, seconds = await timed(
                        reassessments_due(
                            conn, datetime.now(UTC), settings.policy.cadence_months, settings.policy.sha256
                        )
                    )
                    bare_idle.append(seconds)
            _, reminders_s = await timed(send_reminders(pool, settings))
            _, expiries_s = await timed(sweep_expiries(pool, settings))
            backlog = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= now()"
            )
            with smtp_sink(opts.smtp_port):
                async with httpx.AsyncClient() as http:
                    cpu_0 = cpu_s()
                    started = time.perf_counter()
                    delivered = 0
                    while True:
                        report = await deliver_due(pool, http, settings)
                        delivered += report["delivered"]
                        if not any(report.values()):
                            break
                    outbox_s = time.perf_counter() - started
                    outbox_cpu = cpu_s() - cpu_0
                bare_count = max(1000, min(backlog, 10_000))
                bare_rate = await bare_smtp(opts.smtp_port, bare_count, SMTP_CONNECTIONS)
                bare_one = await bare_smtp(opts.smtp_port, bare_count, 1)
        finally:
            await pool.close()
        gc.collect()
        after = rss_mb()
        rate = delivered / outbox_s if outbox_s else float("nan")
        each = sweep_s / max(sent, 1)
        print(f"\nworker at {opts.partners:,} partners (load average now {load()})")
        print(f"  {'reassessment sweep, due partners':<44} {due:>8,} ({blocked:,} without a primary contact)")
        print(
            f"  {'  sent':<44} {sent:>8,} in {sweep_s:6.2f} s  ({each * 1000:.2f} ms each,"
            f" {sweep_cpu / max(sent, 1) * 1000:.2f} ms CPU here)"
        )
        print(f"  {'  10,000 at that rate (goal < 10 s)':<44} {each * 10_000:>8.1f} s")
        print(
            f"  {'  idle sweep, median of 3 (goal < 0.5 s)':<44} {statistics.median(idle):>8.3f} s"
            f" = {statistics.median(idle) / statistics.median(bare_idle):.2f}× its candidate query alone"
            f" ({statistics.median(bare_idle):.3f} s)"
        )
        print(f"  {'reminder sweep':<44} {reminders_s:>8.3f} s")
        print(f"  {'expiry sweep':<44} {expiries_s:>8.3f} s")
        print(f"  {'outbox backlog delivered':<44} {delivered:>8,} of {backlog:,} in {outbox_s:6.2f} s")
        print(
            f"  {'  emails/s (goal > 500)':<44} {rate:>8.0f}"
            f" = {rate / bare_rate:.2f}× bare aiosmtplib on {SMTP_CONNECTIONS} connections"
            f" ({bare_rate:.0f}/s; {bare_one:.0f}/s on one);"
            f" {outbox_cpu / max(delivered, 1) * 1000:.2f} ms CPU an email here"
        )
        print(
            f"  {'worker RSS, MB (goal < 150 after)':<44} before {baseline:.0f} / after {after:.0f}"
            f" / peak {peak_rss_mb():.0f}"
        )
        if opts.trace:
            snapshot = tracemalloc.take_snapshot()
            print("  largest live allocations (tracemalloc):")
            for stat in snapshot.statistics("traceback")[:8]:
                frame = stat.traceback[-1]
                print(f"    {stat.size / 1024 / 1024:7.1f} MB  {frame.filename}:{frame.lineno}")
    finally:
        await drop_database(admin_url, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--blocked", type=int, default=500)
    parser.add_argument("--smtp-port", type=int, default=18225)
    parser.add_argument("--db-prefix", default="vr_bench_worker")
    parser.add_argument("--trace", action="store_true", help="tracemalloc: where the memory that stays is")
    asyncio.run(main(parser.parse_args()))
