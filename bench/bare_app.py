"""The yardstick: a bare Litestar + asyncpg app running the same query as our read.

Served by ``bench_auth_read.py`` with ``uvicorn --factory bench.bare_app:create``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

from vendor_risk.auth.repository import USER_COLUMNS


def create() -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10)
        try:
            yield
        finally:
            await app.state.pool.close()

    @get("/users/{user_id:uuid}")
    async def read_user(user_id: UUID, state: State) -> dict[str, Any]:
        row = await state.pool.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return dict(row)

    return Litestar([read_user], lifespan=[lifespan])
