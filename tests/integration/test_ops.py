import asyncio
import json
import re
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import METRICS_HEADERS
from tests.helpers import captured_app_log
from vendor_risk.app import create_app
from vendor_risk.logging import redact_path
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
    await client.get("/api/v1/me")  # a 401, counted with its status
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    metrics = await client.get("/metrics", headers=METRICS_HEADERS)
    assert metrics.status_code == 200
    assert "requests_total{" in metrics.text
    assert 'app_name="vendor_risk"' in metrics.text
    # The names and labels Litestar's PrometheusMiddleware gave, the path as its route template.
    me = 'app_name="vendor_risk",method="GET",path="/api/v1/me",status_code="200"'
    for sample in (
        f"litestar_requests_total{{{me}}}",
        f"litestar_requests_created{{{me}}}",
        f"litestar_request_duration_seconds_count{{{me}}}",
        f"litestar_request_duration_seconds_sum{{{me}}}",
        f"litestar_requests_in_progress{{{me}}}",
    ):
        assert sample in metrics.text, sample
    buckets = [
        line
        for line in metrics.text.splitlines()
        if line.startswith("litestar_request_duration_seconds_bucket{")
    ]
    assert any('path="/api/v1/me"' in line and 'le="+Inf"' in line for line in buckets), buckets
    unauthenticated = 'app_name="vendor_risk",method="GET",path="/api/v1/me",status_code="401"'
    assert f"litestar_requests_total{{{unauthenticated}}}" in metrics.text
    assert 'path="/metrics"' not in metrics.text  # scrapes are not counted


def test_every_path_carrying_a_token_is_logged_redacted(app: Litestar) -> None:
    samples = {"uuid": "0b7c7e4e-4a4b-4f7e-9a1c-2f1e0d6f3a11", "int": "1", "str": "x"}

    def example(template: str) -> str:
        return re.sub(r"\{(\w+):(\w+)\}", lambda m: "SECRET" if m[1] == "token" else samples[m[2]], template)

    with_token = [route.path for route in app.routes if "{token" in route.path]
    assert len(with_token) >= 5, with_token  # /q/…, /n/…, /p/link/…, /ui/password/…
    for template in with_token:
        assert "SECRET" not in redact_path(example(template)), template


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


def _sample(text: str, name: str) -> float:
    return float(next(line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name)))


async def test_requests_answered_together_are_each_logged_and_counted(
    client: Client, admin: dict[str, Any]
) -> None:
    """Requests answered while others are in flight are logged and counted together a
    moment later; the last one in flight settles them all."""
    me = 'litestar_requests_total{app_name="vendor_risk",method="GET",path="/api/v1/me",status_code="200"}'
    running = 'litestar_requests_in_progress{app_name="vendor_risk",method="GET",path="/api/v1/me",'
    await client.get("/api/v1/me", headers=admin["headers"])
    before = _sample((await client.get("/metrics", headers=METRICS_HEADERS)).text, me)
    with captured_app_log() as buffer:
        requests = (client.get("/api/v1/me", headers=admin["headers"]) for _ in range(8))
        answered = await asyncio.gather(*requests)
        logged = [json.loads(raw) for raw in buffer.getvalue().splitlines() if '"path": "/api/v1/me"' in raw]
    ids = sorted(r.headers["x-request-id"] for r in answered)
    assert sorted(line["request_id"] for line in logged) == ids
    metrics = (await client.get("/metrics", headers=METRICS_HEADERS)).text
    assert _sample(metrics, me) == before + 8
    assert _sample(metrics, running) == 0


async def test_refusals_are_logged_with_their_status(client: Client) -> None:
    with captured_app_log() as buffer:
        response = await client.get("/api/v1/me")
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


async def test_security_headers(client: Client, admin: dict[str, Any], settings: Settings) -> None:
    for path, headers in [("/api/v1/me", admin["headers"]), ("/api/v1/me", {}), ("/schema/openapi.json", {})]:
        response = await client.get(path, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["cache-control"] == "no-store", path
        assert "strict-transport-security" not in response.headers
    # Static assets may be cached.
    assert "no-store" not in (await client.get("/static/portal.css")).headers.get("cache-control", "")
    # Behind https, every response says so.
    https = msgspec.structs.replace(settings, public_url="https://vendor-risk.example.com")
    async with AsyncTestClient(app=create_app(https), base_url="https://vendor-risk.example.com") as secure:
        response = await secure.get("/healthz")
        assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_the_openapi_ui_loads_nothing_from_elsewhere(client: Client) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(s.startswith("/") for s in sources), sources
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 1000, source


async def test_openapi_tells_the_truth(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    problem = {"$ref": "#/components/schemas/Problem"}
    operations = [(p, m, o) for p, item in spec["paths"].items() for m, o in item.items()]
    api = [(p, m, o) for p, m, o in operations if p.startswith("/api/")]
    assert len(api) > 50
    for path, method, operation in api:
        for status in ("400", "401", "403", "404", "503"):
            content = operation["responses"][status]["content"]
            assert content == {"application/problem+json": {"schema": problem}}, (path, method, status)
        if method in ("post", "put", "patch", "delete"):
            assert "409" in operation["responses"], (path, method)
    assert spec["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    # Unknown fields are refused, and the document says so.
    assert spec["components"]["schemas"]["PartnerCreate"]["additionalProperties"] is False
    limit = next(p for p in spec["paths"]["/api/v1/partners"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)
    q = next(p for p in spec["paths"]["/api/v1/partners"]["get"]["parameters"] if p["name"] == "q")
    assert q["schema"]["maxLength"] == 100
    # The health endpoints need no key.
    for path in ("/healthz", "/readyz"):
        assert spec["paths"][path]["get"]["security"] == [], path
    assert "/metrics" not in spec["paths"]
