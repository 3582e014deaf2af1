import io
import json
import logging
from typing import Any

import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from vendor_risk.queue import create_arq_pool
from vendor_risk.settings import Settings

Client = AsyncTestClient[Litestar]


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}
    assert "x-request-id" in ready.headers


async def test_metrics_are_prometheus_text(client: Client, admin: dict[str, Any]) -> None:
    await client.get("/api/v1/me", headers=admin["headers"])
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "requests_total{" in metrics.text
    assert 'app_name="vendor_risk"' in metrics.text


async def test_openapi_has_bearer_scheme(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    assert "/api/v1/me" in spec["paths"]
    ui = await client.get("/schema")
    assert ui.status_code == 200


async def test_unknown_route_is_a_problem(client: Client, admin: dict[str, Any]) -> None:
    response = await client.get("/api/v1/nothing-here", headers=admin["headers"])
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_refusals_are_logged_with_their_status(client: Client) -> None:
    buffer = io.StringIO()
    previous = structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    try:
        response = await client.get("/api/v1/me")
    finally:
        structlog.configure(**previous)
    assert response.status_code == 401
    assert "x-request-id" in response.headers
    line = next(json.loads(raw) for raw in buffer.getvalue().splitlines() if '"path": "/api/v1/me"' in raw)
    assert line["status"] == 401
    assert line["request_id"] == response.headers["x-request-id"]


async def test_a_write_asks_a_worker_to_deliver_at_once(
    client: Client, admin: dict[str, Any], settings: Settings
) -> None:
    # A connection of the test's own: the app's belongs to the test client's event loop.
    redis = await create_arq_pool(settings.redis_url or "")
    try:
        await redis.delete("arq:job:deliver_outbox:kick")
        await client.get("/api/v1/me", headers=admin["headers"])
        assert not await redis.exists("arq:job:deliver_outbox:kick")
        await client.post(
            "/api/v1/users",
            json={"email": f"kick-{id(redis)}@example.com", "name": "K", "role": "auditor"},
            headers=admin["headers"],
        )
        assert await redis.exists("arq:job:deliver_outbox:kick")
    finally:
        await redis.aclose()
