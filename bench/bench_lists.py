"""Every list, its main filters and the main reads, at realistic volume.

Generates the data once (``bench/datagen.py``: 100k partners, ~314k assessments, 1M
findings, 1M audit events, 500k outbox messages by default), then prints

1. each list query's time alone (median and p95 of ``--runs`` calls on one connection,
   so PostgreSQL's plan cache behaves as in production);
2. the worker sweeps' queries at that volume (writes rolled back);
3. per list and read: the time of one request through the authenticated API against
   the same query behind a bare Litestar + asyncpg handler (``create_bare``), both
   served by uvicorn, measured in alternating slices so that background load hits both
   alike, and the ratio (our bar: at most ~1.4x).

    uv run python bench/bench_lists.py [--partners 100000] [--seconds 0.6] [--explain]

``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of every list query. Uses
VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL when set, else embedded
servers in a temporary directory.

    uv run python bench/bench_lists.py --scales 10000,100000 [--keep vr_lists] [--explain]

instead times each list query alone at each of those volumes and prints its latency at
each, the rows it returned there and the ratio of the largest to the smallest (issue #16's
goal: a list at 100k within 1.2x of 10k), with ``--explain`` the plans of those that grow
past that. The generated data scales what a filter matches (7 open incidents at 10k, 63 at
100k), so a list that returns fewer rows at the smallest volume is also timed at the
largest asking for that many rows (the same query with that LIMIT): the comparison is of
equal work, that equal-rows ratio decides, and both ratios are printed. ``--keep PREFIX``
keeps the generated databases as PREFIX_10k, PREFIX_100k … and reuses them on the next run
(applying any migration added since).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import cpu_seconds, load, scratch_database, serve_bare, serve_ours  # noqa: E402
from bench.datagen import Dataset, generate, sample_ids  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk import sweeps  # noqa: E402
from vendor_risk.agreements import repository as agreements  # noqa: E402
from vendor_risk.assessments import repository as assessments  # noqa: E402
from vendor_risk.assessments import service as assessments_service  # noqa: E402
from vendor_risk.audit import repository as audit_events  # noqa: E402
from vendor_risk.auth import repository as users  # noqa: E402
from vendor_risk.db import connect, init_connection, migrate  # noqa: E402
from vendor_risk.findings import repository as findings  # noqa: E402
from vendor_risk.findings import service as findings_service  # noqa: E402
from vendor_risk.incidents import repository as incidents  # noqa: E402
from vendor_risk.incidents import service as incidents_service  # noqa: E402
from vendor_risk.metrics import refresh_outbox_gauges  # noqa: E402
from vendor_risk.notify import repository as notify  # noqa: E402
from vendor_risk.partners import repository as partners  # noqa: E402
from vendor_risk.partners import service as partners_service  # noqa: E402
from vendor_risk.questionnaires import repository as questionnaires  # noqa: E402
from vendor_risk.scopes import repository as scopes  # noqa: E402
from vendor_risk.settings import Settings  # noqa: E402

SETTINGS = Settings()
WINDOW = SETTINGS.agreement_expiring_days
PAGE = 51  # what a handler asks for: the default limit of 50 plus one to see a next page

Query = Callable[[asyncpg.Connection], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    """A request to the API and the query its handler runs, for the bare app to run alone."""

    name: str
    path: str
    role: str
    query: Query


def _audit_query(page: int = PAGE, **filters: Any) -> Query:
    """The audit list's statement, as its route and page run it."""
    return lambda c: audit_events.list_events(c, audit_events.ListFilters(**filters), None, page)


def cases(sample: dict[str, Any], page: int = PAGE) -> list[Case]:
    """The requests measured, each with the query its handler runs; ``sample`` names ids
    in the generated data (see Dataset). Every list asks for ``page`` rows (a handler's
    PAGE unless the scale comparison asks for fewer)."""
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    pid, owner = sample["partner_id"], sample["owner_id"]
    pf, af, ff, inf = (
        partners.ListFilters,
        assessments.ListFilters,
        findings.ListFilters,
        incidents.ListFilters,
    )
    day = now - timedelta(days=400)

    def q(path: str, **params: Any) -> str:
        return f"{path}?{urlencode(params, doseq=True)}" if params else path

    def p_list(filters: partners.ListFilters, sort: partners.PartnerSort = "created") -> Query:
        return lambda c: partners.list_partners(c, filters, None, page, today, WINDOW, sort=sort)

    def a_list(filters: assessments.ListFilters) -> Query:
        return lambda c: assessments.list_assessments(c, filters, today, None, page)

    def f_list(filters: findings.ListFilters) -> Query:
        return lambda c: findings.list_findings(c, filters, today, None, page)

    def i_list(filters: incidents.ListFilters) -> Query:
        return lambda c: incidents.list_incidents(c, filters, now, None, page)

    def o_list(**filters: Any) -> Query:
        return lambda c: notify.list_outbox(c, after=None, limit=page, **filters)

    return [
        Case("partners", "/partners", "auditor", p_list(pf())),
        Case("partners q=金蝶", q("/partners", q="金蝶"), "auditor", p_list(pf(q="金蝶"))),
        Case(
            "partners q=kingdee cloud",
            q("/partners", q="kingdee cloud"),
            "auditor",
            p_list(pf(q="kingdee cloud")),
        ),
        Case(
            "partners status=active",
            q("/partners", status="active"),
            "auditor",
            p_list(pf(statuses=["active"])),
        ),
        Case(
            "partners tier=critical",
            q("/partners", tier="critical"),
            "auditor",
            p_list(pf(tiers=["critical"])),
        ),
        Case("partners owner", q("/partners", owner=owner), "auditor", p_list(pf(owner_id=owner))),
        Case(
            "partners needs_attention=true",
            q("/partners", needs_attention="true"),
            "auditor",
            p_list(pf(needs_attention=True)),
        ),
        Case(
            "partners needs_attention=false",
            q("/partners", needs_attention="false"),
            "auditor",
            p_list(pf(needs_attention=False)),
        ),
        *[
            Case(f"partners sort={sort}", q("/partners", sort=sort), "auditor", p_list(pf(), sort))
            for sort in ("name", "tier", "reassessment", "rating")
        ],
        Case(
            "partners status=active sort=name",
            q("/partners", status="active", sort="name"),
            "auditor",
            p_list(pf(statuses=["active"]), "name"),
        ),
        Case(
            "partner (read)", f"/partners/{pid}", "auditor", lambda c: partners_service.load(c, pid, SETTINGS)
        ),
        Case(
            "agreements of a partner",
            f"/partners/{pid}/agreements",
            "auditor",
            lambda c: agreements.list_agreements(c, pid, None, None, page, today, WINDOW),
        ),
        Case(
            "scopes of a partner",
            f"/partners/{pid}/scopes",
            "auditor",
            lambda c: scopes.list_scopes(c, pid, None, None, page),
        ),
        Case("assessments", "/assessments", "auditor", a_list(af())),
        Case(
            "assessments status=submitted",
            q("/assessments", status="submitted"),
            "auditor",
            a_list(af(status="submitted")),
        ),
        Case(
            "assessments overdue=true", q("/assessments", overdue="true"), "auditor", a_list(af(overdue=True))
        ),
        Case(
            "assessments kind=triggered",
            q("/assessments", kind="triggered"),
            "auditor",
            a_list(af(kind="triggered")),
        ),
        Case(
            "assessments of a partner",
            q("/assessments", partner_id=pid),
            "auditor",
            a_list(af(partner_id=pid)),
        ),
        Case(
            "assessment (read)",
            f"/assessments/{sample['assessment_id']}",
            "auditor",
            lambda c: assessments_service.detail(c, sample["assessment_id"], today),
        ),
        Case("findings", "/findings", "auditor", f_list(ff())),
        Case("findings status=open", q("/findings", status="open"), "auditor", f_list(ff(status="open"))),
        Case(
            "findings severity=critical",
            q("/findings", severity="critical"),
            "auditor",
            f_list(ff(severity="critical")),
        ),
        Case("findings overdue=true", q("/findings", overdue="true"), "auditor", f_list(ff(overdue=True))),
        Case("findings owner_id", q("/findings", owner_id=owner), "auditor", f_list(ff(owner_id=owner))),
        Case("findings of a partner", q("/findings", partner_id=pid), "auditor", f_list(ff(partner_id=pid))),
        Case(
            "findings of an assessment",
            q("/findings", assessment_id=sample["assessment_id"]),
            "auditor",
            f_list(ff(assessment_id=sample["assessment_id"])),
        ),
        Case(
            "finding (read)",
            f"/findings/{sample['finding_id']}",
            "auditor",
            lambda c: findings_service.detail(c, sample["finding_id"], today),
        ),
        Case("incidents", "/incidents", "auditor", i_list(inf())),
        Case(
            "incidents status=open", q("/incidents", status="open"), "auditor", i_list(inf(statuses=["open"]))
        ),
        Case("incidents overdue=true", q("/incidents", overdue="true"), "auditor", i_list(inf(overdue=True))),
        Case(
            "incident (read)",
            f"/incidents/{sample['incident_id']}",
            "auditor",
            lambda c: incidents_service.load_detail(c, sample["incident_id"]),
        ),
        Case("audit-events", "/audit-events", "auditor", _audit_query(page)),
        Case(
            "audit-events entity_type=webhook",
            q("/audit-events", entity_type="webhook"),
            "auditor",
            _audit_query(page, entity_type="webhook"),
        ),
        Case(
            "audit-events of a partner",
            q("/audit-events", entity_type="partner", entity_id=sample["audit_partner_id"]),
            "auditor",
            _audit_query(page, entity_type="partner", entity_id=sample["audit_partner_id"]),
        ),
        Case(
            "audit-events actor_id",
            q("/audit-events", actor_id=owner),
            "auditor",
            _audit_query(page, actor_id=owner),
        ),
        Case(
            "audit-events one day",
            q("/audit-events", **{"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}),
            "auditor",
            _audit_query(page, since=day, until=day + timedelta(days=1)),
        ),
        Case("outbox", "/outbox", "admin", o_list(status=None, channel=None)),
        Case("outbox status=dead", q("/outbox", status="dead"), "admin", o_list(status="dead", channel=None)),
        Case(
            "outbox status=pending",
            q("/outbox", status="pending"),
            "admin",
            o_list(status="pending", channel=None),
        ),
        Case(
            "outbox channel=webhook",
            q("/outbox", channel="webhook"),
            "admin",
            o_list(status=None, channel="webhook"),
        ),
        Case(
            "users role=risk_owner",
            q("/users", role="risk_owner"),
            "admin",
            lambda c: users.list_users(c, "risk_owner", None, page),
        ),
        Case("webhooks", "/webhooks", "admin", lambda c: notify.list_webhooks(c, None, page)),
        Case("questionnaires", "/questionnaires", "auditor", questionnaires.latest_versions),
        Case("dashboard", "/dashboard", "auditor", lambda c: partners_service.dashboard(c, SETTINGS)),
    ]


def sweep_queries() -> list[tuple[str, Query]]:
    """What the worker's sweeps read (and claim) at this volume; run in a transaction that
    is rolled back, so a claim or a lapse changes nothing."""
    now = datetime.now(UTC)
    today = now.date()

    async def reminders(conn: asyncpg.Connection) -> Any:
        return await assessments_service.reminders_due(conn, today)

    return [
        ("reassessments due (hourly)", lambda c: sweeps.reassessments_due(c, now)),
        ("agreements expiring (daily)", lambda c: sweeps.agreements_expiring(c, today)),
        ("agreements expired (daily)", lambda c: sweeps.agreements_expired(c, today)),
        ("scopes past their end (daily)", lambda c: sweeps.expire_ended_scopes(c, today)),
        ("reminders due (daily)", reminders),
        (
            "assessments past grace (daily)",
            lambda c: assessments.overdue_beyond(c, today - timedelta(days=14)),
        ),
        ("risk acceptances lapsed (daily)", lambda c: findings.lapse_expired(c, today)),
        (
            "outbox claim (each delivery)",
            lambda c: notify.claim_due(c, now=None, lease=timedelta(minutes=5), limit=10),
        ),
        ("incident action claim (minute)", lambda c: incidents.claim_action_run(c, now)),
        ("incident steps overdue (minute)", lambda c: incidents.claim_overdue_steps(c, now, 100)),
        ("outbox gauges (each /metrics)", refresh_outbox_gauges),
    ]


class _Recorder:
    """Stands in for a connection to note each statement a repository function runs."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    async def fetch(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append((sql, args))
        return await self.conn.fetchval(sql, *args)


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def time_queries(conn: asyncpg.Connection, sample: dict[str, Any], runs: int, explain: bool) -> None:
    print(f"\n{'query alone (one connection)':<36} {'median':>9} {'p95':>9}  statements")
    for case in cases(sample):
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            await case.query(conn)
            timings.append((time.perf_counter() - t0) * 1000)
        recorder = _Recorder(conn)
        await case.query(recorder)  # type: ignore[arg-type]
        median, p95 = _ms(timings)
        print(f"{case.name:<36} {median:>7.2f}ms {p95:>7.2f}ms  {len(recorder.statements)}")
        if explain:
            for sql, args in recorder.statements:
                plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
                print("\n".join(f"    {r[0]}" for r in plan))


async def time_sweeps(pool: asyncpg.Pool, runs: int) -> None:
    print(f"\n{'sweep query':<36} {'median':>9} {'max':>9}  rows")
    for name, query in sweep_queries():
        timings, rows = [], None
        for _ in range(max(3, runs // 5)):
            async with pool.acquire() as conn:
                tr = conn.transaction()
                await tr.start()
                t0 = time.perf_counter()
                rows = await query(pool if query is refresh_outbox_gauges else conn)
                timings.append((time.perf_counter() - t0) * 1000)
                await tr.rollback()
        count = len(rows) if isinstance(rows, list) else "-"
        print(f"{name:<36} {statistics.median(timings):>7.2f}ms {max(timings):>7.2f}ms  {count}")


# A list at the largest volume may take this much longer than at the smallest (issue #16).
SCALE_BAR = 1.2


def _scale_name(prefix: str, partners: int) -> str:
    return f"{prefix}_{partners // 1000}k" if partners % 1000 == 0 else f"{prefix}_{partners}"


async def _scale_database(admin_url: str, name: str, partners: int, keep: bool) -> str:
    """The database ``name`` holding ``partners`` generated partners: reused when it is
    kept from an earlier run, else created, migrated and filled."""
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    if exists and keep:
        # A kept database gets the migrations added since (a new index is what a run may
        # be measuring) and fresh statistics for whatever they created.
        conn = await connect(url)
        try:
            applied = await migrate(conn)
            if applied:
                await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        print(f"reusing {name}" + (f", applied {', '.join(applied)}" if applied else ""))
        return url
    if exists:
        await drop_database(admin_url, name)
    _, url = await create_database(admin_url, name)
    conn = await connect(url)
    try:
        await migrate(conn)
        t0 = time.perf_counter()
        await generate(conn, partners, log=lambda *_: None)
        print(f"generated {partners:,} partners into {name} in {time.perf_counter() - t0:.0f}s")
    finally:
        await conn.close()
    return url


Statements = dict[str, list[tuple[str, tuple[Any, ...]]]]


def _rows(result: Any) -> int | None:
    """How many rows a list returned (None for a read, the dashboard, anything not a list)."""
    return len(result) if isinstance(result, list) else None


async def _medians(
    url: str, runs: int, pages: dict[str, int] | None = None, plans: dict[str, str] | None = None
) -> tuple[dict[str, float], Statements, dict[str, int | None]]:
    """Each list query's median time alone (ms), the statements it ran and the rows it
    returned; with ``pages``, only those lists, each asking for that many rows. ``plans``
    receives each list's plan modes (_plan_modes)."""
    plans = {} if plans is None else plans
    conn = await connect(url)
    try:
        sample = await sample_ids(conn)
        if pages is None:
            measured = cases(sample)
        else:
            measured = [
                case
                for page in sorted(set(pages.values()))
                for case in cases(sample, page)
                if pages.get(case.name) == page
            ]
        medians: dict[str, float] = {}
        statements: Statements = {}
        rows: dict[str, int | None] = {}
        for case in measured:
            rows[case.name] = _rows(await case.query(conn))  # also warms the plan cache, buffers
            timings = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await case.query(conn)
                timings.append((time.perf_counter() - t0) * 1000)
            recorder = _Recorder(conn)
            await case.query(recorder)  # type: ignore[arg-type]
            medians[case.name] = statistics.median(timings)
            statements[case.name] = recorder.statements
        plans.update(await _plan_modes(conn, statements))
        return medians, statements, rows
    finally:
        await conn.close()


async def _plan_modes(conn: asyncpg.Connection, statements: Statements) -> dict[str, str]:
    """Per list, how PostgreSQL ran its statements once their plans were cached: "g" a
    cached generic plan, "c" planned anew for each call's values (as it does when the
    generic plan looks dearer; the planning is then part of every call's time), "3g2c"
    for a mix, "-" for none prepared."""
    cached = {
        r["statement"]: "g" if r["generic_plans"] > r["custom_plans"] else "c"
        for r in await conn.fetch("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
    }
    modes = {}
    for name, ran in statements.items():
        found = [cached[sql] for sql, _ in ran if sql in cached]
        kinds = sorted(set(found))
        if len(kinds) > 1:
            modes[name] = "".join(f"{found.count(k)}{k}" for k in kinds)
        else:
            modes[name] = kinds[0] if kinds else "-"
    return modes


def _scale_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


async def compare_scales(opts: Any) -> None:
    """Each list's latency at every volume of ``--scales``, the rows it returned there and
    the ratio of the largest to the smallest; with ``--explain``, the plans of the lists
    that grow past SCALE_BAR.

    A list returning fewer rows at the smallest volume than at the largest (the generated
    data scales what a filter matches: a handful of open incidents at 10k, a full page at
    100k) would compare a short page with a full one. Such a list is also timed at the
    largest volume asking for the smallest volume's number of rows (the same query with
    that LIMIT), and that equal-rows ratio decides; both ratios are printed.
    """
    admin_url = os.environ.get("VENDOR_RISK_TEST_DATABASE_URL")
    if not admin_url:
        raise SystemExit("--scales needs VENDOR_RISK_TEST_DATABASE_URL (a server to keep databases on)")
    scales = sorted(int(s) for s in opts.scales.split(","))
    prefix = opts.keep or f"vr_scales_{os.getpid()}"
    urls = {n: await _scale_database(admin_url, _scale_name(prefix, n), n, bool(opts.keep)) for n in scales}
    small, large = scales[0], scales[-1]
    try:
        # Alternate the volumes a few times, so that background load hits each alike.
        rounds: dict[int, list[dict[str, float]]] = {n: [] for n in scales}
        equal_rounds: list[dict[str, float]] = []
        statements: Statements = {}
        equal_statements: Statements = {}
        rows: dict[int, dict[str, int | None]] = {}
        equal: dict[str, int] = {}
        plans: dict[int, dict[str, str]] = {n: {} for n in scales}
        for round_ in range(3):
            for n in scales:
                medians, at_n, rows[n] = await _medians(urls[n], opts.runs, plans=plans[n])
                rounds[n].append(medians)
                if n == large:
                    statements = at_n
            if round_ == 0:
                equal = {
                    name: few
                    for name, few in rows[small].items()
                    if few is not None and 0 < few < (rows[large].get(name) or 0)
                }
            if equal:
                medians, equal_statements, _ = await _medians(urls[large], opts.runs, equal)
                equal_rounds.append(medians)
        lo, hi = _scale_label(small), _scale_label(large)
        header = "".join(f" {_scale_label(n):>9}" for n in scales)
        print(
            f"\nEach list query alone (median ms of {opts.runs} calls, median of 3 rounds), the rows it"
            f" returned at each volume, and the ratio {hi}/{lo}. Where {lo} returned fewer rows"
            f" than {hi}, '{hi} at {lo} rows' is the same query at {hi} asking for {lo}'s rows"
            f" (LIMIT n); that equal-rows ratio is the verdict. Bar: {SCALE_BAR}x. 'plans' says how"
            f" PostgreSQL ran each list's cached statement at each volume: g a generic plan, c planned"
            f" for every call (its planning then part of the time).\n"
        )
        rows_head = "/".join(_scale_label(n) for n in scales)
        print(
            f"{'list query':<34} {'rows ' + rows_head:>14}{header} {'ratio':>7}"
            f" {hi + ' at ' + lo + ' rows':>15} {'ratio':>7}  {'plans':<9}"
        )
        grown = []
        for case in cases(await _sample(urls[large])):
            at = {n: statistics.median(r[case.name] for r in rounds[n]) for n in scales}
            ratio = at[large] / at[small]
            counts = "/".join("-" if rows[n][case.name] is None else str(rows[n][case.name]) for n in scales)
            cells = "".join(f" {at[n]:>7.2f}ms" for n in scales)
            line = f"{case.name:<34} {counts:>14}{cells} {ratio:>6.2f}x"
            verdict = ratio
            if case.name in equal:
                fair = statistics.median(r[case.name] for r in equal_rounds)
                verdict = fair / at[small]
                line += f" {fair:>13.2f}ms {verdict:>6.2f}x"
            else:
                line += f" {'':>15} {'':>7}"
            line += "  " + f"{'/'.join(plans[n].get(case.name, '-') for n in scales):<9}"
            if verdict > SCALE_BAR:
                grown.append(case.name)
                line += "  > bar"
            print(line)
        print(
            f"{len(grown)} of {len(rounds[large][0])} lists grow more than {SCALE_BAR}x from "
            f"{small:,} to {large:,} partners ({len(equal)} compared at equal rows); "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        if opts.explain and grown:
            conn = await connect(urls[large])
            try:
                for name in grown:
                    fair = name in equal
                    shown = equal_statements[name] if fair else statements[name]
                    print(
                        f"\n{name} at {large:,}"
                        + (f", asking for {equal[name]} rows ({lo}'s):" if fair else ":")
                    )
                    for sql, args in shown:
                        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
                        print("\n".join(f"    {r[0]}" for r in plan))
            finally:
                await conn.close()
    finally:
        if not opts.keep:
            for n in scales:
                await drop_database(admin_url, _scale_name(prefix, n))


async def _sample(url: str) -> dict[str, Any]:
    conn = await connect(url)
    try:
        return await sample_ids(conn)
    finally:
        await conn.close()


def create_bare() -> Litestar:
    """The yardstick: each case's query behind a bare Litestar + asyncpg handler."""
    queries: list[Query] = []

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10, init=init_connection
        )
        async with app.state.pool.acquire() as conn:
            queries.extend(case.query for case in cases(await sample_ids(conn)))
        try:
            yield
        finally:
            await app.state.pool.close()

    @get("/case/{index:int}")
    async def run_case(state: State, index: int) -> Any:
        async with state.pool.acquire() as conn:
            result = await queries[index](conn)
        if isinstance(result, list):
            return [dict(r) if isinstance(r, asyncpg.Record) else r for r in result[: PAGE - 1]]
        return result

    return Litestar([run_case], lifespan=[lifespan])


async def measure_pair(
    bare: tuple[Any, int, str], ours: tuple[Any, int, str, dict[str, str]], seconds: float
) -> tuple[float, float, float, float]:
    """Alternate short slices of one-at-a-time requests to both servers; returns (bare µs,
    our µs) per request and each server's CPU µs per request."""
    slices = 4
    totals = {"bare": [0, 0.0, 0.0], "ours": [0, 0.0, 0.0]}
    await load(bare[1], bare[2], {}, 0.1, 1)
    await load(ours[1], ours[2], ours[3], 0.1, 1)
    for _ in range(slices):
        for key, (proc, port, path, headers) in (("bare", (*bare, {})), ("ours", ours)):
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            count = await load(port, path, headers, seconds / slices, 1)
            totals[key][0] += count
            totals[key][1] += time.perf_counter() - t0
            totals[key][2] += cpu_seconds(proc.pid) - cpu0
    b, o = totals["bare"], totals["ours"]
    return b[1] / b[0] * 1e6, o[1] / o[0] * 1e6, b[2] / b[0] * 1e6, o[2] / o[0] * 1e6


async def main(opts: Any) -> None:
    procs = []
    async with scratch_database() as (url, redis_url):
        try:
            conn = await connect(url)
            t0 = time.perf_counter()
            print(f"generating {opts.partners:,} partners and their history")
            data: Dataset = await generate(conn, opts.partners)
            counts = await conn.fetch(
                """
                SELECT relname, n_live_tup FROM pg_stat_user_tables
                WHERE relname IN ('partners', 'agreements', 'scopes', 'assessments', 'findings',
                                  'audit_events', 'outbox', 'incidents')
                ORDER BY n_live_tup DESC
                """
            )
            print(
                f"generated in {time.perf_counter() - t0:.0f}s: "
                + ", ".join(f"{r['n_live_tup']:,} {r['relname']}" for r in counts)
            )
            await time_queries(conn, data.sample, opts.runs, opts.explain)
            await conn.close()
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection)
            await time_sweeps(pool, opts.runs)
            await pool.close()

            bare_port, ours_port = free_port(), free_port()
            procs.append(serve_bare("bench.bench_lists:create_bare", url, bare_port))
            procs.append(serve_ours(url, redis_url, ours_port))
            print(
                f"\none request at a time, {opts.seconds:.1f}s per server and case, in alternating slices\n"
                f"{'request':<36} {'bare':>8} {'API':>8} {'ratio':>6}"
                f"   {'CPU bare':>8} {'API':>7} {'ratio':>6}"
            )
            ratios = []
            for index, case in enumerate(cases(data.sample)):
                headers = {"Authorization": f"Bearer {data.keys[case.role]}"}
                bare_us, ours_us, bare_cpu, ours_cpu = await measure_pair(
                    (procs[0], bare_port, f"/case/{index}"),
                    (procs[1], ours_port, f"/api/v1{case.path}", headers),
                    opts.seconds,
                )
                ratios.append(ours_us / bare_us)
                # CPU time comes in clock ticks (10 ms): too coarse for a few slow requests.
                cpu = (
                    f"   {bare_cpu:>6.0f}µs {ours_cpu:>5.0f}µs {ours_cpu / bare_cpu:>5.2f}x"
                    if bare_us < 20_000
                    else "   (too few requests to tell)"
                )
                print(f"{case.name:<36} {bare_us:>6.0f}µs {ours_us:>6.0f}µs {ours_us / bare_us:>5.2f}x{cpu}")
            print(
                f"ratio of request times: median {statistics.median(ratios):.2f}x, "
                f"worst {max(ratios):.2f}x (bar: <= 1.4x)"
            )
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15, help="calls per query when timed alone")
    parser.add_argument("--seconds", type=float, default=0.6, help="per server and request")
    parser.add_argument("--explain", action="store_true", help="print each list query's plan")
    parser.add_argument("--scales", help="partner counts (10000,100000): each list's latency at each")
    parser.add_argument("--keep", metavar="PREFIX", help="with --scales: keep (and reuse) the databases")
    args = parser.parse_args()
    asyncio.run(compare_scales(args) if args.scales else main(args))
