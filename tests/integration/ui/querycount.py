"""Count the SQL statements the app runs while a block runs, so a test can assert that a
page runs a fixed small number of queries whatever the number of rows (no query per row):

    with count_queries() as counted:
        await browser.get("/ui/partners")
    assert counted.queries <= 2, counted.statements

``asyncpg.Connection``'s query methods are wrapped for the block, so every connection
counts (pooled or not, whichever client drives the app), including those the pool opens
during it. A transaction's BEGIN and COMMIT go through ``execute`` and count too: they are
round trips.
"""

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
    counted = Count()
    originals = {name: getattr(asyncpg.Connection, name) for name in _METHODS}

    def counting(original: Any) -> Any:
        def run(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            counted.queries += 1
            counted.statements.append(" ".join(str(query).split())[:120])
            return original(self, query, *args, **kwargs)

        return run

    for name, original in originals.items():
        setattr(asyncpg.Connection, name, counting(original))
    try:
        yield counted
    finally:
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, original)
