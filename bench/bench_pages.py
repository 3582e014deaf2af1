"""The staff pages at realistic volume: the time of one request per page, signed in.

Generates the data once (``bench/datagen.py``, 100k partners by default), serves
vendor-risk with uvicorn, opens a staff session for a risk owner, then times each page one
request at a time: ``--slices`` slices of ``--seconds`` each, the median of the slices'
mean request time printed with the worst slice. The bar: the dashboard and the partner
list under 50 ms median.

    uv run python bench/bench_pages.py [--partners 100000] [--seconds 0.3] [--slices 5]

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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_auth_read import load, scratch_database, serve_ours  # noqa: E402
from bench.datagen import generate  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vendor_risk.auth.sessions import open_session  # noqa: E402
from vendor_risk.db import connect  # noqa: E402

# The pages whose medians the bar names.
BAR_MS = 50.0
BARRED = ("/ui", "/ui/partners")


def pages(sample: dict[str, Any]) -> list[str]:
    pid = sample["partner_id"]
    return [
        "/ui",
        "/ui/partners",
        "/ui/partners?sort=name",
        "/ui/partners?sort=tier",
        "/ui/partners?sort=reassessment",
        "/ui/partners?sort=rating",
        "/ui/partners?status=active&sort=name",
        "/ui/partners?q=%E9%87%91%E8%9D%B6",
        "/ui/partners?attention=true",
        f"/ui/partners/{pid}",
        f"/ui/partners/{pid}/edit",
        "/ui/partners/new",
        f"/ui/partners/{pid}/agreements/new",
        f"/ui/partners/{pid}/scopes/new",
        f"/ui/partners/{pid}/impact-assessments/new",
        "/ui/reviews",
        f"/ui/assessments/{sample['assessment_id']}",
        "/ui/findings",
        "/ui/incidents",
        f"/ui/incidents/{sample['incident_id']}",
    ]


async def main(opts: Any) -> None:
    async with scratch_database() as (url, redis_url):
        conn = await connect(url)
        t0 = time.perf_counter()
        print(f"generating {opts.partners:,} partners and their history")
        data = await generate(conn, opts.partners)
        opened = await open_session(
            conn, data.users["risk_owner"], method="password", address="127.0.0.1", user_agent="bench_pages"
        )
        await conn.close()
        assert opened is not None  # a generated user always opens a session
        token = opened[0]
        print(f"generated in {time.perf_counter() - t0:.0f}s")
        port = free_port()
        proc = serve_ours(url, redis_url, port)
        try:
            headers = {"Cookie": f"vr_ui_session={token}"}
            print(f"\n{'page (as a risk owner)':<48} {'median':>9} {'worst':>9}")
            failed = []
            for path in pages(data.sample):
                await load(port, path, headers, opts.seconds, 1)  # warm up
                means = []
                for _ in range(opts.slices):
                    start = time.perf_counter()
                    done = await load(port, path, headers, opts.seconds, 1)
                    means.append((time.perf_counter() - start) / max(done, 1) * 1000)
                median = statistics.median(means)
                mark = ""
                if path in BARRED and median > BAR_MS:
                    mark = f"  over the {BAR_MS:.0f} ms bar"
                    failed.append(path)
                shown = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", path)
                print(f"{shown[:48]:<48} {median:>7.1f}ms {max(means):>7.1f}ms{mark}")
            verdict = "met" if not failed else "missed"
            print(f"\nbar: {', '.join(BARRED)} under {BAR_MS:.0f} ms median: {verdict}")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=0.3, help="per slice")
    parser.add_argument("--slices", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
