"""PostgreSQL access: the pool, JSON codecs and the migration runner."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec
from litestar import Request
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from vendor_risk.audit.service import AppendAtCommit
from vendor_risk.errors import DatabaseUnavailable
from vendor_risk.paths import content_dir

# At run time: Litestar reads provide_db_connection's hints.
from vendor_risk.settings import Settings

if TYPE_CHECKING:
    from vendor_risk.settings import DataKey

MIGRATIONS_DIR = content_dir("migrations")
MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every process of the service.
MIGRATION_LOCK_ID = 0x76656E646F72

# Handlers declare `db: DbConnection` to receive the request's pooled connection. The
# signature model does not check it: provide_db_connection only ever yields one, and
# asyncpg's isinstance check (a Python metaclass hook, for pool proxies) ran per request.
DbConnection = NamedDependency[SkipValidation[asyncpg.Connection]]

_json_encoder = msgspec.json.Encoder()


def _encode_json(value: Any) -> str:
    return _json_encoder.encode(value).decode()


class Connection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's connection, carrying the data keys that seal outbox payloads and secrets
    (see ``vendor_risk.documents.seal``), so that services deep in a domain seal what they
    write without every caller passing the keys along.

    Its transactions append the audit events recorded in them when they commit
    (``vendor_risk.audit.service.AppendAtCommit``), so the audit chain's lock is held for
    the append and the commit only."""

    __slots__ = ("data_keys",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_keys: tuple[DataKey, ...] = ()

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False, deferrable: bool = False
    ) -> AppendAtCommit:
        self._check_open()
        return AppendAtCommit(self, isolation, readonly, deferrable)


def data_keys_of(conn: asyncpg.Connection) -> tuple[DataKey, ...]:
    """The data keys a connection (or a pool's proxy of one) carries; none for a plain one."""
    keys: tuple[DataKey, ...] = getattr(conn, "data_keys", ())
    return keys


async def init_connection(conn: asyncpg.Connection) -> None:
    """Teach a fresh connection to read and write json/jsonb with msgspec."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=msgspec.json.decode, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without the default RESET ALL / UNLISTEN * round trip.

    Pooled connections never carry session state (no SET, LISTEN, cursors or session-level
    advisory locks; use SET LOCAL and pg_advisory_xact_lock), and asyncpg still rolls back
    a transaction left open. Skipping the reset saves a round trip on every request.
    """


# Sent once when a connection opens. No JIT: our statements run in milliseconds, or in
# well under a second for the sweeps over 100k partners, and their estimated costs still
# pass PostgreSQL's JIT thresholds, which then compiled for 0.15–2 s before running the
# reassessment sweep's candidate statement (0.3 s) at 100k partners, and a third of a
# second before an export's cursor, whose cost is reading rows, not evaluating expressions.
SERVER_SETTINGS = {"jit": "off"}


async def create_pool(
    dsn: str, min_size: int = 2, max_size: int = 10, *, data_keys: tuple[DataKey, ...] = ()
) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await init_connection(conn)
        conn.data_keys = data_keys

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        connection_class=Connection,
        init=init,
        reset=_keep_session,
        command_timeout=60,
        # Connecting to an unreachable host fails in seconds, not asyncpg's default minute.
        timeout=10,
        server_settings=SERVER_SETTINGS,
    )
    assert pool is not None  # noqa: S101 - create_pool returns None only when awaited lazily
    return pool


async def connect(dsn: str, *, data_keys: tuple[DataKey, ...] = ()) -> asyncpg.Connection:
    conn: Connection = await asyncpg.connect(
        dsn, connection_class=Connection, server_settings=SERVER_SETTINGS
    )
    await init_connection(conn)
    conn.data_keys = data_keys
    return conn


# A request waits this long for a connection before it is a 503 (database-unavailable).
ACQUIRE_TIMEOUT = 10.0


async def provide_db_connection(
    request: Request[Any, Any, Any], settings: Settings
) -> AsyncIterator[asyncpg.Connection]:
    """Lend a pooled connection to one request; services open transactions on it.

    ``settings`` is unused here, but depending on it puts the two app dependencies in
    successive batches: Litestar resolves a batch of several at once with an anyio task
    group, which a handler taking both ``db`` and ``settings`` would pay on every request.
    The pool is read from the request's app, not from a ``State`` argument, which Litestar
    would build afresh for every request.
    """
    del settings
    pool: asyncpg.Pool = request.app.state.db_pool
    try:
        # Not acquire(timeout=...): asyncpg wraps that in wait_for and applies it to the
        # release too, two timers per request where one bounds the wait.
        async with asyncio.timeout(ACQUIRE_TIMEOUT):
            conn = await pool.acquire()
    except TimeoutError:
        raise DatabaseUnavailable("no connection within the acquire timeout") from None
    try:
        yield conn
    finally:
        await pool.release(conn)


def database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError("no database configured (VENDOR_RISK_DATABASE_URL)")
    return settings.database_url


# --- migrations -------------------------------------------------------------------------


class MigrationError(RuntimeError):
    """The migrations on disk disagree with what the database has applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read ``NNNN_name.sql`` files in order; a misnamed or duplicate file is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def check_applied(migrations: list[Migration], applied: dict[int, str]) -> list[Migration]:
    """Return the migrations still to apply, refusing an applied file that was edited."""
    on_disk = {m.version: m for m in migrations}
    for version, checksum in sorted(applied.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(f"migration {version:04d} is applied but its file is missing")
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name}.sql was edited after it was applied "
                "(checksum differs); add a new migration instead of changing an applied one"
            )
    return [m for m in migrations if m.version not in applied]


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction, under an advisory lock.

    Several processes may start at once (API replicas, workers); the lock makes the
    others wait and then find nothing to do.
    """
    migrations = discover_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        pending = check_applied(migrations, {r["version"]: r["checksum"] for r in rows})
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        return [f"{m.version:04d}_{m.name}" for m in pending]
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
