"""Staff pages under ``/ui``: what a risk owner does in the API, as server-rendered pages.

Every page calls the same service and repository functions as its API route, and every
write carries the API route's own role guard, so a page never allows more than the API.
Protections, on this router only: a session cookie opened with an API key (see
``vendor_risk.auth.sessions``), CSRF on every form (cookie scoped to ``/ui``), a strict
Content-Security-Policy allowing only our own scripts (the vendored htmx), and autoescaped
templates, so anything a partner typed is shown as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.response import Redirect

from vendor_risk.agreements import pages as agreement_pages
from vendor_risk.assessments import pages as assessment_pages
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments.portal import csrf_secret
from vendor_risk.auth import pages as auth_pages
from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.findings import pages as finding_pages
from vendor_risk.hardening import SessionBoundCSRFMiddleware
from vendor_risk.incidents import repository as incidents_repo
from vendor_risk.incidents import service as incidents
from vendor_risk.incidents.models import StepComplete, StepSkip
from vendor_risk.incidents.routes import kick_incident_work, requires_step_owner
from vendor_risk.notify import pages as notify_pages
from vendor_risk.pagination import CreatedT, FilterText, created_after, paged
from vendor_risk.partners import pages as partner_pages
from vendor_risk.partners import service as partners
from vendor_risk.reports import pages as reports_pages
from vendor_risk.scopes import pages as scope_pages
from vendor_risk.settings import Settings
from vendor_risk.ui.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    allows,
    page,
    require_session,
    see_other,
    signed_in,
    ui_error,
    ui_guard_middleware,
    ui_internal_error,
    with_query,
)

T = TypeVar("T")
PAGE_SIZE = 25
# The partner page shows the newest of each list; the full lists are in the API.
DETAIL_ITEMS = 50
Query = FilterText


def _listed(rows: list[CreatedT], path: str, params: Mapping[str, Any]) -> tuple[list[CreatedT], str | None]:
    """A page from ``PAGE_SIZE + 1`` rows newest first, and the link to the next page if there is one."""
    listed = paged(rows, PAGE_SIZE)
    more = with_query(path, {**params, "cursor": listed.next_cursor}) if listed.next_cursor else None
    return listed.items, more


def _form(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _decoded(values: dict[str, Any], type_: type[T]) -> T:
    """Form values as ``type_``; a 400 naming the problem when they do not fit."""
    try:
        return msgspec.convert(values, type_)
    except msgspec.ValidationError as exc:
        raise Problem(400, "validation", str(exc)) from exc


# --- dashboard --------------------------------------------------------------------------


@get("/", name="ui:dashboard")
async def dashboard(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[str]:
    """What needs attention: the API dashboard's numbers and lists, and the review queue."""
    board = await partners.dashboard(db, settings)
    queue = await assessments_repo.list_assessments(
        db, assessments_repo.ListFilters(status="submitted"), partners.today_utc(), None, 10
    )
    return page(request, "dashboard", board=board, queue=queue)


# --- incidents ---------------------------------------------------------------------------------------


@get("/incidents", name="ui:incidents")
async def incident_list(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None = None
) -> Response[str]:
    after = created_after(cursor)
    rows = await incidents_repo.list_incidents(
        db, incidents_repo.ListFilters(), datetime.now(UTC), after, PAGE_SIZE + 1
    )
    items, more = _listed(rows, "/ui/incidents", {})
    return page(request, "incidents", items=items, more=more)


@get("/incidents/{incident_id:uuid}", name="ui:incident")
async def incident_page(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[str]:
    """Steps with deadlines and their forms, and the timeline."""
    detail = await incidents.load_detail(db, incident_id)
    return page(
        request,
        "incident",
        i=detail,
        can_complete=await allows(requires_step_owner, request),
        can_skip=await allows(requires_risk_owner, request),
    )


@post(
    "/incidents/{incident_id:uuid}/steps/{step_id:str}/complete",
    guards=[requires_step_owner],
    name="ui:complete-step",
    status_code=303,
)
async def complete_step(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, step_id: str
) -> Redirect:
    form = dict((await request.form()).multi_items())
    data = _decoded({"note": _form(form, "note")}, StepComplete)
    await incidents.complete_step(db, signed_in(request), incident_id, step_id, data)
    await kick_incident_work(request)
    return see_other(f"/ui/incidents/{incident_id}#step-{step_id}")


@post(
    "/incidents/{incident_id:uuid}/steps/{step_id:str}/skip",
    guards=[requires_risk_owner],
    name="ui:skip-step",
    status_code=303,
)
async def skip_step(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, step_id: str
) -> Redirect:
    form = dict((await request.form()).multi_items())
    data = _decoded({"reason": _form(form, "reason")}, StepSkip)
    await incidents.skip_step(db, signed_in(request), incident_id, step_id, data)
    await kick_incident_work(request)
    return see_other(f"/ui/incidents/{incident_id}#step-{step_id}")


# --- the router --------------------------------------------------------------------------------------


def ui_router(settings: Settings) -> Router:
    """The staff pages, outside the API router: a session cookie, not a Bearer key."""
    csrf = CSRFConfig(
        secret=csrf_secret(settings, "staff"),
        cookie_name=CSRF_COOKIE,
        cookie_path="/ui",
        cookie_httponly=True,
        cookie_secure=settings.public_url.startswith("https://"),
        cookie_samesite="lax",
    )
    return Router(
        path="/ui",
        route_handlers=[
            # Sign-in, account and user administration pages (vendor_risk.auth.pages).
            *auth_pages.ROUTE_HANDLERS,
            dashboard,
            *partner_pages.PAGES,
            *agreement_pages.PAGES,
            *scope_pages.PAGES,
            *assessment_pages.PAGES,
            *finding_pages.PAGES,
            # Development only: `up` with no SMTP server; `serve` never routes it.
            *(notify_pages.DEV_MAIL_PAGES if settings.dev_mailbox else []),
            incident_list,
            incident_page,
            complete_step,
            skip_step,
            *reports_pages.ROUTES,
        ],
        guards=[require_session],
        middleware=[
            ui_guard_middleware,
            DefineMiddleware(SessionBoundCSRFMiddleware, config=csrf, session_cookie=SESSION_COOKIE),
        ],
        exception_handlers={HTTPException: ui_error, Exception: ui_internal_error},
        include_in_schema=False,
    )


@get("/", include_in_schema=False, name="ui:root")
async def root_redirect() -> Redirect:
    """Nothing else serves ``/``: a browser that opens the bare address finds the staff pages."""
    return Redirect("/ui", status_code=302)
