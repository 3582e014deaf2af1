"""Every /api route refuses a caller without a key: a new route cannot forget it."""

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

SAMPLE = {"uuid": "00000000-0000-0000-0000-000000000000", "str": "x", "int": "1", "path": "x"}


def concrete(path: str) -> str:
    return re.sub(r"\{[^:}]+:([a-z]+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


async def test_every_api_route_refuses_anonymous(app: Litestar, client: AsyncTestClient[Litestar]) -> None:
    checked = 0
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            response = await client.request(method, concrete(route.path))
            assert response.status_code == 401, f"{method} {route.path} answered {response.status_code}"
            checked += 1
    assert checked >= 8


async def test_every_api_handler_declares_a_guard(app: Litestar) -> None:
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            guards = handler.resolve_guards()
            assert guards, f"{route.path} has no role guard"
