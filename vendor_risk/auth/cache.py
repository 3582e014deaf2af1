"""An in-process cache of authenticated API keys, invalidated through LISTEN/NOTIFY.

Looking a key up costs a database round trip on every request, which would make an
authenticated read cost nearly twice a bare one. Instead each process keeps the keys it
has seen and listens on a PostgreSQL channel: any change to users or keys commits a NOTIFY
(``notify_auth_changed``) and every process drops its cache within milliseconds, so a
disabled user's keys still stop working at once. If the listening connection is lost the
cache is switched off (every request queries) until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from vendor_risk.auth.models import CurrentUser

CHANNEL = "vendor_risk_auth"
# A safety net only: invalidation is by notification.
TTL_SECONDS = 60.0
MAX_ENTRIES = 10_000
RECONNECT_SECONDS = 2.0

log = structlog.get_logger("vendor_risk.auth")


async def notify_auth_changed(conn: asyncpg.Connection) -> None:
    """Call inside the transaction that changes a user or key; delivered at commit."""
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


@dataclass(slots=True)
class Entry:
    user: CurrentUser
    last_used_at: datetime | None
    expires: float


class KeyCache:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._entries: dict[bytes, Entry] = {}
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def active(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def get(self, key_hash: bytes) -> Entry | None:
        if not self.active:
            return None
        entry = self._entries.get(key_hash)
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry

    def put(self, key_hash: bytes, user: CurrentUser, last_used_at: datetime | None) -> None:
        if not self.active:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = Entry(user, last_used_at, time.monotonic() + TTL_SECONDS)

    def clear(self, *_: Any) -> None:
        self._entries.clear()

    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener(CHANNEL, self.clear)
            conn.add_termination_listener(self._lost)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("auth cache disabled: cannot listen", error=str(exc))
            self._schedule_reconnect()
            return
        # Anything may have changed while we were not listening.
        self.clear()
        self._conn = conn

    def _lost(self, _: asyncpg.Connection) -> None:
        self._conn = None
        self.clear()
        if not self._closing:
            log.warning("auth cache disabled: listening connection lost")
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        async def reconnect() -> None:
            await asyncio.sleep(RECONNECT_SECONDS)
            await self._listen()

        if not self._closing:
            self._task = asyncio.get_running_loop().create_task(reconnect())

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        self.clear()
