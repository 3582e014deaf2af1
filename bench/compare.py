"""Issue #16's table in one command: each request of ours against a bare handler doing the
same work, in alternating rounds, as ratios.

    uv run python bench/compare.py [--partners 100000] [--database NAME] [--rounds 3]

Serves ``vendor-risk serve`` (one process, its real logging and metrics) and the bare
Litestar + asyncpg app of ``bench/bare_app.py:create_compare`` (the same repository
functions, so the same SQL, with no authentication, session, logging or metrics; its
pages render the same rows with one plain template), each on a port of its own. Every
round runs every request against both, one after the other, so that the load of other
processes on the machine hits both sides alike. Reads are driven by Debian's ``wrk``
when it is installed (else by the in-process keep-alive generator of bench_auth_read.py);
the portal save by one connection in sequence, since each save must carry the answers
version the previous one made. Prints, per request, the medians over the rounds of
ours / bare: throughput, p50, p99 and server CPU per request (from /proc), then each
server's RSS and the load average.

``--database NAME`` reuses that database when it exists (generated earlier by this
command), else generates ``--partners`` into it with bench/datagen.py and keeps it;
without it a scratch database is generated and dropped. Uses
VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL when set, else embedded
servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID, uuid4

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import bench_env, cpu_seconds, load  # noqa: E402
from bench.datagen import generate, sample_ids  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk.audit.models import SYSTEM  # noqa: E402
from vendor_risk.auth import service as auth_service  # noqa: E402
from vendor_risk.auth.models import Role, UserCreate  # noqa: E402
from vendor_risk.auth.sessions import open_session  # noqa: E402
from vendor_risk.db import connect, migrate  # noqa: E402
from vendor_risk.questionnaires.service import load_library  # noqa: E402

QUESTIONS = 120
BENCH_KEY = "bench-long-section"
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="answers_version" value="(\d+)"')


@dataclass
class Case:
    name: str
    ours: str
    bare: str
    headers: dict[str, str] = field(default_factory=dict)
    save: bool = False


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float


def _questionnaire() -> str:
    """A questionnaire whose one section has QUESTIONS yes/no questions."""
    lines = [
        f"key: {BENCH_KEY}",
        "version: 1",
        'title: {zh-CN: "长问卷（基准）", en: "Long questionnaire (benchmark)"}',
        'description: {zh-CN: "基准测试用。", en: "For the benchmark."}',
        "sections:",
        "  - id: long",
        '    title: {zh-CN: "一百二十题", en: "A hundred and twenty questions"}',
        "    weight: 1",
        "    questions:",
    ]
    for i in range(1, QUESTIONS + 1):
        lines += [
            f"      - id: q-{i}",
            "        type: yes_no",
            f'        text: {{zh-CN: "第{i}题：是否落实该项控制？",'
            f' en: "Question {i}: is the control in place?"}}',
        ]
    return "\n".join(lines) + "\n"


# --- data ---------------------------------------------------------------------------------


@asynccontextmanager
async def database(opts: Any) -> AsyncIterator[tuple[str, str]]:
    admin_url = os.environ.get("VENDOR_RISK_TEST_DATABASE_URL")
    redis_url = os.environ.get("VENDOR_RISK_TEST_REDIS_URL")
    embedded = None
    if not (admin_url and redis_url):
        from vendor_risk.embedded import EmbeddedServers

        embedded = EmbeddedServers(Path(tempfile.mkdtemp(prefix="vr-compare-")), delete_on_stop=True).start()
        admin_url, redis_url = embedded.database_url, embedded.redis_url
    name = opts.database or f"vr_compare_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    await admin.close()
    try:
        if exists:
            url = admin_url.rsplit("/", 1)[0] + f"/{name}"
            print(f"reusing database {name}")
            # Kept from an earlier run: bring it to this tree's migrations first.
            conn = await connect(url)
            await migrate(conn)
            await conn.close()
        else:
            _, url = await create_database(admin_url, name)
            conn = await connect(url)
            await migrate(conn)
            print(f"generating {opts.partners:,} partners into {name}")
            await generate(conn, opts.partners)
            await conn.close()
        yield url, redis_url
    finally:
        if not opts.database:
            await drop_database(admin_url, name)
        if embedded:
            embedded.stop()


async def staff_credentials(url: str) -> dict[str, str]:
    """API keys for an auditor and procurement, and a risk owner's page session."""
    conn = await connect(url)
    try:
        tag = uuid4().hex[:8]
        made: dict[str, str] = {}
        for role in (Role.AUDITOR, Role.PROCUREMENT, Role.RISK_OWNER):
            user = UserCreate(
                email=f"compare-{role.value}-{tag}@example.com", name=f"比较 {role.value}", role=role
            )
            created = await auth_service.create_user(conn, SYSTEM, user)
            made[role.value] = created.key
            made[f"{role.value}_id"] = str(created.user.id)
        opened = await open_session(
            conn, UUID(made["risk_owner_id"]), method="password", address="127.0.0.1", user_agent="compare"
        )
        assert opened is not None
        made["session"] = opened[0]
        with tempfile.TemporaryDirectory(prefix="vr-compare-q-") as directory:
            (Path(directory) / f"{BENCH_KEY}.yaml").write_text(_questionnaire(), encoding="utf-8")
            await load_library(conn, Path(directory))
        made["partner_id"] = str((await sample_ids(conn))["partner_id"])
        return made
    finally:
        await conn.close()


async def portal_link(port: int, creds: dict[str, str]) -> tuple[str, str]:
    """A partner sent the long questionnaire through our API, its section answered once:
    the section's path and the assessment's id."""
    tag = uuid4().hex[:6]
    headers = {"Authorization": f"Bearer {creds['procurement']}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        from tests.helpers import new_credit_code

        partner = await client.post(
            "/api/v1/partners",
            headers=headers,
            json={
                "name": f"金蝶 基准 {tag}",
                "legal_name": f"金蝶基准有限公司 {tag}",
                "credit_code": new_credit_code(),
                "country": "CN",
                "business_criticality": "medium",
                "services": ["cloud accounting"],
                "owner_id": creds["risk_owner_id"],
                "contacts": [
                    {
                        "name": "李雷",
                        "email": f"li.{tag}@partner.example.com",
                        "primary": True,
                        "locale": "zh-CN",
                    }
                ],
            },
        )
        assert partner.status_code == 201, partner.text
        sent = await client.post(
            f"/api/v1/partners/{partner.json()['id']}/assessments",
            headers=headers,
            json={"kind": "onboarding", "questionnaires": [BENCH_KEY]},
        )
        assert sent.status_code == 201, sent.text
        path = httpx.URL(sent.json()["link"]).path + "/s/0/long"
        page = await client.get(path, params={"lang": "zh-CN"})
        assert page.status_code == 200, page.text[:500]
        saved = await client.post(path, params={"lang": "zh-CN"}, data=_answers(page.text, "yes"))
        assert saved.status_code == 303, saved.text[:500]
        return path, sent.json()["assessment"]["id"]


def _answers(page: str, value: str, version: int | None = None) -> dict[str, Any]:
    found = CSRF.search(page)
    current = VERSION.search(page)
    if not (found and current):
        raise RuntimeError("the section page has no form")
    return {
        "_csrf_token": found.group(1),
        "answers_version": str(version if version is not None else current.group(1)),
        "action": "save",
        "present": [f"q-{i}" for i in range(1, QUESTIONS + 1)],
        **{f"a:q-{i}": value for i in range(1, QUESTIONS + 1)},
    }


# --- servers and load ---------------------------------------------------------------------


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def serve_ours(url: str, redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **bench_env(),
        "VENDOR_RISK_DATABASE_URL": url,
        "VENDOR_RISK_REDIS_URL": redis_url,
        "VENDOR_RISK_DATA_KEYS": f"b:{base64.b64encode(b'b' * 32).decode()}",
        "VENDOR_RISK_SESSION_SECRET": base64.b64encode(b"s" * 32).decode(),
        "VENDOR_RISK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # The portal's per-link limit would answer the load with 429s.
        "VENDOR_RISK_PORTAL_REQUESTS_PER_MINUTE": "100000000",
    }
    # Logging as in production (INFO, JSON lines): its cost is part of what is measured.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vendor_risk",
            "serve",
            "--skip-migrate",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    _wait(port, proc)
    return proc


def serve_bare(url: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.bare_app:create_compare",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**bench_env(), "BENCH_DATABASE_URL": url},
        cwd=ROOT,
    )
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/partners/{uuid4()}", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("bare server did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not found:
        raise RuntimeError(f"wrk printed a latency this does not read: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(
    port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from Debian's wrk; non-2xx/3xx answers are an error."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"{path}: wrk saw errors\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return rps, p50, p99


async def in_process(
    port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> tuple[float, float, float]:
    """The fallback without wrk: throughput only (p50/p99 from one-at-a-time timings)."""
    t0 = time.perf_counter()
    done = await load(port, path, headers, seconds, connections)
    rps = done / (time.perf_counter() - t0)
    timings = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(50):
            s = time.perf_counter()
            await client.get(path, headers=headers)
            timings.append((time.perf_counter() - s) * 1000)
    timings.sort()
    return rps, statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


async def saves(
    port: int, path: str, seconds: float, cookies: dict[str, str] | None
) -> tuple[float, float, float]:
    """One partner saving its section again and again; each save carries the next version."""
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies=cookies) as client:
        page = await client.get(path, params={"lang": "zh-CN"})
        current = VERSION.search(page.text)
        if not current:
            raise RuntimeError(f"the section page answered {page.status_code}: {page.text[:300]}")
        version = int(current.group(1))
        deadline = time.perf_counter() + seconds
        n = 0
        t_start = time.perf_counter()
        while time.perf_counter() < deadline:
            n += 1
            data = _answers(page.text, "no" if n % 2 else "yes", version)
            s = time.perf_counter()
            saved = await client.post(path, params={"lang": "zh-CN"}, data=data)
            timings.append((time.perf_counter() - s) * 1000)
            if saved.status_code != 303:
                raise RuntimeError(f"save answered {saved.status_code}: {saved.text[:300]}")
            version += 1
        elapsed = time.perf_counter() - t_start
    timings.sort()
    return len(timings) / elapsed, statistics.median(timings), timings[max(0, int(len(timings) * 0.99) - 1)]


async def run_case(
    proc: subprocess.Popen[bytes], port: int, path: str, headers: dict[str, str], save: bool, opts: Any
) -> Figures:
    cpu0 = cpu_seconds(proc.pid)
    t0 = time.perf_counter()
    if save:
        rps, p50, p99 = await saves(port, path, opts.seconds, None)
    elif shutil.which("wrk"):
        rps, p50, p99 = await asyncio.to_thread(wrk, port, path, headers, opts.seconds, opts.connections)
    else:
        rps, p50, p99 = await in_process(port, path, headers, opts.seconds, opts.connections)
    requests = rps * (time.perf_counter() - t0)
    return Figures(rps, p50, p99, (cpu_seconds(proc.pid) - cpu0) / max(requests, 1) * 1e6)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the table ----------------------------------------------------------------------------


def cases(creds: dict[str, str], portal: str, assessment_id: str) -> list[Case]:
    api = {"Authorization": f"Bearer {creds['auditor']}"}
    staff = {"Cookie": f"vr_ui_session={creds['session']}"}
    pid = creds["partner_id"]
    search = urlencode({"q": "金蝶"})
    return [
        Case("partner list, 50 rows", "/api/v1/partners?limit=50", "/partners", api),
        Case("partner detail", f"/api/v1/partners/{pid}", f"/partners/{pid}", api),
        Case("dashboard", "/api/v1/dashboard", "/dashboard", api),
        Case(
            "assessments status=submitted",
            "/api/v1/assessments?status=submitted",
            "/assessments?status=submitted",
            api,
        ),
        Case("findings, 50 rows", "/api/v1/findings?limit=50", "/findings", api),
        Case("search q=金蝶", f"/api/v1/partners?{search}", f"/partners?{search}", api),
        Case(f"portal GET, {QUESTIONS} questions", f"{quote(portal)}?lang=zh-CN", f"/q/{assessment_id}"),
        Case(f"portal save, {QUESTIONS} answers", portal, f"/q/{assessment_id}", save=True),
        Case("/ui dashboard page", "/ui?lang=zh-CN", "/ui", staff),
        Case("/ui/partners page", "/ui/partners?lang=zh-CN", "/ui/partners", staff),
    ]


async def bare_save(port: int, path: str, seconds: float) -> tuple[float, float, float]:
    """The bare save: the same 120 answers posted to the bare handler (no CSRF), alternating
    as ours do and with a changing version, so that no two bodies are the same: Litestar
    caches the parse of a body it has seen, and a bare handler posted one body again and
    again never parsed it."""
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        deadline = time.perf_counter() + seconds
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            answer = "no" if n % 2 else "yes"
            data = {"version": str(n), **{f"a:q-{i}": answer for i in range(1, QUESTIONS + 1)}}
            s = time.perf_counter()
            saved = await client.post(path, data=data)
            timings.append((time.perf_counter() - s) * 1000)
            assert saved.status_code == 303, saved.text[:300]
        elapsed = time.perf_counter() - t0
    timings.sort()
    return len(timings) / elapsed, statistics.median(timings), timings[max(0, int(len(timings) * 0.99) - 1)]


async def main(opts: Any) -> None:
    async with database(opts) as (url, redis_url):
        creds = await staff_credentials(url)
        bare_port, ours_port = opts.port or free_port(), (opts.port + 1) if opts.port else free_port()
        bare = serve_bare(url, bare_port)
        ours = serve_ours(url, redis_url, ours_port)
        try:
            # Each side saves its own assessment (the same questionnaire, the same answers).
            portal, _ = await portal_link(ours_port, creds)
            _, assessment_id = await portal_link(ours_port, creds)
            table = cases(creds, portal, assessment_id)
            results: dict[str, list[tuple[Figures, Figures]]] = {c.name: [] for c in table}
            tool = "wrk" if shutil.which("wrk") else "in-process generator"
            print(
                f"{opts.rounds} alternating rounds, {opts.seconds:.0f} s per request and side, "
                f"{opts.connections} connections ({tool}; the save: one connection in sequence)"
            )
            # Warm both sides: pools, prepared statements, caches.
            for case in table:
                if not case.save:
                    await load(bare_port, case.bare, {}, 0.3, 2)
                    await load(ours_port, case.ours, case.headers, 0.3, 2)
            for rnd in range(opts.rounds):
                for case in table:
                    if case.save:
                        cpu0, t0 = cpu_seconds(bare.pid), time.perf_counter()
                        rps, p50, p99 = await bare_save(bare_port, case.bare, opts.seconds)
                        n = rps * (time.perf_counter() - t0)
                        b = Figures(rps, p50, p99, (cpu_seconds(bare.pid) - cpu0) / n * 1e6)
                    else:
                        b = await run_case(bare, bare_port, case.bare, {}, False, opts)
                    o = await run_case(ours, ours_port, case.ours, case.headers, case.save, opts)
                    results[case.name].append((b, o))
                    print(
                        f"    {case.name:<32} bare {b.rps:8.1f}/s p50 {b.p50_ms:7.1f} "
                        f"p99 {b.p99_ms:7.1f} cpu {b.cpu_us:7.0f}µs | ours {o.rps:8.1f}/s "
                        f"p50 {o.p50_ms:7.1f} p99 {o.p99_ms:7.1f} cpu {o.cpu_us:7.0f}µs",
                        flush=True,
                    )
                print(f"  round {rnd + 1} done, load average {os.getloadavg()[0]:.2f}")
            print(
                "\n| request | throughput, ours / bare | p50, ours / bare | p99, ours / bare "
                "| server CPU per request, ours / bare | ours: req/s, p50 |"
            )
            print("|---|---|---|---|---|---|")
            for case in table:
                pairs = results[case.name]

                def med(key: str, pairs: list[tuple[Figures, Figures]] = pairs) -> str:
                    # CPU time comes in clock ticks (10 ms): a slow request may read as none.
                    ratios = [getattr(o, key) / getattr(b, key) for b, o in pairs if getattr(b, key) > 0]
                    return f"{statistics.median(ratios):.2f}×" if ratios else "n/a"

                ours_rps = statistics.median(o.rps for _, o in pairs)
                ours_p50 = statistics.median(o.p50_ms for _, o in pairs)
                print(
                    f"| {case.name} | {med('rps')} | {med('p50_ms')} | {med('p99_ms')} "
                    f"| {med('cpu_us')} | {ours_rps:,.0f}/s, {ours_p50:.1f} ms |"
                )
            print(
                f"\nRSS after the benchmark: ours {rss_mb(ours.pid):.0f} MB, bare {rss_mb(bare.pid):.0f} MB; "
                f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
            )
        finally:
            for proc in (bare, ours):
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--database", help="reuse (or generate and keep) this database")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per request, side and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, help="bare on this port, ours on the next (else free ones)")
    asyncio.run(main(parser.parse_args()))
