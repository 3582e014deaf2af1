"""How much does an authenticated read cost over a bare Litestar + asyncpg handler?

Serves both apps with uvicorn (one process each, in turn), drives each with the same
keep-alive HTTP/1.1 load from this process, and prints requests per second and the
server's CPU time per request. Our bar: the authenticated read costs at most ~1.4x.

    uv run python bench/bench_auth_read.py [--seconds 10] [--concurrency 16]

Uses VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL when set, else embedded
servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import fresh_database  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk.audit.models import SYSTEM  # noqa: E402
from vendor_risk.auth import service  # noqa: E402
from vendor_risk.auth.models import Role, UserCreate  # noqa: E402
from vendor_risk.db import connect, migrate  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def load(port: int, path: str, headers: dict[str, str], seconds: float, concurrency: int) -> int:
    """Keep-alive GETs from `concurrency` connections for `seconds`; returns responses seen."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{head}\r\n".encode()
    deadline = time.perf_counter() + seconds
    done = 0

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                status = await reader.readline()
                if b" 200 " not in status:
                    raise RuntimeError(f"{path}: {status!r}")
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return done


def serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *args,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


@asynccontextmanager
async def scratch_database() -> AsyncIterator[tuple[str, str]]:
    """A migrated empty database's URL and a Redis URL: on the servers that
    VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL name, else on embedded ones."""
    embedded = None
    admin_url = os.environ.get("VENDOR_RISK_TEST_DATABASE_URL")
    redis_url = os.environ.get("VENDOR_RISK_TEST_REDIS_URL")
    if not (admin_url and redis_url):
        from vendor_risk.embedded import EmbeddedServers

        embedded = EmbeddedServers(Path(tempfile.mkdtemp(prefix="vr-bench-")), delete_on_stop=True).start()
        admin_url, redis_url = embedded.database_url, embedded.redis_url
    try:
        async with fresh_database(admin_url) as url:
            conn = await connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            yield url, redis_url
    finally:
        if embedded:
            embedded.stop()


def bench_env() -> dict[str, str]:
    """This environment without any VENDOR_RISK_ setting, so a server reads only ours."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}


def serve_bare(factory: str, url: str, port: int) -> subprocess.Popen[bytes]:
    """A bare Litestar + asyncpg app (``module:function``) on ``port``."""
    return serve(["--factory", factory], {**bench_env(), "BENCH_DATABASE_URL": url}, port)


def serve_ours(url: str, redis_url: str, port: int) -> subprocess.Popen[bytes]:
    """vendor-risk itself on ``port``, configured by its environment."""
    env = {
        **bench_env(),
        "VENDOR_RISK_DATABASE_URL": url,
        "VENDOR_RISK_REDIS_URL": redis_url,
        "VENDOR_RISK_DATA_KEYS": f"b:{base64.b64encode(b'b' * 32).decode()}",
        "VENDOR_RISK_LOG_LEVEL": "WARNING",
    }
    return serve(["--factory", "vendor_risk.app:app_from_env"], env, port)


async def measure(
    name: str, proc: subprocess.Popen[bytes], port: int, path: str, headers: dict[str, str], opts: Any
) -> tuple[float, float]:
    """Return (latency of one request alone in µs, server CPU per request under load in µs)."""
    await load(port, path, headers, 1.0, opts.concurrency)  # warm up pools and caches
    t0 = time.perf_counter()
    alone = await load(port, path, headers, opts.seconds / 2, 1)
    latency = (time.perf_counter() - t0) / alone * 1e6
    cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
    count = await load(port, path, headers, opts.seconds, opts.concurrency)
    cpu = cpu_seconds(proc.pid) - cpu0
    elapsed = time.perf_counter() - t0
    rps, us = count / elapsed, cpu / count * 1e6
    print(
        f"{name:<22} {latency:>7.0f} µs/request alone   "
        f"{rps:>7.0f} req/s and {us:>4.0f} µs server CPU per request under load"
    )
    return latency, us


async def main(opts: Any) -> None:
    async with scratch_database() as (url, redis_url):
        conn = await connect(url)
        created = await service.create_user(
            conn, SYSTEM, UserCreate(email="bench@example.com", name="Bench", role=Role.ADMIN)
        )
        await conn.close()
        path = f"/users/{created.user.id}"
        procs: list[subprocess.Popen[bytes]] = []
        try:
            bare_port = free_port()
            bare = serve_bare("bench.bare_app:create", url, bare_port)
            procs.append(bare)
            ours_port = free_port()
            ours = serve_ours(url, redis_url, ours_port)
            procs.append(ours)

            print(f"GET one user by id, {opts.concurrency} keep-alive connections, {opts.seconds:.0f} s each")
            bare_latency, bare_us = await measure("bare litestar+asyncpg", bare, bare_port, path, {}, opts)
            auth = {"Authorization": f"Bearer {created.key}"}
            ours_latency, ours_us = await measure(
                "vendor-risk (auth)", ours, ours_port, f"/api/v1{path}", auth, opts
            )
            print(f"ratio, latency of a request:        {ours_latency / bare_latency:.2f}x   (bar: <= 1.4x)")
            print(f"ratio, server CPU per request:      {ours_us / bare_us:.2f}x")
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
