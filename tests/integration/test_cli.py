"""The operator's commands against a real database."""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Servers, fresh_database
from vendor_risk.auth.keys import hash_key
from vendor_risk.db import MigrationError, connect, migrate


@pytest.fixture
async def scratch_url(servers: Servers) -> AsyncIterator[str]:
    async with fresh_database(servers.admin_database_url) as url:
        yield url


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "vendor_risk", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, url, *args)


async def test_migrate_then_manage_users(scratch_url: str) -> None:
    migrated = await run(scratch_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "0001_foundation" in migrated.stdout
    again = await run(scratch_url, "migrate")
    assert again.returncode == 0
    assert "applied" not in again.stdout

    created = await run(
        scratch_url,
        "users",
        "create",
        "--email",
        "li@example.com",
        "--name",
        "李雷",
        "--role",
        "risk_owner",
        "--api-key",
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.split("shown only once): ")[1].strip()
    link = re.search(r"/ui/password/([A-Za-z0-9_-]{43})", created.stdout)
    assert link, created.stdout
    conn = await connect(scratch_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM api_keys WHERE key_hash = $1", hash_key(key)) == 1
        # The link is live (only its hash is stored) and its email waits in the outbox.
        assert (
            await conn.fetchval(
                "SELECT purpose FROM user_tokens"
                " WHERE token_hash = sha256($1::text::bytea) AND used_at IS NULL",
                link.group(1),
            )
            == "invitation"
        )
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'auth_invitation'") == 1
    finally:
        await conn.close()
    without_key = await run(
        scratch_url, "users", "create", "--email", "han@example.com", "--name", "Han", "--role", "auditor"
    )
    assert without_key.returncode == 0, without_key.stderr
    assert "vrk_" not in without_key.stdout
    assert "/ui/password/" in without_key.stdout

    duplicate = await run(
        scratch_url, "users", "create", "--email", "LI@example.com", "--name", "x", "--role", "auditor"
    )
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    bad = await run(scratch_url, "users", "create", "--email", "nope", "--name", "x", "--role", "auditor")
    assert bad.returncode != 0
    assert "email" in bad.stderr

    listed = await run(scratch_url, "users", "list")
    assert "li@example.com" in listed.stdout
    assert "risk_owner" in listed.stdout
    disabled = await run(scratch_url, "users", "disable", "--email", "li@example.com")
    assert disabled.returncode == 0, disabled.stderr
    assert "disabled" in (await run(scratch_url, "users", "list")).stdout

    verified = await run(scratch_url, "audit", "verify")
    assert verified.returncode == 0
    assert "intact" in verified.stdout


async def test_bad_configuration_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = "mysql://nope"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "vendor_risk", "migrate"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "VENDOR_RISK_DATABASE_URL" in result.stderr


async def test_edited_applied_migration_is_refused(scratch_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id int);")
    conn = await connect(scratch_url)
    try:
        assert await migrate(conn, tmp_path) == ["0001_first"]
        (tmp_path / "0002_second.sql").write_text("ALTER TABLE t ADD COLUMN name text;")
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match=r"0001_first\.sql was edited"):
            await migrate(conn, tmp_path)
        # Nothing after the refusal was applied.
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_alone(scratch_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int); SELECT * FROM missing_table;")
    conn = await connect(scratch_url)
    try:
        with pytest.raises(Exception, match="missing_table"):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('ok') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('half') IS NULL")
        assert [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")] == [1]
    finally:
        await conn.close()
