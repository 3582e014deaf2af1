"""Backup and restore with PostgreSQL's own tools, checked on the way back.

A backup is one tar file holding ``database.dump`` (``pg_dump --format=custom``) and
``manifest.json``: when it was taken, the audit chain's head, the latest migration and
the ids of the data keys its documents and secrets need. The keys themselves are never in
a backup: they are backed up separately, or the backup is useless (and safe when stolen).

``restore`` refuses a database that has tables and a configuration that lacks a needed
key, runs ``pg_restore``, then verifies the audit chain up to the manifest's head and
opens a sample of the documents, outbox payloads and webhook secrets.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec

from vendor_risk.audit.chain import GENESIS, Checkpoint
from vendor_risk.audit.service import verify_report
from vendor_risk.documents import DOCUMENT, OUTBOX_PAYLOAD, WEBHOOK_SECRET, unseal
from vendor_risk.keys import keys_in_use
from vendor_risk.settings import DataKey

MANIFEST = "manifest.json"
DUMP = "database.dump"
FORMAT = 1
SAMPLE = 50


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message says why."""


class AuditHead(msgspec.Struct, frozen=True):
    seq: int
    hash: str


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    created_at: datetime
    audit_head: AuditHead
    migration: int | None
    # Data key ids the stored values need (with how many values each); their keys must be
    # configured for a restore.
    key_ids: dict[str, int]
    documents: int


class RestoreReport(msgspec.Struct, kw_only=True):
    manifest: Manifest
    events_checked: int
    chain_ok: bool
    problems: list[str]
    sampled: int


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client of the server's version")
    return path


async def _run(*args: str) -> None:
    result = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip() or result.returncode}")


async def manifest_of(conn: asyncpg.Connection) -> Manifest:
    head = await conn.fetchrow("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    return Manifest(
        format=FORMAT,
        created_at=datetime.now(UTC),
        audit_head=AuditHead(head["seq"], head["hash"]) if head else AuditHead(0, GENESIS),
        migration=await conn.fetchval("SELECT max(version) FROM schema_migrations"),
        key_ids=await keys_in_use(conn),
        documents=await conn.fetchval("SELECT count(*) FROM documents"),
    )


async def backup(database_url: str, target: Path) -> Manifest:
    """Write a backup of ``database_url`` to ``target`` (a tar file); returns its manifest.

    The manifest is read in the same snapshot as the dump (``pg_dump --snapshot``), so the
    head it names is exactly the dump's.
    """
    pg_dump = _tool("pg_dump")
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot: str = await conn.fetchval("SELECT pg_export_snapshot()")
            manifest = await manifest_of(conn)
            with tempfile.TemporaryDirectory() as tmp:
                dump = Path(tmp) / DUMP
                await _run(
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    f"--file={dump}",
                    f"--dbname={database_url}",
                )
                partial = target.with_name(target.name + ".partial")
                with tarfile.open(partial, "w") as archive:
                    data = msgspec.json.encode(manifest)
                    info = tarfile.TarInfo(MANIFEST)
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
                    archive.add(dump, arcname=DUMP)
                partial.replace(target)
    finally:
        await conn.close()
    return manifest


def read_manifest(source: Path) -> Manifest:
    try:
        with tarfile.open(source, "r") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return msgspec.json.decode(member.read(), type=Manifest)
    except (OSError, tarfile.TarError, KeyError, msgspec.DecodeError) as exc:
        raise BackupError(f"{source} is not a vendor-risk backup ({exc})") from None


async def _sample_opens(conn: asyncpg.Connection, keys: tuple[DataKey, ...]) -> tuple[int, list[str]]:
    problems: list[str] = []
    sampled = 0
    checks = [
        ("SELECT id, key_id, nonce, ciphertext AS data FROM documents ORDER BY random() LIMIT $1", DOCUMENT),
        (
            "SELECT id, key_id, nonce, sealed AS data FROM outbox WHERE sealed IS NOT NULL"
            " ORDER BY random() LIMIT $1",
            OUTBOX_PAYLOAD,
        ),
        (
            "SELECT id, secret_key_id AS key_id, secret_nonce AS nonce, secret_sealed AS data FROM webhooks"
            " WHERE secret_sealed IS NOT NULL ORDER BY random() LIMIT $1",
            WEBHOOK_SECRET,
        ),
    ]
    for query, kind in checks:
        for row in await conn.fetch(query, SAMPLE):
            sampled += 1
            try:
                unseal(keys, row["key_id"], kind, row["id"], row["nonce"], row["data"])
            except RuntimeError as exc:
                problems.append(str(exc))
    return sampled, problems


async def restore(
    source: Path,
    database_url: str,
    keys: tuple[DataKey, ...],
    checkpoints: list[Checkpoint] | None = None,
) -> RestoreReport:
    """Restore ``source`` into the empty database ``database_url`` and check it."""
    manifest = read_manifest(source)
    missing = sorted(set(manifest.key_ids) - {k.key_id for k in keys})
    if missing:
        raise BackupError(
            f"the backup needs data key(s) {', '.join(missing)}, which VENDOR_RISK_DATA_KEYS lacks: "
            "restore the keys from their own backup first"
        )
    pg_restore = _tool("pg_restore")
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        if tables:
            raise BackupError("the target database is not empty: restore only into a new, empty database")
    finally:
        await conn.close()
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r") as archive:
        archive.extract(DUMP, tmp, filter="data")
        await _run(
            pg_restore,
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={database_url}",
            str(Path(tmp) / DUMP),
        )
    from vendor_risk.db import connect

    conn = await connect(database_url)
    try:
        report = await verify_report(conn, checkpoints or [])
        problems = [b.describe() for b in report.breaks]
        if report.head_seq != manifest.audit_head.seq:
            problems.append(
                f"the audit head is event {report.head_seq}, the manifest says {manifest.audit_head.seq}"
            )
        else:
            head = await conn.fetchval("SELECT hash FROM audit_events WHERE seq = $1", report.head_seq)
            if (head or GENESIS) != manifest.audit_head.hash:
                problems.append("the audit head's hash differs from the manifest's")
        sampled, unopened = await _sample_opens(conn, keys)
        problems.extend(unopened)
    finally:
        await conn.close()
    return RestoreReport(
        manifest=manifest,
        events_checked=report.events_checked,
        chain_ok=report.ok,
        problems=problems,
        sampled=sampled,
    )
