"""The policy at process start: a malformed file stops the command naming the file and the
key; a new file's hash lands in the audit trail; `policy validate` checks a file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Servers, fresh_database
from vendor_risk.db import connect
from vendor_risk.policy import load_policy


@pytest.fixture
async def scratch_url(servers: Servers) -> AsyncIterator[str]:
    async with fresh_database(servers.admin_database_url) as url:
        yield url


async def cli(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")} | env_vars
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "vendor_risk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_malformed_policy_stops_start_up_and_a_new_one_is_audited(
    scratch_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-policy.yaml"
    bad.write_text("cadence_months: {low: 36, medium: 24, high: 12, critical: 6}\nratings: {}\n", "utf-8")
    refused = await cli("migrate", VENDOR_RISK_DATABASE_URL=scratch_url, VENDOR_RISK_POLICY_FILE=str(bad))
    assert refused.returncode == 2
    assert f"VENDOR_RISK_POLICY_FILE: {bad}: unknown field `ratings`" in refused.stderr
    checked = await cli("policy", "validate", str(bad))
    assert checked.returncode == 1
    assert f"{bad}: unknown field `ratings`" in checked.stderr

    good = tmp_path / "firm-policy.yaml"
    good.write_text("cadence_months: {low: 24, medium: 12, high: 6, critical: 3}\n", "utf-8")
    assert (await cli("policy", "validate", str(good))).returncode == 0
    for _ in range(2):  # the second start with the same file records nothing new
        started = await cli(
            "migrate", VENDOR_RISK_DATABASE_URL=scratch_url, VENDOR_RISK_POLICY_FILE=str(good)
        )
        assert started.returncode == 0, started.stderr
    conn = await connect(scratch_url)
    try:
        events = await conn.fetch(
            "SELECT after FROM audit_events WHERE action = 'policy.changed' ORDER BY seq"
        )
        cadences = dict(await conn.fetch("SELECT tier, months FROM policy_cadences"))
    finally:
        await conn.close()
    assert [e["after"] for e in events] == [{"sha256": load_policy(good).sha256, "source": str(good)}]
    # The partner list's next reassessment dates follow the policy's cadences.
    assert cadences == {"low": 24, "medium": 12, "high": 6, "critical": 3}
