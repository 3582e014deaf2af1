"""Signed checkpoints of the audit chain's head, and the scheduled verify.

A checkpoint says "the chain's head was event ``seq`` with ``hash`` at ``signed_at``",
signed with the Ed25519 key of ``VENDOR_RISK_AUDIT_SIGNING_KEY``. Its copies leave the
database (an email to every auditor, the ``audit.checkpoint`` webhook event, a line in
``VENDOR_RISK_AUDIT_CHECKPOINT_FILE``), so someone who can write the database, and so
rewrite and re-hash the chain, cannot make the copies agree with the rewrite. Verify
compares the chain with every checkpoint it is given: an altered, re-hashed or deleted
event at or before a checkpoint is caught and its range named.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec
import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vendor_risk.audit import notices
from vendor_risk.audit.chain import GENESIS, ChainBreak, Checkpoint, checkpoint_message
from vendor_risk.audit.service import VerifyReport, verify_report
from vendor_risk.notify.outbox import emit_event, enqueue_email
from vendor_risk.settings import PREFIX, Settings, SigningKey

log = structlog.get_logger("vendor_risk.audit")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be made or read (no key, a malformed file); the message says why."""


def public_key(key: SigningKey) -> str:
    """The base64 raw public key that verifies ``key``'s signatures."""
    raw = Ed25519PrivateKey.from_private_bytes(key.seed).public_key().public_bytes_raw()
    return base64.b64encode(raw).decode()


def sign(key: SigningKey, seq: int, hash_: str, signed_at: datetime) -> Checkpoint:
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    signature = private.sign(checkpoint_message(seq, hash_, signed_at, key.key_id))
    return Checkpoint(
        seq=seq,
        hash=hash_,
        signed_at=signed_at,
        key_id=key.key_id,
        public_key=public_key(key),
        signature=base64.b64encode(signature).decode(),
    )


def signature_valid(checkpoint: Checkpoint, public_key_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(
            base64.b64decode(checkpoint.signature),
            checkpoint_message(checkpoint.seq, checkpoint.hash, checkpoint.signed_at, checkpoint.key_id),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def trusted_keys(settings: Settings, extra: Iterable[str] = ()) -> set[str]:
    """The public keys whose checkpoints are believed: the configured one and ``extra``
    (keys retired from the settings, given on the command line)."""
    keys = set(extra)
    if settings.audit_signing_key is not None:
        keys.add(public_key(settings.audit_signing_key))
    return keys


def screen(checkpoints: Iterable[Checkpoint], keys: set[str]) -> tuple[list[Checkpoint], list[ChainBreak]]:
    """Split checkpoints into those properly signed by a trusted key and the breaks that
    the others are (a forged checkpoint is itself evidence of tampering).

    With no trusted key at all, each checkpoint is checked against the key it carries,
    which proves it intact but not who signed it.
    """
    good: dict[tuple[int, str, str], Checkpoint] = {}
    bad: list[ChainBreak] = []
    for cp in checkpoints:
        signer = cp.public_key if not keys else (cp.public_key if cp.public_key in keys else None)
        if signer is None or not signature_valid(cp, signer):
            bad.append(
                ChainBreak(
                    cp.seq,
                    "forged_checkpoint",
                    f"the checkpoint signed at {_iso(cp.signed_at)} has no valid signature by a trusted key",
                )
            )
        else:
            good[(cp.seq, cp.hash, cp.signature)] = cp
    return list(good.values()), bad


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """Checkpoints from a JSON-lines file (as appended by the service or saved from the
    emails); a malformed line is an error naming its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from None
    found: list[Checkpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            found.append(msgspec.json.decode(line, type=Checkpoint))
        except msgspec.DecodeError as exc:
            raise CheckpointError(f"{path}:{number}: not a checkpoint ({exc})") from None
    return found


async def stored_checkpoints(conn: asyncpg.Connection) -> list[Checkpoint]:
    rows = await conn.fetch(
        "SELECT seq, hash, signed_at, key_id, public_key, signature FROM audit_checkpoints ORDER BY seq"
    )
    return [Checkpoint(**dict(r)) for r in rows]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _append(path: str, checkpoint: Checkpoint) -> None:
    # One write of one line with O_APPEND: concurrent writers never interleave a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, msgspec.json.encode(checkpoint) + b"\n")
    finally:
        os.close(fd)


async def _active_users(conn: asyncpg.Connection, role: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT email, locale FROM users WHERE role = $1 AND disabled_at IS NULL ORDER BY email", role
    )
    return rows


async def create_checkpoint(
    conn: asyncpg.Connection, settings: Settings, *, only_if_moved: bool = False
) -> Checkpoint | None:
    """Sign the chain's head and send it out: stored, emailed to every active auditor,
    emitted as ``audit.checkpoint`` and appended to the checkpoint file when configured.

    With ``only_if_moved`` (the hourly run) nothing is made when the head is the one the
    last checkpoint signed: auditors get no hourly email saying nothing happened.
    """
    key = settings.audit_signing_key
    if key is None:
        raise CheckpointError(f"{PREFIX}AUDIT_SIGNING_KEY is not set: checkpoints cannot be signed")
    async with conn.transaction():
        head = await conn.fetchrow("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        seq, hash_ = (0, GENESIS) if head is None else (head["seq"], head["hash"])
        if only_if_moved:
            last = await conn.fetchval("SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
            if last is not None and last >= seq:
                return None
        checkpoint = sign(key, seq, hash_, datetime.now(UTC))
        await conn.execute(
            """
            INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, public_key, signature)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            checkpoint.seq,
            checkpoint.hash,
            checkpoint.signed_at,
            checkpoint.key_id,
            checkpoint.public_key,
            checkpoint.signature,
        )
        auditors = await _active_users(conn, "auditor")
        for auditor in auditors:
            await enqueue_email(
                conn,
                topic="audit.checkpoint",
                email=notices.checkpoint_email(auditor["email"], auditor["locale"], checkpoint),
            )
        await emit_event(conn, "audit.checkpoint", checkpoint)
    if settings.audit_checkpoint_file:
        _append(settings.audit_checkpoint_file, checkpoint)
    return checkpoint


async def gather_checkpoints(
    conn: asyncpg.Connection,
    settings: Settings,
    files: Sequence[Path] = (),
    extra_keys: Iterable[str] = (),
) -> tuple[list[Checkpoint], list[ChainBreak]]:
    """Every checkpoint verify should compare with: the stored ones, the configured file's
    (when it exists) and ``files``; screened for their signatures."""
    found = await stored_checkpoints(conn)
    paths = list(files)
    configured = Path(settings.audit_checkpoint_file) if settings.audit_checkpoint_file else None
    if configured is not None and configured.exists() and configured not in paths:
        paths.append(configured)
    for path in paths:
        found.extend(read_checkpoint_file(path))
    return screen(found, trusted_keys(settings, extra_keys))


async def verify_with_checkpoints(
    conn: asyncpg.Connection,
    settings: Settings,
    files: Sequence[Path] = (),
    extra_keys: Iterable[str] = (),
) -> VerifyReport:
    """The whole chain checked against every trusted checkpoint; forged ones are breaks."""
    checkpoints, forged = await gather_checkpoints(conn, settings, files, extra_keys)
    report = await verify_report(conn, checkpoints)
    if forged:
        report.breaks = sorted([*forged, *report.breaks], key=lambda b: b.seq)
        report.break_count += len(forged)
    return report


class VerifyFailure(msgspec.Struct, frozen=True, kw_only=True):
    """The latest scheduled verify, when it failed: what the dashboard shows."""

    run_id: int
    finished_at: datetime
    events_checked: int
    break_count: int
    breaks: list[ChainBreak]


async def run_scheduled_verify(pool: asyncpg.Pool, settings: Settings) -> tuple[int, VerifyReport]:
    """Verify the chain, record the run and, when it failed, tell every active admin by
    email and subscribers by the ``audit.verify_failed`` webhook event; returns the run id."""
    started = datetime.now(UTC)
    async with pool.acquire() as conn:
        report = await verify_with_checkpoints(conn, settings)
        async with conn.transaction():
            run_id: int = await conn.fetchval(
                """
                INSERT INTO audit_verify_runs (started_at, events_checked, checkpoints_checked, ok,
                                               break_count, breaks)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                """,
                started,
                report.events_checked,
                report.checkpoints_checked,
                report.ok,
                report.break_count,
                msgspec.to_builtins(report.breaks[:50]),
            )
            if not report.ok:
                facts = {
                    "run_id": run_id,
                    "events_checked": report.events_checked,
                    "break_count": report.break_count,
                    "breaks": msgspec.to_builtins(report.breaks[:50]),
                }
                await emit_event(
                    conn, "audit.verify_failed", facts, dedupe_key=f"audit-verify-failed:{run_id}"
                )
                admins = await _active_users(conn, "admin")
                for admin in admins:
                    await enqueue_email(
                        conn,
                        topic="audit.verify_failed",
                        email=notices.verify_failed_email(admin["email"], admin["locale"], report),
                        dedupe_key=f"audit-verify-failed:{run_id}:{admin['email']}",
                    )
    if report.ok:
        log.info("audit chain intact", checked=report.events_checked, checkpoints=report.checkpoints_checked)
    else:
        log.error(
            "audit chain broken",
            checked=report.events_checked,
            breaks=[b.describe() for b in report.breaks[:10]],
            break_count=report.break_count,
        )
    return run_id, report


async def latest_verify_failure(conn: asyncpg.Connection) -> VerifyFailure | None:
    """The latest scheduled verify if it failed, else ``None`` (also before any run).

    A chain cannot be repaired (it is append-only), so a failure normally stays the
    latest run's outcome until someone investigates and the chain is rebuilt elsewhere.
    """
    row = await conn.fetchrow(
        """
        SELECT id, finished_at, events_checked, break_count, breaks, ok
        FROM audit_verify_runs ORDER BY finished_at DESC, id DESC LIMIT 1
        """
    )
    if row is None or row["ok"]:
        return None
    return VerifyFailure(
        run_id=row["id"],
        finished_at=row["finished_at"],
        events_checked=row["events_checked"],
        break_count=row["break_count"],
        breaks=msgspec.convert(row["breaks"], list[ChainBreak]),
    )
