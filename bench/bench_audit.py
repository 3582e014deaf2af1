"""How much does the audit chain's lock cost concurrent writers? (issue #16)

N writers, each on its own connection and its own rows (so the chain's lock is the only
thing they can wait for), run transactions for a few seconds: an UPDATE, an audit event,
``--statements`` more statements (the rest of the change: more writes, a read), COMMIT.
Three ways, alternating over ``--rounds``:

- ``no audit``: the same transactions without the event: the bar;
- ``at call``: the event appended where ``record`` is called, the lock then held through
  the statements after it and the commit (what ``record`` did before, and still does in a
  transaction not begun through ``conn.transaction()``);
- ``at commit``: ``record`` queues the event and the commit appends it (what it does now).

It prints transactions per second, each as a ratio to ``no audit`` (median of the rounds),
and the mean number of writers waiting on the advisory lock, sampled from
``pg_stat_activity`` every 5 ms (writers x share of their time spent waiting for it), with
the load average: on a shared machine the ratios, not the figures, are what to compare.

    uv run python bench/bench_audit.py [--writers 8] [--statements 4] [--seconds 3] [--rounds 3]

Uses VENDOR_RISK_TEST_DATABASE_URL when set, else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import fresh_database  # noqa: E402
from vendor_risk import audit  # noqa: E402
from vendor_risk.audit.models import Actor  # noqa: E402
from vendor_risk.db import connect, migrate  # noqa: E402

ACTOR = Actor(id=None, label="bench")
MODES = ("no audit", "at call", "at commit")


async def prepare(url: str, writers: int) -> None:
    conn = await connect(url)
    try:
        await migrate(conn)
        await conn.execute(
            """
            CREATE TABLE bench_things (id int PRIMARY KEY, n int NOT NULL, note text NOT NULL);
            CREATE TABLE bench_log (id bigint GENERATED ALWAYS AS IDENTITY, thing int, at timestamptz);
            """
        )
        await conn.execute(
            "INSERT INTO bench_things SELECT g, 0, '' FROM generate_series(1, $1) AS g", writers * 4
        )
    finally:
        await conn.close()


async def transaction(conn: asyncpg.Connection, writer: int, mode: str, statements: int) -> None:
    """One change: the thing's UPDATE, its event, the rest of the change, COMMIT."""
    async with conn.transaction():
        n = await conn.fetchval("UPDATE bench_things SET n = n + 1 WHERE id = $1 RETURNING n", writer)
        if mode != "no audit":
            await audit.record(
                conn,
                actor=ACTOR,
                action="thing.changed",
                entity_type="thing",
                entity_id=str(writer),
                before={"n": n - 1},
                after={"n": n, "名": "值"},
            )
        for i in range(statements):
            if i % 2:
                await conn.fetchval(
                    "SELECT count(*) FROM bench_things WHERE id BETWEEN $1 AND $1 + 3", writer
                )
            else:
                await conn.execute("INSERT INTO bench_log (thing, at) VALUES ($1, now())", writer)


async def sample_waiters(url: str, stop: asyncio.Event) -> float:
    """Mean number of sessions of this database waiting on an advisory lock."""
    conn = await asyncpg.connect(url)
    samples: list[int] = []
    try:
        while not stop.is_set():
            samples.append(
                await conn.fetchval(
                    """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'
                      AND wait_event = 'advisory'
                    """
                )
            )
            await asyncio.sleep(0.005)
    finally:
        await conn.close()
    return statistics.fmean(samples) if samples else 0.0


async def run(url: str, mode: str, writers: int, statements: int, seconds: float) -> tuple[float, float]:
    """Transactions per second of ``writers`` for ``seconds``, and the mean lock waiters."""
    # The project's connections append at commit; plain asyncpg ones (whose transactions are
    # not the project's blocks) append where record is called, holding the lock to the end.
    opener: Callable[[str], Awaitable[asyncpg.Connection]] = asyncpg.connect if mode == "at call" else connect
    conns = [await opener(url) for _ in range(writers)]
    done = 0
    stop = asyncio.Event()

    async def writer(index: int, conn: asyncpg.Connection) -> None:
        nonlocal done
        while not stop.is_set():
            await transaction(conn, index * 4 + 1, mode, statements)
            done += 1

    try:
        sampler = asyncio.create_task(sample_waiters(url, stop))
        tasks = [asyncio.create_task(writer(i, c)) for i, c in enumerate(conns)]
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        waiters = await sampler
    finally:
        for conn in conns:
            await conn.close()
    return done / elapsed, waiters


async def verify_chain(url: str) -> int:
    conn = await connect(url)
    try:
        checked, broken = await audit.service.verify(conn)
    finally:
        await conn.close()
    if broken is not None:
        raise SystemExit(f"the chain is broken: {broken.describe()}")
    return checked


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--statements", type=int, default=4, help="statements after the audit call")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    admin_url = os.environ.get("VENDOR_RISK_TEST_DATABASE_URL")
    embedded = None
    if not admin_url:
        from vendor_risk.embedded import EmbeddedServers

        embedded = EmbeddedServers(
            Path(tempfile.mkdtemp(prefix="vr-bench-audit-")), delete_on_stop=True
        ).start()
        admin_url = embedded.database_url
    try:
        async with fresh_database(admin_url) as url:
            await prepare(url, args.writers)
            rates: dict[str, list[float]] = {m: [] for m in MODES}
            waits: dict[str, list[float]] = {m: [] for m in MODES}
            ratios: dict[str, list[float]] = {m: [] for m in MODES}
            loads = []
            for _ in range(args.rounds):
                loads.append(os.getloadavg()[0])
                base = 0.0
                for mode in MODES:
                    rate, waiting = await run(url, mode, args.writers, args.statements, args.seconds)
                    base = base or rate
                    rates[mode].append(rate)
                    waits[mode].append(waiting)
                    ratios[mode].append(rate / base)
            events = await verify_chain(url)
    finally:
        if embedded is not None:
            embedded.stop()

    print(
        f"{args.writers} writers, audit event + {args.statements} statements + COMMIT per transaction, "
        f"{args.rounds} rounds of {args.seconds:g} s; load average {min(loads):.1f}-{max(loads):.1f}"
    )
    print(f"{'':<10} {'tx/s':>8} {'vs no audit':>12} {'writers waiting on the lock':>28}")
    for mode in MODES:
        print(
            f"{mode:<10} {statistics.median(rates[mode]):>8.0f} {statistics.median(ratios[mode]):>11.2f}x "
            f"{statistics.median(waits[mode]):>28.2f}"
        )
    print(f"chain verified: {events} events, gap-free")


if __name__ == "__main__":
    asyncio.run(main())
