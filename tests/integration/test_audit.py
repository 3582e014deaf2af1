"""The audit trail: written with every change, listed with filters, tamper-evident."""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser, Servers, fresh_database
from vendor_risk import audit
from vendor_risk.audit.chain import GENESIS, ChainedEvent, link
from vendor_risk.audit.checkpoints import create_checkpoint, latest_verify_failure, run_scheduled_verify
from vendor_risk.audit.models import Actor
from vendor_risk.audit.service import verify, verify_report
from vendor_risk.db import connect, create_pool, migrate
from vendor_risk.settings import Settings, SigningKey, parse_data_keys

Client = AsyncTestClient[Litestar]


async def test_changes_are_audited_and_listed(
    client: Client, admin: dict[str, Any], make_user: MakeUser
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "audited@example.com", "name": "A", "role": "auditor"},
        headers=admin["headers"],
    )
    user_id = created.json()["user"]["id"]
    auditor = await make_user("auditor")
    events = await client.get(
        "/api/v1/audit-events",
        params={"entity_type": "user", "entity_id": user_id},
        headers=auditor["headers"],
    )
    assert events.status_code == 200
    listed = events.json()["items"]
    assert [e["action"] for e in listed] == ["user.invited", "user.created"]  # newest first
    event = listed[1]
    assert event["actor_id"] == str(admin["id"])
    assert event["after"]["email"] == "audited@example.com"
    assert len(event["hash"]) == 64
    by_actor = await client.get(
        "/api/v1/audit-events",
        params={"actor_id": str(admin["id"]), "action": "user.invited"},
        headers=auditor["headers"],
    )
    assert all(e["action"] == "user.invited" for e in by_actor.json()["items"])
    # The invitation's secret link is in no event.
    assert all("/ui/password/" not in str(e) for e in listed)
    assert by_actor.json()["items"]
    procurement = await make_user("procurement")
    assert (await client.get("/api/v1/audit-events", headers=procurement["headers"])).status_code == 403


async def test_audit_list_pages_newest_first(client: Client, admin: dict[str, Any]) -> None:
    first = (await client.get("/api/v1/audit-events", params={"limit": 3}, headers=admin["headers"])).json()
    assert len(first["items"]) == 3
    second = (
        await client.get(
            "/api/v1/audit-events",
            params={"limit": 3, "cursor": first["next_cursor"]},
            headers=admin["headers"],
        )
    ).json()
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == len(seqs)


async def test_audit_list_by_time_window_pages_newest_first(client: Client, admin: dict[str, Any]) -> None:
    """A window is ordered from the time index and its page fetched by seq: every event of
    the window, once, newest first, and none outside it, page after page."""

    async def invite(n: int) -> None:
        for i in range(n):
            created = await client.post(
                "/api/v1/users",
                json={"email": f"window-{uuid4().hex[:8]}-{i}@example.com", "name": "W", "role": "auditor"},
                headers=admin["headers"],
            )
            assert created.status_code == 201, created.text

    await invite(1)
    start = datetime.now(UTC)
    await invite(3)
    end = datetime.now(UTC)
    await invite(1)
    window = {"from": start.isoformat(), "to": end.isoformat(), "limit": 2}
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**window, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/audit-events", params=params, headers=admin["headers"])).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(set(seqs), reverse=True)
    assert all(start <= datetime.fromisoformat(e["occurred_at"]) < end for e in seen)
    assert [e["action"] for e in seen].count("user.created") == 3
    invited = await client.get(
        "/api/v1/audit-events",
        params={"from": start.isoformat(), "to": end.isoformat(), "action": "user.invited"},
        headers=admin["headers"],
    )
    assert [e["action"] for e in invited.json()["items"]] == ["user.invited"] * 3


@pytest.fixture
async def scratch_db(servers: Servers) -> AsyncIterator[str]:
    async with fresh_database(servers.admin_database_url) as url:
        conn = await connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url


async def write_events(url: str, count: int, writers: int = 1) -> None:
    async def writer(n: int) -> None:
        conn = await connect(url)
        try:
            for i in range(n):
                async with conn.transaction():
                    await audit.record(
                        conn,
                        actor=Actor(id=None, label="test"),
                        action="thing.changed",
                        entity_type="thing",
                        entity_id=str(i),
                        after={"i": i, "名": "值"},
                    )
        finally:
            await conn.close()

    await asyncio.gather(*(writer(count) for _ in range(writers)))


async def test_concurrent_writers_do_not_fork_the_chain(scratch_db: str) -> None:
    await write_events(scratch_db, 10, writers=5)
    conn = await connect(scratch_db)
    try:
        checked, broken = await verify(conn)
    finally:
        await conn.close()
    assert checked == 50
    assert broken is None


ACTOR = Actor(id=None, label="test")


async def record_thing(conn: asyncpg.Connection, name: str, after: Any = None) -> None:
    await audit.record(
        conn, actor=ACTOR, action="thing.changed", entity_type="thing", entity_id=name, after=after
    )


async def stored(url: str) -> list[tuple[int, str, Any]]:
    conn = await connect(url)
    try:
        rows = await conn.fetch("SELECT seq, entity_id, after FROM audit_events ORDER BY seq")
        checked, broken = await verify(conn)
    finally:
        await conn.close()
    assert broken is None
    assert checked == len(rows)
    return [(r["seq"], r["entity_id"], r["after"]) for r in rows]


async def test_events_are_appended_at_commit_in_the_order_recorded(scratch_db: str) -> None:
    conn = await connect(scratch_db)
    other = await connect(scratch_db)
    try:
        async with conn.transaction():
            payload: dict[str, Any] = {"n": 1}
            await record_thing(conn, "a", payload)
            # Later changes to the caller's object are not what was recorded.
            payload["n"] = 2
            await audit.record_many(
                conn,
                actor=ACTOR,
                action="thing.swept",
                entity_type="thing",
                events=[("b", None, {"n": 3}), ("c", None, None)],
            )
            # Until the change commits nothing is appended and the chain's lock is free:
            # another writer's whole transaction goes through meanwhile.
            assert await conn.fetchval("SELECT count(*) FROM audit_events") == 0
            async with other.transaction():
                await record_thing(other, "meanwhile")
            await record_thing(conn, "d")
        assert await stored(scratch_db) == [
            (1, "meanwhile", None),
            (2, "a", {"n": 1}),
            (3, "b", {"n": 3}),
            (4, "c", None),
            (5, "d", None),
        ]
    finally:
        await conn.close()
        await other.close()


async def record_then_fail(conn: asyncpg.Connection, name: str, after: Any = None) -> None:
    async with conn.transaction():
        await conn.execute("INSERT INTO things VALUES ($1)", name)
        await record_thing(conn, name, after)
        if after is None:
            raise ZeroDivisionError


async def test_rolled_back_blocks_drop_their_events(scratch_db: str) -> None:
    conn = await connect(scratch_db)
    try:
        await conn.execute("CREATE TABLE things (name text)")
        with pytest.raises(ZeroDivisionError):
            await record_then_fail(conn, "lost")
        async with conn.transaction():
            await record_thing(conn, "kept-1")
            with pytest.raises(ZeroDivisionError):
                await record_then_fail(conn, "savepoint-lost")
            async with conn.transaction():
                await record_thing(conn, "savepoint-kept")
            savepoint = conn.transaction()
            await savepoint.start()
            await record_thing(conn, "rolled-back-by-hand")
            await savepoint.rollback()
            await record_thing(conn, "kept-2")
        # A transaction begun and committed by hand appends at its commit too.
        by_hand = conn.transaction()
        await by_hand.start()
        await record_thing(conn, "by-hand")
        await by_hand.commit()
        # One begun outside asyncpg's blocks appends at once, holding the lock to its end.
        await conn.execute("BEGIN")
        await record_thing(conn, "begun-with-sql")
        assert (
            await conn.fetchval("SELECT count(*) FROM audit_events WHERE entity_id = 'begun-with-sql'") == 1
        )
        await conn.execute("COMMIT")
        assert [entity for _, entity, _ in await stored(scratch_db)] == [
            "kept-1",
            "savepoint-kept",
            "kept-2",
            "by-hand",
            "begun-with-sql",
        ]
        with pytest.raises(RuntimeError, match="inside the change's transaction"):
            await record_thing(conn, "outside")
    finally:
        await conn.close()


async def test_a_failed_append_rolls_the_change_back(scratch_db: str) -> None:
    conn = await connect(scratch_db)
    try:
        await conn.execute("CREATE TABLE things (name text)")
        # jsonb refuses a NUL character: the append fails at commit.
        with pytest.raises(asyncpg.UntranslatableCharacterError):
            await record_then_fail(conn, "bad", {"text": "a\u0000b"})
        assert await conn.fetchval("SELECT count(*) FROM things") == 0
        assert not conn.is_in_transaction()
        async with conn.transaction():
            await record_thing(conn, "good")
        assert [entity for _, entity, _ in await stored(scratch_db)] == ["good"]
    finally:
        await conn.close()


async def test_pooled_connections_append_at_commit(scratch_db: str) -> None:
    pool = await create_pool(scratch_db, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await record_thing(conn, "pooled")
            assert await conn.fetchval("SELECT count(*) FROM audit_events") == 0
    finally:
        await pool.close()
    assert [entity for _, entity, _ in await stored(scratch_db)] == ["pooled"]


SIGNING_SEED = b"\x07" * 32
SIGNING_KEY = f"t1:{base64.b64encode(SIGNING_SEED).decode()}"


def cli(url: str, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = url
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "vendor_risk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_verify(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(url, "audit", "verify", *args)


async def as_attacker(url: str, *statements: str) -> None:
    """Someone who can write the database (a DBA, a stolen superuser password) and so can
    switch the append-only triggers off: what only the checkpoints can reveal."""
    conn = await connect(url)
    try:
        async with conn.transaction():
            for table in ("audit_events", "audit_checkpoints"):
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for statement in statements:
                await conn.execute(statement)
            for table in ("audit_events", "audit_checkpoints"):
                await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_events SET after = '{\"i\": 99}' WHERE seq = 4", "event 4: hash does not match"),
        (
            "UPDATE audit_events SET actor_label = 'someone else' WHERE seq = 4",
            "event 4: hash does not match",
        ),
        ("DELETE FROM audit_events WHERE seq = 4", "events 4–4: missing"),
        ("UPDATE audit_events SET seq = 100 WHERE seq = 4", "events 4–4: missing"),
    ],
)
async def test_verify_names_the_tampered_event(scratch_db: str, tamper: str, expected: str) -> None:
    await write_events(scratch_db, 6)
    intact = await asyncio.to_thread(run_verify, scratch_db)
    assert intact.returncode == 0, intact.stderr
    assert "6 events verified" in intact.stdout
    await as_attacker(scratch_db, tamper)
    broken = await asyncio.to_thread(run_verify, scratch_db)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout
    assert expected in broken.stdout


async def test_verify_reports_every_break(scratch_db: str) -> None:
    await write_events(scratch_db, 9)
    await as_attacker(
        scratch_db,
        "UPDATE audit_events SET actor_label = 'x' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq IN (5, 6)",
        "UPDATE audit_events SET after = '{}' WHERE seq = 8",
    )
    broken = await asyncio.to_thread(run_verify, scratch_db)
    assert broken.returncode == 1
    assert "3 break(s)" in broken.stdout
    lines = [line for line in broken.stdout.splitlines() if line.startswith("  - ")]
    assert [line.split(":")[0] for line in lines] == ["  - event 2", "  - events 5–6", "  - event 8"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor_label = 'me' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
        "TRUNCATE audit_events",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET hash = 'x'",
    ],
)
async def test_the_audit_trail_is_append_only(scratch_db: str, statement: str) -> None:
    await write_events(scratch_db, 2)
    conn = await connect(scratch_db)
    try:
        await conn.execute(
            "INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, public_key, signature)"
            " VALUES (2, 'h', now(), 'k', 'p', 's')"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_events") == 2
    finally:
        await conn.close()


def checkpoint_settings(url: str, checkpoint_file: Path | None = None) -> Settings:
    return Settings(
        database_url=url,
        data_keys=parse_data_keys("test", f"t:{base64.b64encode(b'k' * 32).decode()}"),
        audit_signing_key=SigningKey("t1", SIGNING_SEED),
        audit_checkpoint_file=str(checkpoint_file or ""),
    )


async def test_checkpoint_command_signs_the_head_and_sends_it_out(scratch_db: str, tmp_path: Path) -> None:
    await write_events(scratch_db, 3)
    conn = await connect(scratch_db)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO users (email, name, role, locale) VALUES"
                " ('aud@example.com', '审计 孙', 'auditor', 'zh-CN'),"
                " ('aud2@example.com', 'Eve', 'auditor', 'en'), ('adm@example.com', 'A', 'admin', 'en')"
            )
        hook = await conn.fetchval(
            "INSERT INTO webhooks (url, events, secret)"
            " VALUES ('https://example.com/h', '{audit.checkpoint}', 's') RETURNING id"
        )
    finally:
        await conn.close()
    file = tmp_path / "checkpoints.jsonl"
    made = await asyncio.to_thread(
        cli,
        scratch_db,
        "audit",
        "checkpoint",
        VENDOR_RISK_AUDIT_SIGNING_KEY=SIGNING_KEY,
        VENDOR_RISK_AUDIT_CHECKPOINT_FILE=str(file),
    )
    assert made.returncode == 0, made.stderr
    printed = json.loads(made.stdout)
    assert printed["seq"] == 3
    [line] = file.read_text().splitlines()
    assert json.loads(line) == printed
    conn = await connect(scratch_db)
    try:
        head = await conn.fetchval("SELECT hash FROM audit_events WHERE seq = 3")
        assert printed["hash"] == head
        emails = await conn.fetch(
            "SELECT payload FROM outbox WHERE topic = 'audit.checkpoint' AND channel = 'email'"
            " ORDER BY payload ->> 'to'"
        )
        assert [e["payload"]["to"] for e in emails] == ["aud2@example.com", "aud@example.com"]
        assert emails[1]["payload"]["subject"] == "审计日志检查点：截至事件 3"
        assert emails[0]["payload"]["subject"] == "Audit trail checkpoint: up to event 3"
        event = await conn.fetchrow("SELECT payload FROM outbox WHERE webhook_id = $1", hook)
        assert event["payload"]["type"] == "audit.checkpoint"
        assert event["payload"]["data"]["signature"] == printed["signature"]
    finally:
        await conn.close()
    # Without a signing key the command says which setting is missing.
    refused = await asyncio.to_thread(cli, scratch_db, "audit", "checkpoint")
    assert refused.returncode == 2
    assert "VENDOR_RISK_AUDIT_SIGNING_KEY" in refused.stderr


async def take_checkpoint(url: str, file: Path) -> None:
    conn = await connect(url)
    try:
        await create_checkpoint(conn, checkpoint_settings(url, file))
    finally:
        await conn.close()


async def rehash_from(url: str, seq: int) -> None:
    """Alter event ``seq`` and recompute every hash after it, as a careful attacker would."""
    conn = await connect(url)
    try:
        rows = await conn.fetch("SELECT * FROM audit_events WHERE seq >= $1 ORDER BY seq", seq)
        prev = await conn.fetchval("SELECT hash FROM audit_events WHERE seq = $1", seq - 1)
    finally:
        await conn.close()

    statements = []
    for row in rows:
        after = '{"i": -1}' if row["seq"] == seq else msgspec.json.encode(row["after"]).decode()
        reread = await _jsonb_text(url, after)
        event = ChainedEvent(
            seq=row["seq"],
            id=str(row["id"]),
            occurred_at=row["occurred_at"],
            actor_id=None,
            actor_label=row["actor_label"],
            action=row["action"],
            entity_type=row["entity_type"],
            entity_id=row["entity_id"],
            before=None,
            after=reread,
        )
        new = link(prev, event)
        statements.append(
            f"UPDATE audit_events SET after = '{reread}', prev_hash = '{prev}', hash = '{new}'"
            f" WHERE seq = {row['seq']}"
        )
        prev = new
    # The hashes are unique: drop them out of the way first.
    await as_attacker(url, "UPDATE audit_events SET hash = 'x' || seq WHERE seq >= " + str(seq), *statements)


async def _jsonb_text(url: str, text: str) -> str:
    conn = await connect(url)
    try:
        stored: str = await conn.fetchval("SELECT $1::text::jsonb::text", text)
        return stored
    finally:
        await conn.close()


async def test_checkpoints_catch_a_deleted_tail(scratch_db: str, tmp_path: Path) -> None:
    file = tmp_path / "cp.jsonl"
    await write_events(scratch_db, 8)
    await take_checkpoint(scratch_db, file)
    await as_attacker(scratch_db, "DELETE FROM audit_events WHERE seq > 6", "DELETE FROM audit_checkpoints")
    # Without the checkpoints a deleted tail cannot be seen; with the file it is named.
    assert (await asyncio.to_thread(run_verify, scratch_db)).returncode == 0
    broken = await asyncio.to_thread(
        cli,
        scratch_db,
        "audit",
        "verify",
        "--checkpoints",
        str(file),
        VENDOR_RISK_AUDIT_SIGNING_KEY=SIGNING_KEY,
    )
    assert broken.returncode == 1
    assert "events 7–8: missing" in broken.stdout
    assert "deleted tail" in broken.stdout


async def test_checkpoints_catch_an_update_and_a_rehashed_chain(scratch_db: str, tmp_path: Path) -> None:
    file = tmp_path / "cp.jsonl"
    await write_events(scratch_db, 4)
    await take_checkpoint(scratch_db, file)
    await write_events(scratch_db, 4)
    await take_checkpoint(scratch_db, file)
    intact = await asyncio.to_thread(
        cli,
        scratch_db,
        "audit",
        "verify",
        "--checkpoints",
        str(file),
        VENDOR_RISK_AUDIT_SIGNING_KEY=SIGNING_KEY,
    )
    assert intact.returncode == 0, intact.stdout
    # The stored and the filed copies of the two checkpoints count once each.
    assert "8 events verified, 2 checkpoint(s) matched" in intact.stdout

    await rehash_from(scratch_db, 6)
    await as_attacker(scratch_db, "DELETE FROM audit_checkpoints")
    # Re-hashed, and with the stored checkpoints gone, the chain is consistent in itself …
    assert (await asyncio.to_thread(run_verify, scratch_db)).returncode == 0
    broken = await asyncio.to_thread(
        cli,
        scratch_db,
        "audit",
        "verify",
        "--checkpoints",
        str(file),
        VENDOR_RISK_AUDIT_SIGNING_KEY=SIGNING_KEY,
    )
    # … but not with the checkpoint signed at event 8: the rewrite lies in events 5–8.
    assert broken.returncode == 1
    assert "events 5–8: rewritten and re-hashed" in broken.stdout


async def test_a_failed_scheduled_verify_is_recorded_and_told(scratch_db: str) -> None:
    await write_events(scratch_db, 3)
    conn = await connect(scratch_db)
    try:
        await conn.execute(
            "INSERT INTO users (email, name, role, locale)"
            " VALUES ('boss@example.com', '管理员', 'admin', 'zh-CN')"
        )
        hook = await conn.fetchval(
            "INSERT INTO webhooks (url, events, secret)"
            " VALUES ('https://example.com/h', '{*}', 's') RETURNING id"
        )
    finally:
        await conn.close()
    settings = checkpoint_settings(scratch_db)
    pool = await create_pool(scratch_db, 1, 2)
    try:
        _, report = await run_scheduled_verify(pool, settings)
        assert report.ok
        async with pool.acquire() as conn:
            assert await latest_verify_failure(conn) is None
        await as_attacker(scratch_db, "UPDATE audit_events SET actor_label = 'x' WHERE seq = 2")
        run_id, report = await run_scheduled_verify(pool, settings)
        assert not report.ok
        async with pool.acquire() as conn:
            failure = await latest_verify_failure(conn)
            assert failure is not None
            assert failure.run_id == run_id
            assert [(b.seq, b.code) for b in failure.breaks] == [(2, "altered")]
            [email] = await conn.fetch(
                "SELECT payload FROM outbox WHERE topic = 'audit.verify_failed' AND channel = 'email'"
            )
            assert email["payload"]["to"] == "boss@example.com"
            assert email["payload"]["subject"] == "【紧急】审计日志核验失败：发现 1 处异常"
            event = await conn.fetchrow("SELECT payload FROM outbox WHERE webhook_id = $1", hook)
            assert event["payload"]["type"] == "audit.verify_failed"
            assert event["payload"]["data"]["breaks"][0]["seq"] == 2
    finally:
        await pool.close()


async def test_the_hourly_checkpoint_signs_only_a_head_that_moved(scratch_db: str) -> None:
    from vendor_risk.worker import checkpoint_audit_chain

    await write_events(scratch_db, 3)
    pool = await create_pool(scratch_db, 1, 2)
    try:
        ctx: dict[str, Any] = {"db_pool": pool, "settings": checkpoint_settings(scratch_db)}
        assert await checkpoint_audit_chain(ctx) == 3
        assert await checkpoint_audit_chain(ctx) is None  # nothing new: no email saying so
        await write_events(scratch_db, 1)
        assert await checkpoint_audit_chain(ctx) == 4
        assert await pool.fetchval("SELECT array_agg(seq ORDER BY seq) FROM audit_checkpoints") == [3, 4]
        unsigned = {"db_pool": pool, "settings": Settings(database_url=scratch_db)}
        await write_events(scratch_db, 1)
        assert await checkpoint_audit_chain(unsigned) is None
    finally:
        await pool.close()


async def test_verify_streams_a_long_chain_in_constant_memory(scratch_db: str) -> None:

    count = 20_000
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = []
    prev = GENESIS
    for seq in range(1, count + 1):
        # As PostgreSQL prints jsonb: shorter keys first.
        after = f'{{"seq": {seq}, "note": "' + "x" * 300 + '"}'
        event = ChainedEvent(
            seq=seq,
            id=str(uuid4()),
            occurred_at=start + timedelta(seconds=seq),
            actor_id=None,
            actor_label="bulk",
            action="thing.changed",
            entity_type="thing",
            entity_id=str(seq),
            before=None,
            after=after,
        )
        hash_ = link(prev, event)
        records.append(
            (
                seq,
                UUID(event.id),
                event.occurred_at,
                "bulk",
                "thing.changed",
                "thing",
                str(seq),
                after,
                prev,
                hash_,
                2,
            )
        )
        prev = hash_
    # A bare connection: jsonb goes in as the text given, exactly as hashed.
    conn = await asyncpg.connect(scratch_db)
    try:
        await conn.copy_records_to_table(
            "audit_events",
            records=records,
            columns=[
                "seq",
                "id",
                "occurred_at",
                "actor_label",
                "action",
                "entity_type",
                "entity_id",
                "after",
                "prev_hash",
                "hash",
                "hash_scheme",
            ],
        )
        del records
        tracemalloc.start()
        report = await verify_report(conn, batch=500)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await conn.close()
    assert report.ok
    assert report.events_checked == count
    # The chain's stored text alone is over 6 MB; verify holds one batch of it at a time.
    assert peak < 3 * 2**20, peak
