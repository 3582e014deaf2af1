"""No partner's contact sees or changes another partner's data through self-service.

Every route of ``/p`` is taken from the app itself (a new route is covered without being
listed here) and called, signed in as partner A's contact, with each id of partner B's
rows in its path (every table with a ``partner_id`` column) and in the usual form fields.
No answer may show B's name or contacts, none may be a server error, and nothing of B's
may change: no audit event about B's rows is written (every change writes one) and B's
session keeps working. Then the same the other way round."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.stores.redis import RedisStore

from tests.integration.assessments.conftest import Client, NewPartner, Send, csrf_of
from tests.integration.selfservice.conftest import Contact, SignIn
from vendor_risk.selfservice.web import PUBLIC
from vendor_risk.settings import Settings

PARAM = re.compile(r"\{(\w+):(\w+)\}")
MAX_IDS_PER_PARAM = 40


def selfservice_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, path template) of every self-service route."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and (route.path == "/p" or route.path.startswith("/p/")):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods):
                    if method not in ("HEAD", "OPTIONS"):
                        found.append((method, route.path))
    return sorted(set(found))


async def partner_rows(db: asyncpg.Connection, partner_id: str) -> list[str]:
    """The ids of every row that belongs to the partner, in any table that says so."""
    tables = await db.fetch(
        """
        SELECT c.table_name FROM information_schema.columns c
        JOIN information_schema.columns i ON i.table_schema = c.table_schema
             AND i.table_name = c.table_name AND i.column_name = 'id' AND i.data_type = 'uuid'
        JOIN information_schema.tables t ON t.table_schema = c.table_schema
             AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
        WHERE c.table_schema = 'public' AND c.column_name = 'partner_id'
        ORDER BY c.table_name
        """
    )
    ids = [partner_id]
    for row in tables:
        # The table name comes from the catalogue, never from input.
        rows = await db.fetch(f'SELECT id::text FROM "{row["table_name"]}" WHERE partner_id = $1', partner_id)
        ids.extend(r["id"] for r in rows)
    return ids


async def changes_about(db: asyncpg.Connection, ids: list[str], since: int) -> list[str]:
    rows = await db.fetch(
        """
        SELECT action FROM audit_events
        WHERE seq > $1 AND (entity_id = ANY($2::text[]) OR after::text LIKE '%' || $3 || '%')
        """,
        since,
        ids,
        ids[0],
    )
    return [r["action"] for r in rows]


def paths_for(template: str, ids: list[str]) -> list[str]:
    params = PARAM.findall(template)
    if not params:
        return [template]
    choices = []
    for _, kind in params:
        if kind == "uuid":
            choices.append(ids[:MAX_IDS_PER_PARAM])
        elif kind == "int":
            choices.append(["0", "1"])
        else:
            choices.append([secrets.token_urlsafe(32), *ids[:3]])
    paths = []
    for combo in itertools.islice(itertools.product(*choices), 200):
        path = template
        for value in combo:
            path = PARAM.sub(value, path, count=1)
        paths.append(path)
    return paths


async def fresh_session(me: Contact, sign_in: SignIn, settings: Settings) -> Contact:
    """The attacker signed in again when a route (sign-out) ended the session; the link
    rate limits are forgiven for it (this walk is not what they are there for)."""
    if (await me.get("/p")).status_code == 200:
        return me
    redis = aioredis.from_url(settings.redis_url or "")
    try:
        await RedisStore(redis, namespace="vendor_risk:ratelimit").delete_all()
    finally:
        await redis.aclose()
    return await sign_in(me.email, lang=me.lang)


@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
async def test_no_route_reaches_another_partners_data(
    direction: str,
    app: Litestar,
    settings: Settings,
    new_partner: NewPartner,
    send: Send,
    sign_in: SignIn,
    db: asyncpg.Connection,
) -> None:
    a = await new_partner()
    b = await new_partner()
    await send(a["id"])
    await send(b["id"])
    me_a = await sign_in(a["contacts"][0]["email"])
    me_b = await sign_in(b["contacts"][0]["email"])
    me, victim, victim_session = (me_a, b, me_b) if direction == "a_to_b" else (me_b, a, me_a)
    ids = await partner_rows(db, victim["id"])
    assert len(ids) > 3  # the partner, its contacts, its assessment, its session
    secrets_of_victim = [victim["name"], *(c["email"] for c in victim["contacts"])]
    routes = selfservice_routes(app)
    assert ("GET", "/p") in routes
    assert ("POST", "/p/incident") in routes
    start = await db.fetchval("SELECT coalesce(max(seq), 0) FROM audit_events")

    tried = 0
    for method, template in routes:
        for path in paths_for(template, ids):
            me = await fresh_session(me, sign_in, settings)
            if method == "GET":
                response = await me.get(path)
            else:
                home = await me.get("/p")
                form: dict[str, Any] = {
                    "_csrf_token": csrf_of(home.text),
                    "partner_id": victim["id"],
                    "id": ids[-1],
                    "version": "1",
                }
                response = await me.post(path, form)
            tried += 1
            assert response.status_code < 500, (method, path, response.text[:500])
            for secret in secrets_of_victim:
                assert secret not in response.text, (method, path)
            location = response.headers.get("location", "")
            assert victim["id"] not in location, (method, path, location)
    assert tried >= len(routes)
    assert await changes_about(db, ids, start) == []
    assert (await victim_session.get("/p")).status_code == 200
    assert victim["name"] in (await victim_session.get("/p")).text


async def test_every_private_route_wants_a_session(app: Litestar, client: Client) -> None:
    """Without a session, every route not marked public sends the browser to sign in (a
    form post is refused first for want of a CSRF token bound to a session)."""
    checked = 0
    for route in app.routes:
        if not (isinstance(route, HTTPRoute) and (route.path == "/p" or route.path.startswith("/p/"))):
            continue
        for handler in route.route_handlers:
            if handler.opt.get(PUBLIC):
                continue
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                path = PARAM.sub(lambda m: str(UUID(int=7)) if m.group(2) == "uuid" else "x", route.path)
                response = await client.request(method, path, follow_redirects=False)
                if method == "GET":
                    assert response.status_code == 303, (method, path)
                    assert response.headers["location"].startswith("/p/sign-in"), (method, path)
                else:
                    assert response.status_code in (303, 403), (method, path, response.status_code)
                checked += 1
    assert checked >= 10
