"""Does password hashing stall the pages other staff are using?

Serves vendor-risk with uvicorn (one process), then times authenticated page views
(``GET /ui/partners`` with a session cookie) alone, and again while sign-ins run (each
one an argon2id verification of 64 MiB, 3 passes). Prints the latencies and their ratio;
our bar is 1.2x. Also prints how long a wrong password and an unknown email take (they
must not be told apart by time).

    uv run python bench/bench_signin.py [--seconds 10] [--signers 2] [--viewers 2]

Uses VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL when set, else embedded
servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import scratch_database, serve_ours  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk.audit.models import SYSTEM  # noqa: E402
from vendor_risk.auth import service  # noqa: E402
from vendor_risk.auth.models import Role, UserCreate  # noqa: E402
from vendor_risk.auth.passwords import hash_password  # noqa: E402
from vendor_risk.auth.sessions import open_session  # noqa: E402
from vendor_risk.db import connect  # noqa: E402

PASSWORD = "benchmark password 2026!"  # noqa: S105 - a scratch database's test user
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def views(base: str, cookie: str, seconds: float, viewers: int) -> list[float]:
    """Page views from ``viewers`` keep-alive clients for ``seconds``: each latency in ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base, cookies={"vr_ui_session": cookie}) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                response = await http.get("/ui/partners")
                if response.status_code != 200:
                    raise RuntimeError(f"page view: {response.status_code}")
                latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(one() for _ in range(viewers)))
    return latencies


async def sign_ins(base: str, email: str, password: str, stop: asyncio.Event, signers: int) -> list[float]:
    """Sign-ins in a loop from ``signers`` browsers until ``stop``: each duration in ms."""
    durations: list[float] = []

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base) as http:
            page = await http.get("/ui/login")
            token = CSRF.search(page.text)
            assert token
            while not stop.is_set():
                t0 = time.perf_counter()
                response = await http.post(
                    "/ui/login",
                    data={"_csrf_token": token.group(1), "email": email, "password": password, "next": "/ui"},
                    follow_redirects=False,
                )
                if response.status_code not in (303, 401):
                    raise RuntimeError(f"sign-in: {response.status_code}")
                durations.append((time.perf_counter() - t0) * 1000)
                http.cookies.delete("vr_ui_session")

    await asyncio.gather(*(one() for _ in range(signers)))
    return durations


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if len(ordered) >= 20 else ordered[-1]
    return f"median {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms ({len(ordered)} requests)"


async def main(opts: Any) -> None:
    async with scratch_database() as (url, redis_url):
        conn = await connect(url)
        try:
            created = await service.create_user(
                conn, SYSTEM, UserCreate(email="bench@example.com", name="Bench", role=Role.PROCUREMENT)
            )
            await conn.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                created.user.id,
                await hash_password(PASSWORD),
            )
            opened = await open_session(
                conn, created.user.id, method="password", address="bench", user_agent="bench"
            )
            assert opened
            cookie = opened[0]
        finally:
            await conn.close()
        port = free_port()
        proc = serve_ours(url, redis_url, port)
        base = f"http://127.0.0.1:{port}"
        try:
            await views(base, cookie, 1.0, opts.viewers)  # warm up
            alone = await views(base, cookie, opts.seconds, opts.viewers)
            stop = asyncio.Event()
            signing = asyncio.create_task(sign_ins(base, "bench@example.com", PASSWORD, stop, opts.signers))
            await asyncio.sleep(0.5)
            during = await views(base, cookie, opts.seconds, opts.viewers)
            stop.set()
            hashed = await signing

            print(f"GET /ui/partners, {opts.viewers} clients, {opts.seconds:.0f} s each")
            print(f"  page views alone:                 {summary(alone)}")
            print(f"  while {opts.signers} browsers sign in:      {summary(during)}")
            print(f"  sign-ins meanwhile:               {summary(hashed)}")
            ratio = statistics.median(during) / statistics.median(alone)
            print(f"ratio, median page view during sign-ins / alone: {ratio:.2f}x   (bar: <= 1.2x)")

            # A wrong password and an unknown email, alternately, one at a time.
            wrong: list[float] = []
            unknown: list[float] = []
            async with httpx.AsyncClient(base_url=base) as http:
                page = await http.get("/ui/login")
                token = CSRF.search(page.text)
                assert token
                for i in range(6):
                    for email, into in (("bench@example.com", wrong), (f"nobody{i}@example.com", unknown)):
                        t0 = time.perf_counter()
                        response = await http.post(
                            "/ui/login",
                            data={"_csrf_token": token.group(1), "email": email, "password": "not it at all"},
                        )
                        # Past three failures the backoff answers 429 without hashing: count those
                        # out, for both alike.
                        if response.status_code == 401:
                            into.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0)
            print(
                f"wrong password: median {statistics.median(wrong):.1f} ms; unknown email: "
                f"median {statistics.median(unknown):.1f} ms"
            )
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--signers", type=int, default=2)
    parser.add_argument("--viewers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
