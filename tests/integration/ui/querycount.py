"""Counting the SQL statements a page runs: every ``execute``, ``executemany`` and ``fetch*``
of any asyncpg connection in this process (pooled ones included, through their proxy), while
the block runs. A page whose count grows with its rows runs a query per row (N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

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
