"""How many SQL statements each request of the performance benchmark (bench/compare.py)
runs, pinned: a change that adds a round trip to one of them fails here, without timing
anything. The numbers are per request once the API key and the session are warm (their
lookups are cached or touched at most once a minute)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Send,
    User,
    complete,
)
from tests.integration.ui.conftest import OpenBrowser
from tests.integration.ui.querycount import count_queries

# request -> statements it runs. When a change is meant to alter one, update the number
# here and say why in the commit; bench/compare.py times the same requests.
PINNED = {
    "GET /api/v1/partners?limit=50": 1,
    "GET /api/v1/partners/{id}": 1,
    "GET /api/v1/dashboard": 1,
    "GET /api/v1/assessments?status=submitted": 1,
    "GET /api/v1/findings?limit=50": 1,
    "GET /api/v1/partners?q=金蝶": 1,
    # The link with its assessment, parts, evidence and latest review, in one query.
    "GET /q/{token}/s/0/{section}": 1,
    # That one query, then one statement (its own transaction) bumping the answer version
    # if nothing changed it since, writing the answers and appending the audit event.
    "POST /q/{token}/s/0/{section}": 2,
    # The session (a read; it writes at most once a minute), the latest failed audit verify
    # (shown to admins and risk owners; one row of a table that grows by one a day) and the
    # page's one query.
    "GET /ui": 3,
    # The session and the page's one query.
    "GET /ui/partners": 2,
}


async def _counted(
    request: Callable[[], Awaitable[httpx.Response]], expect: int = 200
) -> tuple[int, list[str]]:
    await request()  # warm: the key cache, the session touch, prepared statements
    with count_queries() as counted:
        response = await request()
    assert response.status_code == expect, response.text
    return counted.queries, counted.statements


async def test_each_benchmarked_request_runs_a_pinned_number_of_queries(
    client: Client,
    browser: OpenBrowser,
    new_partner: NewPartner,
    send: Send,
    auditor: User,
    risk_owner: User,
) -> None:
    partner = await new_partner()
    answered = await new_partner()
    done = await send(answered["id"])
    await complete(Partner(client, done["link"]))
    sent = await send(partner["id"])
    portal = Partner(client, sent["link"])
    section = "access"
    api = auditor["headers"]

    def api_get(path: str) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: client.get(path, headers=api)

    staff = await browser(risk_owner)

    measured: dict[str, tuple[int, list[str]]] = {
        "GET /api/v1/partners?limit=50": await _counted(api_get("/api/v1/partners?limit=50")),
        "GET /api/v1/partners/{id}": await _counted(api_get(f"/api/v1/partners/{partner['id']}")),
        "GET /api/v1/dashboard": await _counted(api_get("/api/v1/dashboard")),
        "GET /api/v1/assessments?status=submitted": await _counted(
            api_get("/api/v1/assessments?status=submitted")
        ),
        "GET /api/v1/findings?limit=50": await _counted(api_get("/api/v1/findings?limit=50")),
        "GET /api/v1/partners?q=金蝶": await _counted(api_get("/api/v1/partners?q=金蝶")),
        "GET /q/{token}/s/0/{section}": await _counted(lambda: portal.get(f"/s/0/{section}")),
        "GET /ui": await _counted(lambda: staff.get("/ui")),
        "GET /ui/partners": await _counted(lambda: staff.get("/ui/partners")),
    }
    measured["POST /q/{token}/s/0/{section}"] = await _saved(portal, section)
    changed = {k: (PINNED[k], n, statements) for k, (n, statements) in measured.items() if n != PINNED[k]}
    assert not changed, "\n".join(
        f"{k}: pinned {pinned}, now {n} statements:\n    "
        + "\n    ".join(statements)
        + "\n  (a new round trip on a benchmarked request: remove it, or if it is worth its cost,"
        " update PINNED in this file and say why in the commit)"
        for k, (pinned, n, statements) in changed.items()
    )


async def _saved(portal: Partner, section: str) -> tuple[int, list[str]]:
    """The save alone, not the page read that fetches its form first."""
    counts: list[tuple[int, list[str]]] = []
    for value in ("yes", "no"):
        page = await portal.get(f"/s/0/{section}")
        assert page.status_code == 200
        original = portal.get

        async def no_read(path: str = "", page: httpx.Response = page, **params: str) -> httpx.Response:
            del path, params
            return page

        portal.get = no_read  # type: ignore[method-assign]
        try:
            with count_queries() as counted:
                response = await portal.save(0, section, {"ac-1": value})
        finally:
            portal.get = original  # type: ignore[method-assign]
        assert response.status_code == 303, response.text
        counts.append((counted.queries, counted.statements))
    return counts[-1]
