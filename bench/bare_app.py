"""The yardstick: a bare Litestar + asyncpg app running the same query as our read.

Served by ``bench_auth_read.py`` with ``uvicorn --factory bench.bare_app:create``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import jinja2
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State

from vendor_risk.assessments import repository as assessments
from vendor_risk.auth.repository import USER_COLUMNS
from vendor_risk.dashboard import repository as board
from vendor_risk.db import init_connection
from vendor_risk.findings import repository as findings
from vendor_risk.partners import repository as partners
from vendor_risk.partners import service as partners_service
from vendor_risk.settings import Settings


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


# --- bench/compare.py's yardstick --------------------------------------------------------
# Each route runs what the matching request of ours runs (the same repository functions,
# so the same SQL) with no authentication, session, logging or metrics; the pages render
# the same rows with one plain Jinja2 template, and the portal save writes the same row.

_BARE_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
</head><body><main><h1>{{ title }}</h1><table>{% for row in rows %}<tr>{% for cell in row %}
<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table></main></body></html>"""

_BARE_FORM = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
</head><body><main><form method="post"><input type="hidden" name="answers_version" value="{{ version }}">
{% for q in questions %}<fieldset><legend>{{ q.text }}</legend>{% for c in q.choices %}
<label><input type="radio" name="a:{{ q.id }}" value="{{ c.value }}"{% if answers.get(q.id) == c.value %}
 checked{% endif %}> {{ c.label }}</label>{% endfor %}</fieldset>{% endfor %}
<button name="action" value="save">保存</button></form></main></body></html>"""


YES_NO = [{"value": "yes", "label": {"zh-CN": "是"}}, {"value": "no", "label": {"zh-CN": "否"}}]


def create_compare() -> Litestar:
    settings = Settings()
    window = settings.agreement_expiring_days
    env = jinja2.Environment(autoescape=True)
    table, form = env.from_string(_BARE_PAGE), env.from_string(_BARE_FORM)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10, init=init_connection
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    def today() -> date:
        return datetime.now(UTC).date()

    @get("/partners")
    async def list_partners(state: State, q: str | None = None) -> Any:
        async with state.pool.acquire() as conn:
            return await partners.list_partners(
                conn, partners.ListFilters(q=q), None, 51, today(), window, sort="created"
            )

    @get("/partners/{partner_id:uuid}")
    async def read_partner(state: State, partner_id: UUID) -> Any:
        async with state.pool.acquire() as conn:
            return await partners_service.load(conn, partner_id, settings)

    @get("/dashboard")
    async def dashboard(state: State) -> Any:
        async with state.pool.acquire() as conn:
            return await partners_service.dashboard(conn, settings)

    @get("/assessments")
    async def list_assessments(state: State, status: str | None = None) -> Any:
        async with state.pool.acquire() as conn:
            return await assessments.list_assessments(
                conn, assessments.ListFilters(status=status), today(), None, 51
            )

    @get("/findings")
    async def list_findings(state: State) -> Any:
        async with state.pool.acquire() as conn:
            return await findings.list_findings(conn, findings.ListFilters(), today(), None, 51)

    @get("/ui")
    async def dashboard_page(state: State) -> Response[str]:
        now = datetime.now(UTC)
        async with state.pool.acquire() as conn:
            row = await board.action_lists(conn, now.date(), window, 10, now)
        rows = [(k, v) for k, v in row.items()]
        return Response(table.render(title="工作台", rows=rows), media_type=MediaType.HTML)

    @get("/ui/partners")
    async def partners_page(state: State) -> Response[str]:
        async with state.pool.acquire() as conn:
            found = await partners.list_partners(
                conn, partners.ListFilters(), None, 51, today(), window, sort="created"
            )
        items = found[0] if isinstance(found, tuple) else found
        rows = [(p.name, p.legal_name, p.status, p.tier, p.credit_code) for p in items]
        return Response(table.render(title="合作方", rows=rows), media_type=MediaType.HTML)

    part_sql = """
        SELECT t.content AS template, ap.answers, a.answers_version
        FROM assessment_parts ap
        JOIN questionnaire_templates t ON t.id = ap.template_id
        JOIN assessments a ON a.id = ap.assessment_id
        WHERE ap.assessment_id = $1 AND ap.position = 0
    """

    @get("/q/{assessment_id:uuid}")
    async def portal_section(state: State, assessment_id: UUID) -> Response[str]:
        async with state.pool.acquire() as conn:
            row = await conn.fetchrow(part_sql, assessment_id)
        section = row["template"]["sections"][0]
        questions = [
            {
                "id": q["id"],
                "text": q["text"]["zh-CN"],
                "choices": [
                    {"value": c["value"], "label": c["label"]["zh-CN"]} for c in q["choices"] or YES_NO
                ],
            }
            for q in section["questions"]
        ]
        html = form.render(
            title=section["title"]["zh-CN"],
            questions=questions,
            answers={k: a["value"] for k, a in row["answers"].items()},
            version=row["answers_version"],
        )
        return Response(html, media_type=MediaType.HTML)

    @post("/q/{assessment_id:uuid}", status_code=303)
    async def portal_save(
        state: State, assessment_id: UUID, request: Request[Any, Any, Any]
    ) -> Response[None]:
        fields = await request.form()
        answers = {
            k[2:]: {"na": False, "value": v, "comment": None} for k, v in fields.items() if k.startswith("a:")
        }
        async with state.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE assessments SET answers_version = answers_version + 1 WHERE id = $1", assessment_id
            )
            await conn.execute(
                "UPDATE assessment_parts SET answers = answers || $2::jsonb"
                " WHERE assessment_id = $1 AND position = 0",
                assessment_id,
                answers,
            )
        return Response(None, status_code=303, headers={"Location": f"/q/{assessment_id}"})

    return Litestar(
        [
            list_partners,
            read_partner,
            dashboard,
            list_assessments,
            list_findings,
            dashboard_page,
            partners_page,
            portal_section,
            portal_save,
        ],
        lifespan=[lifespan],
    )
