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
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.response import Redirect

from vendor_risk.agreements import pages as agreement_pages
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments import service as assessments
from vendor_risk.assessments import views
from vendor_risk.assessments.models import ReviewComment, ReviewCreate
from vendor_risk.assessments.portal import csrf_secret
from vendor_risk.assessments.routes import requires_evidence_reader
from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.auth.sessions import ABSOLUTE_TIMEOUT, close_session, open_session
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.findings import repository as findings_repo
from vendor_risk.findings import service as findings
from vendor_risk.findings.models import AcceptanceCreate
from vendor_risk.hardening import SessionBoundCSRFMiddleware
from vendor_risk.i18n import translator
from vendor_risk.incidents import repository as incidents_repo
from vendor_risk.incidents import service as incidents
from vendor_risk.incidents.models import StepComplete, StepSkip
from vendor_risk.incidents.routes import kick_incident_work, requires_step_owner
from vendor_risk.pagination import CreatedT, FilterText, created_after, decode_cursor, encode_cursor, paged
from vendor_risk.partners import pages as partner_pages
from vendor_risk.partners import service as partners
from vendor_risk.policy_pages import POLICY_PAGES
from vendor_risk.questionnaires.service import get_template
from vendor_risk.scopes import pages as scope_pages
from vendor_risk.settings import Settings
from vendor_risk.ui.web import (
    CSRF_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    allows,
    page,
    page_lang,
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


# --- sign-in -----------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    # Only a path of these pages: never another site (open redirect).
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui"


@get("/login", opt={PUBLIC: True}, name="ui:login")
async def login_page(request: Request[Any, Any, Any], next: Query = None) -> Response[str]:
    return page(request, "login", next=_safe_next(next), error=None)


@post("/login", opt={PUBLIC: True}, name="ui:sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[Any]:
    """Open a session for the holder of a valid API key; a wrong key is refused with 401."""
    data = await request.form()
    key = _form(dict(data), "api_key")
    target = _safe_next(_form(dict(data), "next"))
    token = await open_session(db, key)
    if token is None:
        t = translator(page_lang(request))
        return page(request, "login", status_code=401, next=target, error=t("login_refused"))
    response = see_other(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/ui",
        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
        httponly=True,
        secure=settings.public_url.startswith("https://"),
        samesite="lax",
    )
    return response


@post("/logout", name="ui:sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any], db: DbConnection) -> Redirect:
    await close_session(db, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


# --- dashboard --------------------------------------------------------------------------


@get("/", name="ui:dashboard")
async def dashboard(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[str]:
    """What needs attention: the API dashboard's numbers and lists, and the review queue."""
    board = await partners.dashboard(db, settings)
    queue = await assessments_repo.list_assessments(
        db, assessments_repo.ListFilters(status="submitted"), partners.today_utc(), None, 10
    )
    return page(request, "dashboard", board=board, queue=queue)


# --- assessments -------------------------------------------------------------------------------------


@get("/reviews", name="ui:reviews")
async def review_queue(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None = None
) -> Response[str]:
    """The review queue: submitted assessments, newest first (``status=submitted``)."""
    after = decode_cursor(cursor, datetime, UUID)
    rows = await assessments_repo.list_assessments(
        db, assessments_repo.ListFilters(status="submitted"), partners.today_utc(), after, PAGE_SIZE + 1
    )
    items = rows[:PAGE_SIZE]
    more = None
    if len(rows) > PAGE_SIZE:
        more = with_query("/ui/reviews", {"cursor": encode_cursor(items[-1].sent_at, items[-1].id)})
    return page(request, "reviews", items=items, more=more)


@get("/assessments/{assessment_id:uuid}", name="ui:assessment")
async def assessment_page(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, assessment_id: UUID
) -> Response[str]:
    """Score with its breakdown, rating with its steps, answers with evidence, findings, the
    diff from the previous assessment, and the review form."""
    detail = await assessments.detail(
        db, assessment_id, partners.today_utc(), rating_policy=settings.policy.rating
    )
    page_language = signed_in(request).locale
    pt = translator(page_language)
    parts = []
    for part in detail.answers:
        # Only the sections the partner was sent (those fitting its services).
        template = (await get_template(db, part.questionnaire, part.version)).content.only_sections(
            part.sections
        )
        scores = next(
            (
                p.result
                for p in (detail.score_breakdown.parts if detail.score_breakdown else [])
                if p.questionnaire == part.questionnaire
            ),
            None,
        )
        by_question = {q.question_id: q for s in (scores.sections if scores else []) for q in s.questions}
        by_section = {s.section_id: s for s in (scores.sections if scores else [])}
        sections = []
        for section in template.sections:
            rows = []
            for question in section.questions:
                answer = part.answers.get(question.id)
                rows.append(
                    {
                        "id": question.id,
                        "number": views.question_number(template, section, question),
                        "text": question.text.get(page_language),
                        "shown": views.describe(question, answer, page_language, pt),
                        "score": by_question.get(question.id),
                        "evidence": [
                            e
                            for e in detail.evidence
                            if e.questionnaire == part.questionnaire and e.question_id == question.id
                        ],
                    }
                )
            sections.append(
                {"title": section.title.get(page_language), "score": by_section.get(section.id), "rows": rows}
            )
        parts.append(
            {
                "key": part.questionnaire,
                "title": part.title.get(page_language),
                "version": part.version,
                "sections": sections,
            }
        )
    return page(
        request,
        "assessment",
        a=detail,
        parts=parts,
        can_review=await allows(requires_risk_owner, request) and detail.status == "submitted",
        can_download=await allows(requires_evidence_reader, request),
    )


@post(
    "/assessments/{assessment_id:uuid}/review",
    guards=[requires_risk_owner],
    name="ui:review",
    status_code=303,
)
async def review(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, assessment_id: UUID
) -> Redirect:
    """Approve, reject or request changes, with a note and per-question comments
    (fields ``c:{questionnaire}:{question}``)."""
    form = dict((await request.form()).multi_items())
    comments = [
        ReviewComment(
            questionnaire=name.split(":")[1], question_id=name.split(":", 2)[2], comment=str(value).strip()
        )
        for name, value in form.items()
        if name.startswith("c:") and name.count(":") >= 2 and str(value).strip()
    ]
    data = _decoded(
        {
            "decision": _form(form, "decision"),
            "note": _form(form, "note"),
            "comments": [msgspec.to_builtins(c) for c in comments],
            "version": int(_form(form, "version")) if _form(form, "version").isdigit() else None,
        },
        ReviewCreate,
    )
    await assessments.review(db, actor_of(request), assessment_id, data, settings, now=datetime.now(UTC))
    return see_other(f"/ui/assessments/{assessment_id}")


@get(
    "/assessments/{assessment_id:uuid}/evidence/{evidence_id:uuid}",
    guards=[requires_evidence_reader],
    name="ui:evidence",
)
async def evidence(
    db: DbConnection, settings: Settings, assessment_id: UUID, evidence_id: UUID
) -> Response[bytes]:
    """An evidence file, always as a download: a partner's file never renders in our origin."""
    info, content = await assessments.evidence_file(db, assessment_id, evidence_id, settings)
    ascii_name = info.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(info.filename)}"
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": disposition,
        },
    )


# --- findings ----------------------------------------------------------------------------------------


@get("/findings", name="ui:findings")
async def finding_list(
    request: Request[Any, Any, Any],
    db: DbConnection,
    status: str | None = None,
    severity: str | None = None,
    cursor: str | None = None,
) -> Response[str]:
    status = status if status in ("open", "remediating", "resolved", "accepted") else None
    severity = severity if severity in ("low", "medium", "high", "critical") else None
    after = created_after(cursor)
    rows = await findings_repo.list_findings(
        db,
        findings_repo.ListFilters(status=status, severity=severity),
        partners.today_utc(),
        after,
        PAGE_SIZE + 1,
    )
    items, more = _listed(rows, "/ui/findings", {"status": status, "severity": severity})
    return page(
        request,
        "findings",
        items=items,
        more=more,
        status=status or "",
        severity=severity or "",
        can_accept=await allows(requires_risk_owner, request),
        today=partners.today_utc(),
    )


@post("/findings/{finding_id:uuid}/accept", guards=[requires_risk_owner], name="ui:accept", status_code=303)
async def accept_risk(request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID) -> Redirect:
    """Accept a finding's risk until a date, with a justification."""
    form = dict((await request.form()).multi_items())
    data = _decoded(
        {"until": _form(form, "until"), "justification": _form(form, "justification")}, AcceptanceCreate
    )
    await findings.accept_risk(db, actor_of(request), finding_id, data, partners.today_utc())
    return see_other(f"/ui/findings#f-{finding_id}")


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
            login_page,
            sign_in,
            sign_out,
            dashboard,
            *partner_pages.PAGES,
            *agreement_pages.PAGES,
            *scope_pages.PAGES,
            review_queue,
            assessment_page,
            review,
            evidence,
            finding_list,
            accept_risk,
            incident_list,
            incident_page,
            complete_step,
            skip_step,
            *POLICY_PAGES,
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
