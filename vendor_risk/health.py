"""Liveness, readiness and metrics; reachable without a key."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

READY_TIMEOUT = 2.0


@get("/healthz", operation_id="Healthz", tags=["ops"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", operation_id="Readyz", tags=["ops"])
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """``ok`` (200) when PostgreSQL and Redis both answer within two seconds; ``degraded``
    (200: pages, portal and API still serve, jobs wait) when only Redis does not;
    ``unavailable`` (503) when PostgreSQL does not."""
    checks: dict[str, str] = {}
    pool: asyncpg.Pool = request.app.state.db_pool
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await request.app.state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    status = "ok" if checks["redis"] == "ok" else "degraded"
    if checks["postgres"] != "ok":
        status = "unavailable"
    return Response(
        {"status": status, **checks},
        status_code=HTTP_503_SERVICE_UNAVAILABLE if status == "unavailable" else HTTP_200_OK,
        headers={"Retry-After": "5"} if status == "unavailable" else None,
    )
