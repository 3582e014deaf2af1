"""Count the SQL statements the app runs while a block runs: a page runs a fixed small
number of queries whatever the number of rows (no query per row).

``asyncpg.Connection``'s query methods are wrapped for the block, so every connection
counts, including those the pool opens during it; transaction control (BEGIN, COMMIT,
SAVEPOINT…) is not a query of the page and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

_METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")
_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION)\b", re.IGNORECASE)


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """``with counting_queries() as queries:`` … ``len(queries)``: the statements run."""
    seen: list[str] = []
    originals = {name: getattr(asyncpg.Connection, name) for name in _METHODS}

    def counted(original: Any) -> Any:
        def run(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            if not _CONTROL.match(query):
                seen.append(query)
            return original(self, query, *args, **kwargs)

        return run

    for name, original in originals.items():
        setattr(asyncpg.Connection, name, counted(original))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, original)
