"""Count the SQL statements a request runs: ``async with counting_queries(app) as count:``.

The app's pool is swapped for a thin proxy whose connections count each ``execute``,
``executemany``, ``fetch``, ``fetchrow`` and ``fetchval`` before handing it to asyncpg, so a
test can assert that a page runs a fixed number of queries whatever the number of rows (no
N+1). Statements inside a transaction count one by one; the transaction's own BEGIN and
COMMIT do not. The real pool is put back on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from asyncpg.connection import _ConnectionProxy
from litestar import Litestar

COUNTED = frozenset({"execute", "executemany", "fetch", "fetchrow", "fetchval"})


class QueryCount:
    def __init__(self) -> None:
        self.n = 0
        self.statements: list[str] = []

    def reset(self) -> None:
        self.n = 0
        self.statements = []


# asyncpg counts its own proxies as connections (isinstance), which the handlers'
# ``db: asyncpg.Connection`` dependency checks.
class _Connection(_ConnectionProxy):
    def __init__(self, conn: Any, count: QueryCount) -> None:
        self._conn = conn
        self._count = count

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if name not in COUNTED:
            return attr

        def counted(query: str, *args: Any, **kwargs: Any) -> Any:
            self._count.n += 1
            self._count.statements.append(" ".join(str(query).split())[:120])
            return attr(query, *args, **kwargs)

        return counted


class _Acquire:
    def __init__(self, pool: _Pool) -> None:
        self._pool = pool
        self._conn: _Connection | None = None

    async def _get(self) -> _Connection:
        return _Connection(await self._pool.real.acquire(), self._pool.count)

    def __await__(self) -> Generator[Any, None, _Connection]:
        return self._get().__await__()

    async def __aenter__(self) -> _Connection:
        self._conn = await self._get()
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        await self._pool.release(self._conn)


class _Pool:
    def __init__(self, real: Any, count: QueryCount) -> None:
        self.real = real
        self.count = count

    def acquire(self, *args: Any, **kwargs: Any) -> _Acquire:
        return _Acquire(self)

    async def release(self, conn: Any, *args: Any, **kwargs: Any) -> None:
        await self.real.release(conn._conn if isinstance(conn, _Connection) else conn, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@asynccontextmanager
async def counting_queries(app: Litestar) -> AsyncIterator[QueryCount]:
    count = QueryCount()
    real = app.state.db_pool
    app.state.db_pool = _Pool(real, count)
    try:
        yield count
    finally:
        app.state.db_pool = real


# Process-wide counting (every asyncpg connection, pooled or not): for tests that drive the
# app through the shared test client, whose app they do not hold.
_METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")


class Count:
    def __init__(self) -> None:
        self.queries = 0
        self.statements: list[str] = []


@contextmanager
def count_queries() -> Iterator[Count]:
    """``with count_queries() as counted: await browser.get(...)`` then ``counted.queries``."""
    counted = Count()
    originals = {name: getattr(asyncpg.Connection, name) for name in _METHODS}

    def counting(name: str) -> Any:
        original = originals[name]

        def run(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            counted.queries += 1
            counted.statements.append(" ".join(str(query).split())[:120])
            return original(self, query, *args, **kwargs)

        return run

    for name in _METHODS:
        setattr(asyncpg.Connection, name, counting(name))
    try:
        yield counted
    finally:
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, original)
