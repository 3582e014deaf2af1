"""Issue #16's start figures: how soon ``vendor-risk serve`` answers ``/readyz`` with a 200,
the CPU it spent until then and its RSS once ready, against the bare app of
``bench/bare_app.py:create_compare`` started by uvicorn the same way (time to its first
answer).

    uv run python bench/bench_start.py [--database NAME] [--runs 5]

``serve --skip-migrate`` runs against an already migrated database: ``--database NAME``
(e.g. one bench/compare.py generated), else a scratch database migrated here and dropped.
Prints the medians over the runs, the ratios ours / bare and the load average: on a
loaded machine the wall time grows with the load, the CPU time much less, so read the CPU
figure and the ratios first. Uses VENDOR_RISK_TEST_DATABASE_URL / VENDOR_RISK_TEST_REDIS_URL
when set, else embedded servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import bench_env, cpu_seconds  # noqa: E402
from bench.compare import database  # noqa: E402
from tests.helpers import free_port  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _until_answered(proc: subprocess.Popen[bytes], url: str, ok: bool) -> float:
    """Seconds from the process's exec until ``url`` answers (a 200 if ``ok``)."""
    started = time.perf_counter()  # Popen returns once the child has exec'd
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            status = httpx.get(url, timeout=1.0).status_code
            if not ok or status == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.005)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_start(which: str, url: str, redis_url: str, port: int) -> tuple[float, float, float]:
    """(seconds from exec to ready, CPU seconds until then, RSS MB once ready) of one start."""
    if which == "ours":
        env = {
            **bench_env(),
            "VENDOR_RISK_DATABASE_URL": url,
            "VENDOR_RISK_REDIS_URL": redis_url,
            "VENDOR_RISK_DATA_KEYS": f"b:{base64.b64encode(b'b' * 32).decode()}",
            "VENDOR_RISK_SESSION_SECRET": base64.b64encode(b"s" * 32).decode(),
        }
        args = ["-m", "vendor_risk", "serve", "--skip-migrate", "--host", "127.0.0.1", "--port", str(port)]
        probe, ok = f"http://127.0.0.1:{port}/readyz", True
    else:
        env = {**bench_env(), "BENCH_DATABASE_URL": url}
        args = ["-m", "uvicorn", "--factory", "bench.bare_app:create_compare", "--port", str(port)]
        args += ["--log-level", "warning", "--no-access-log"]
        probe, ok = f"http://127.0.0.1:{port}/partners/{uuid4()}", False
    proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        ready = _until_answered(proc, probe, ok)
        return ready, cpu_seconds(proc.pid), rss_mb(proc.pid)
    finally:
        _stop(proc)


async def main(opts: Any) -> None:
    async with database(opts) as (url, redis_url):
        figures: dict[str, list[tuple[float, float, float]]] = {"ours": [], "bare": []}
        for _ in range(opts.runs):
            for which in ("bare", "ours"):  # alternating: the load hits both alike
                figures[which].append(
                    await asyncio.to_thread(one_start, which, url, redis_url, opts.port or free_port())
                )
        med = {k: [statistics.median(f[i] for f in v) for i in range(3)] for k, v in figures.items()}
        (ow, oc, orss), (bw, bc, brss) = med["ours"], med["bare"]
        print(f"medians of {opts.runs} starts; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("| | ready (wall) | CPU until ready | RSS once ready |")
        print("|---|---|---|---|")
        print(f"| vendor-risk serve | {ow:.2f} s | {oc:.2f} s | {orss:.0f} MB |")
        print(f"| bare app | {bw:.2f} s | {bc:.2f} s | {brss:.0f} MB |")
        print(f"| ours / bare | {ow / bw:.2f}× | {oc / bc:.2f}× | {orss / brss:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="a migrated database to start against (kept)")
    parser.add_argument("--partners", type=int, default=1000, help="partners to generate into a new database")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, help="serve on this port (else a free one)")
    asyncio.run(main(parser.parse_args()))
