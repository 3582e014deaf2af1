"""The partner portal: ``/q/{token}/…``, server-rendered, usable without JavaScript.

A partner has no account: the link's token is the credential, so the portal lives outside
the API router (no API key) and every page resolves the token first. Its own protections,
applied to this router only so the JSON API is untouched:

- CSRF on every form (Litestar's CSRF middleware, cookie scoped to ``/q``);
- rate limits per token and per client address (Redis-backed, shared by all processes);
- a strict Content-Security-Policy (scripts and styles only from ``/static``), no framing,
  no Referer (the token is in the URL), no caching;
- autoescaped templates, so anything a partner types is shown as text.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

import structlog
from litestar import MediaType, Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState

from vendor_risk.assessments import service
from vendor_risk.assessments import views as v
from vendor_risk.assessments.emails import format_date, format_time
from vendor_risk.assessments.forms import LINE_CONTROL, ParsedSection, RawInput, parse_section_form
from vendor_risk.assessments.models import EDITABLE_STATUSES, SUBMITTED_STATUSES
from vendor_risk.assessments.rendering import render
from vendor_risk.assessments.repository import LinkRow
from vendor_risk.assessments.rules import missing_items, section_progress
from vendor_risk.assessments.tokens import token_fingerprint
from vendor_risk.db import DbConnection
from vendor_risk.documents import MAX_DOCUMENT_BYTES
from vendor_risk.findings import partner as partner_side
from vendor_risk.hardening import FallbackStore, rate_limits
from vendor_risk.i18n import LANGUAGES, negotiate, translator
from vendor_risk.logging import ASGIApp, Message, Receive, Scope, Send
from vendor_risk.questionnaires.scoring import visibility
from vendor_risk.routers import MountedOnce
from vendor_risk.settings import Settings

log = structlog.get_logger("vendor_risk.portal")

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static"
RATE_LIMIT_STORE: Final = "portal_rate_limit"
# A partner filling a questionnaire makes a few requests a minute; brute-forcing a 256-bit
# token is hopeless anyway, this keeps it (and scraping) from costing anything.
# A section form may carry a few evidence files.
MAX_SAVE_BODY: Final = 3 * MAX_DOCUMENT_BYTES + 1024 * 1024

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
LANGUAGE_NAMES: Final = {"zh-CN": "中文", "en": "English"}


# --- router and its middleware -------------------------------------------------------------------


def guard_pages(
    app: ASGIApp, render_refusal: Callable[[Request[Any, Any, Any], HTTPException], Response[Any]]
) -> Any:
    """The outermost layer of a page router: its security headers on every response, and
    the refusals of the layers inside it (CSRF, rate limits) rendered by ``render_refusal``,
    so they carry the headers too and the access log sees their real status."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in SECURITY_HEADERS if name not in present),
                ]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        except HTTPException as exc:
            if started:
                raise
            request: Request[Any, Any, Any] = Request(scope, receive)  # type: ignore[arg-type]
            response = render_refusal(request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send_wrapper)  # type: ignore[arg-type]

    return middleware


def portal_guard_middleware(app: ASGIApp) -> Any:
    """The portal's outermost layer (see ``guard_pages``), its refusals as portal pages."""
    return guard_pages(app, portal_error)


def link_rate_limits(settings: Settings, kind: str) -> Any:
    """The rate limits of the pages a link opens (``kind``: portal, notice), per address
    and, tighter, per link: one middleware counting both in one round trip."""

    def address_key(request: Request[Any, Any, Any]) -> str:
        # The ASGI server sets the client from X-Forwarded-For only for configured proxies.
        return f"{kind}-address:{request.client.host if request.client else 'unknown'}"

    def token_key(request: Request[Any, Any, Any]) -> str:
        return f"{kind}-token:{token_fingerprint(str(request.path_params.get('token', '')))}"

    return rate_limits(
        RATE_LIMIT_STORE,
        [
            (address_key, settings.portal_requests_per_minute * 5 // 2),
            (token_key, settings.portal_requests_per_minute),
        ],
    )


def csrf_secret(settings: Settings, pages: str = "portal") -> str:
    """The same secret in every process (derived from ``VENDOR_RISK_SESSION_SECRET``), so a
    form rendered by one API replica is accepted by another; each set of ``pages`` has its
    own. Never derived from a data key: rotating those must not break an open form. Without
    the setting each process draws its own, which is enough for one process only."""
    if not settings.session_secret:
        return secrets.token_hex(32)
    return hashlib.sha256(f"vendor-risk:{pages}-csrf:{settings.session_secret}".encode()).hexdigest()


def register_rate_limit_store(app: Any) -> None:
    """Back the portal's rate limits with the app's Redis (call in the lifespan, once the
    pool is open), so every API process counts against the same limits."""
    # While Redis is away the limits fall back to this process (see FallbackStore).
    store = FallbackStore(app.state.redis, namespace="vendor_risk:ratelimit")
    app.stores.register(RATE_LIMIT_STORE, store, allow_override=True)


def portal_router(settings: Settings) -> Router:
    csrf = CSRFConfig(
        secret=csrf_secret(settings),
        cookie_name="vr_portal_csrf",
        cookie_path="/q",
        cookie_httponly=True,
        cookie_secure=settings.public_url.startswith("https://"),
        cookie_samesite="lax",
    )
    return MountedOnce(
        path="/q",
        route_handlers=[
            overview,
            section_page,
            save_section,
            submit_page,
            submit,
            findings_page,
            respond_to_finding,
            fix_finding,
        ],
        middleware=[
            portal_guard_middleware,
            link_rate_limits(settings, "portal"),
            DefineMiddleware(CSRFMiddleware, config=csrf),
        ],
        exception_handlers={HTTPException: portal_error, Exception: portal_internal_error},
        include_in_schema=False,
    )


# --- rendering ---------------------------------------------------------------------------------------


def _lang(request: Request[Any, Any, Any]) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def _switch(request: Request[Any, Any, Any]) -> list[tuple[str, str, str]]:
    return [(code, LANGUAGE_NAMES[code], f"{request.url.path}?lang={code}") for code in LANGUAGES]


def _page(
    request: Request[Any, Any, Any],
    name: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    lang = context.pop("lang", None) or _lang(request)
    token = ScopeState.from_scope(request.scope).csrf_token
    values = {
        "lang": lang,
        "t": translator(lang),
        "switch": _switch(request),
        "csrf_input": f'<input type="hidden" name="_csrf_token" value="{token}">' if token else "",
        "contact": None,
        "partner_name": None,
        **context,
    }
    return Response(
        render(f"portal/{name}.html", values),
        status_code=status,
        media_type=MediaType.HTML,
        headers=dict(headers or {}),
    )


def _contact(view: service.PortalView) -> dict[str, str] | None:
    return {"name": view.contact[0], "email": view.contact[1]} if view.contact else None


class _Urls:
    def __init__(self, token: str, lang: str) -> None:
        self.base = f"/q/{token}"
        self.query = f"?{urlencode({'lang': lang})}"

    def overview(self, **extra: str) -> str:
        return f"{self.base}{self._query(extra)}"

    def section(self, part: int, section_id: str, **extra: str) -> str:
        return f"{self.base}/s/{part}/{section_id}{self._query(extra)}"

    def submit(self) -> str:
        return f"{self.base}/submit{self.query}"

    def findings(self, **extra: str) -> str:
        return f"{self.base}/findings{self._query(extra)}"

    def respond(self, finding_id: UUID) -> str:
        return f"{self.base}/findings/{finding_id}{self.query}"

    def fix(self, finding_id: UUID) -> str:
        return f"{self.base}/findings/{finding_id}/fix{self.query}"

    def _query(self, extra: Mapping[str, str]) -> str:
        return self.query + (f"&{urlencode(extra)}" if extra else "")


async def _open(db: DbConnection, token: str) -> tuple[LinkRow, service.PortalView]:
    return await service.open_portal(db, token, datetime.now(UTC))


def _sections(view: service.PortalView) -> list[tuple[int, str]]:
    return [(index, s.id) for index, part in enumerate(view.parts) for s in part.template.sections]


def _totals(view: service.PortalView) -> tuple[int, int]:
    answered = total = 0
    for part in view.parts:
        for done, shown in section_progress(part.template, part.answers).values():
            answered += done
            total += shown
    return answered, total


def _see_other(url: str) -> Redirect:
    # 303: after a form post the browser fetches the result with GET (no resubmission).
    return Redirect(url, status_code=303)


# --- pages ---------------------------------------------------------------------------------------------


@get("/{token:str}", name="portal:overview")
async def overview(request: Request[Any, Any, Any], db: DbConnection, token: str) -> Response[str]:
    """The assessment at a glance, or the receipt once it is submitted."""
    link, view = await _open(db, token)
    lang = _lang(request)
    if view.state.status in SUBMITTED_STATUSES:
        return await _receipt(request, db, link, view, lang)
    t = translator(lang)
    urls = _Urls(token, lang)
    state = view.state
    parts: list[dict[str, Any]] = []
    first_open: str | None = None
    for index, part in enumerate(view.parts):
        template = part.template
        progress = section_progress(template, part.answers)
        unconfirmed = service.unconfirmed_sections(part)
        commented = {qid for key, qid in view.review_comments if key == template.key}
        sections = []
        for section in template.sections:
            answered, total = progress[section.id]
            url = urls.section(index, section.id)
            to_confirm = section.id in unconfirmed
            if first_open is None and (to_confirm or answered < total):
                first_open = url
            sections.append(
                {
                    "title": section.title.get(lang),
                    "url": url,
                    "answered": answered,
                    "total": total,
                    "to_confirm": to_confirm,
                    "commented": any(q.id in commented for q in section.questions),
                }
            )
        parts.append(
            {
                "index": index,
                "title": template.title.get(lang),
                "description": template.description.get(lang),
                "sections": sections,
            }
        )
    answered, total = _totals(view)
    findings = await service.partner_findings(db, link)
    message = await db.fetchval("SELECT message FROM assessments WHERE id = $1", state.id)
    return _page(
        request,
        "overview",
        lang=lang,
        heading=" · ".join(str(p["title"]) for p in parts),
        kind_label=t(f"assessment_kind_{state.kind}"),
        due_on=format_date(state.due_on, lang),
        message=message,
        sender_name=view.contact[0] if view.contact else state.sent_by_label,
        review={"note": view.review_note} if state.status == "changes_requested" else None,
        parts=parts,
        answered=answered,
        total=total,
        continue_url=first_open or urls.submit(),
        submit_url=urls.submit(),
        findings_url=urls.findings(),
        findings_count=len(findings),
        flash=[t("plan_saved")] if request.query_params.get("notice") == "plan" else [],
        contact=_contact(view),
        partner_name=state.partner_name,
    )


async def _receipt(
    request: Request[Any, Any, Any], db: DbConnection, link: LinkRow, view: service.PortalView, lang: str
) -> Response[str]:
    t = translator(lang)
    urls = _Urls(str(request.path_params["token"]), lang)
    state = view.state
    parts = []
    for part in view.parts:
        template = part.template
        shown = visibility(template, part.answers)
        sections = []
        for section in template.sections:
            rows = [
                {
                    "number": v.question_number(template, section, q),
                    "text": q.text.get(lang),
                    "shown": v.describe(q, part.answers.get(q.id), lang, t),
                    "files": [
                        e for e in view.evidence if e.questionnaire == template.key and e.question_id == q.id
                    ],
                }
                for q in section.questions
                if shown[q.id]
            ]
            sections.append({"title": section.title.get(lang), "rows": rows})
        parts.append({"title": template.title.get(lang), "version": template.version, "sections": sections})
    findings = await service.partner_findings(db, link)
    submitted_at = state.submitted_at or state.sent_at
    return _page(
        request,
        "receipt",
        lang=lang,
        status_label=t(f"status_{state.status}"),
        parts=parts,
        submitted_at=format_time(submitted_at, lang),
        submitted_at_iso=submitted_at.isoformat(),
        submitted_by=state.submitted_by or "",
        receipt_hash=state.receipt_hash or "",
        findings_url=urls.findings(),
        findings_count=len(findings),
        flash=[t("submitted_notice")] if request.query_params.get("notice") == "submitted" else [],
        contact=_contact(view),
        partner_name=state.partner_name,
    )


def _locate(view: service.PortalView, part: int, section_id: str) -> tuple[Any, Any]:
    if not 0 <= part < len(view.parts):
        raise HTTPException(status_code=404, detail="no such section")
    template = view.parts[part].template
    try:
        return template, template.section(section_id)
    except KeyError:
        raise HTTPException(status_code=404, detail="no such section") from None


def _section_context(
    view: service.PortalView,
    token: str,
    part: int,
    section_id: str,
    lang: str,
    *,
    raw: Mapping[str, RawInput] | None = None,
    field_errors: Mapping[str, str] | None = None,
    flash: list[str] | None = None,
) -> dict[str, Any]:
    t = translator(lang)
    urls = _Urls(token, lang)
    template, section = _locate(view, part, section_id)
    part_row = view.parts[part]
    order = _sections(view)
    position = order.index((part, section_id))
    evidence = [e for e in view.evidence if e.questionnaire == template.key]
    comments = {qid: c for (key, qid), c in view.review_comments.items() if key == template.key}
    questions = v.question_views(
        template,
        section,
        part_row.answers,
        lang=lang,
        t=t,
        raw=raw,
        errors=field_errors,
        evidence=evidence,
        comments=comments,
        version=part_row.template_id,
    )
    answered, total = _totals(view)
    previous = order[position - 1] if position > 0 else None
    prefilled = (
        section_id in service.unconfirmed_sections(part_row) and view.previous_submitted_at is not None
    )
    return {
        "lang": lang,
        "part_title": template.title.get(lang),
        "section_title": section.title.get(lang),
        "position": position + 1,
        "section_count": len(order),
        "due_on": format_date(view.state.due_on, lang),
        "answered": answered,
        "total": total,
        "errors": [
            (q["id"], f"{q['number']} {q['text']}", q["error"])
            for q in questions
            if q["id"] in (field_errors or {})
        ],
        "prefilled_on": format_date(view.previous_submitted_at.date(), lang)
        if prefilled and view.previous_submitted_at
        else None,
        "review_note": view.review_note,
        "action_url": urls.section(part, section_id),
        "answers_version": view.state.answers_version,
        "known_answers": v.known_answers(template, section, part_row.answers),
        "questions_html": v.questions_html(questions, lang, t),
        "previous_url": urls.section(*previous) if previous else None,
        "overview_url": urls.overview(),
        "submit_url": urls.submit(),
        "flash": flash or [],
        "contact": _contact(view),
        "partner_name": view.state.partner_name,
    }


@get("/{token:str}/s/{part:int}/{section_id:str}", name="portal:section")
async def section_page(
    request: Request[Any, Any, Any], db: DbConnection, token: str, part: int, section_id: str
) -> Response[str] | Redirect:
    """One section's questions as a form."""
    _, view = await _open(db, token)
    lang = _lang(request)
    if view.state.status not in EDITABLE_STATUSES:
        return _see_other(_Urls(token, lang).overview())
    t = translator(lang)
    flash: list[str] = []
    notice = request.query_params.get("notice")
    if notice in ("saved", "more"):
        flash.append(t("saved_more_shown" if notice == "more" else "saved"))
    for evidence_id in request.query_params.getall("uploaded", []):
        for e in view.evidence:
            if str(e.id) == evidence_id:
                flash.append(t("uploaded", filename=e.filename, sha256=e.sha256))
    if removed := request.query_params.get("removed"):
        flash.append(t("removed", filename=removed[:200]))
    return _page(request, "section", **_section_context(view, token, part, section_id, lang, flash=flash))


def _form_lists(form: Any) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
    return lists


async def _queues_no_message(request: Request[Any, Any, Any]) -> None:
    """``after_response`` of a write that never queues an outbox message: the app's hook
    (``kick_outbox_after_write``) would ask Redis for a delivery run after every save."""
    del request


@post(
    "/{token:str}/s/{part:int}/{section_id:str}",
    name="portal:save",
    request_max_body_size=MAX_SAVE_BODY,
    status_code=303,
    after_response=_queues_no_message,
)
async def save_section(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    token: str,
    part: int,
    section_id: str,
) -> Response[str] | Redirect:
    """Save a section (and its evidence); then show it again, or the next one."""
    lang = _lang(request)
    urls = _Urls(token, lang)
    form = await request.form()
    fields = _form_lists(form)
    uploads = []
    for key, value in form.multi_items():
        if key.startswith("f:") and isinstance(value, UploadFile) and value.filename:
            uploads.append(
                service.Upload(question_id=key[2:], filename=value.filename, data=await value.read())
            )
    remove = fields.get("remove", [None])[0]
    try:
        base_version = int(fields.get("answers_version", ["0"])[0])
        remove_id = UUID(remove) if remove else None
    except ValueError:
        raise HTTPException(status_code=400, detail="malformed form") from None
    parsed: list[ParsedSection] = []

    def read(template: Any) -> tuple[dict[str, Any], dict[str, str]]:
        # An overtaken save is redone under the lock, against the same questionnaire
        # version (a part's never changes): the form is parsed once.
        if not parsed:
            parsed.append(parse_section_form(template, section_id, fields))
        return parsed[0].answers, dict(parsed[0].errors)

    result = await service.save_section(
        db,
        token,
        part_index=part,
        section_id=section_id,
        read=read,
        base_version=base_version,
        uploads=uploads,
        remove=remove_id,
        settings=settings,
        now=datetime.now(UTC),
    )
    view = result.view
    if result.outcome == "closed":
        return _see_other(urls.overview())
    if result.outcome == "invalid":
        return _page(
            request,
            "section",
            status=422,
            **_section_context(
                view, token, part, section_id, lang, raw=parsed[0].raw, field_errors=result.errors
            ),
        )
    if result.outcome == "conflict":
        return _conflict(request, view, token, part, section_id, lang, parsed[0], result)
    extra: dict[str, Any] = {}
    if result.uploaded:
        extra["uploaded"] = [str(e.id) for e in result.uploaded]
    if result.removed:
        extra["removed"] = result.removed.filename
    order = _sections(view)
    position = order.index((part, section_id))
    action = fields.get("action", ["save"])[0]
    if result.newly_shown or remove_id or uploads or action != "next":
        # Stay: follow-up questions appeared, files changed, or the partner asked to.
        notice = "more" if result.newly_shown else "saved"
        query = urlencode({"lang": lang, "notice": notice, **extra}, doseq=True)
        return _see_other(f"{urls.base}/s/{part}/{section_id}?{query}")
    if position + 1 < len(order):
        return _see_other(urls.section(*order[position + 1], notice="saved"))
    return _see_other(urls.submit())


def _conflict(
    request: Request[Any, Any, Any],
    view: service.PortalView,
    token: str,
    part: int,
    section_id: str,
    lang: str,
    parsed: Any,
    result: service.SaveResult,
) -> Response[str]:
    t = translator(lang)
    template, section = _locate(view, part, section_id)
    rows = []
    hidden: list[tuple[str, str]] = []
    for question in section.questions:
        qid = question.id
        if qid not in parsed.raw:
            continue
        mine = parsed.answers.get(qid)
        theirs = result.theirs.get(qid)
        rows.append(
            {
                "number": v.question_number(template, section, question),
                "text": question.text.get(lang),
                "yours": v.describe(question, mine, lang, t),
                "theirs": v.describe(question, theirs, lang, t),
                "differs": mine != theirs,
            }
        )
        raw = parsed.raw[qid]
        hidden.append(("present", qid))
        hidden.extend((f"a:{qid}", value) for value in raw.values)
        if raw.na:
            hidden.append((f"na:{qid}", "1"))
        if raw.comment:
            hidden.append((f"c:{qid}", raw.comment))
    urls = _Urls(token, lang)
    return _page(
        request,
        "conflict",
        status=409,
        lang=lang,
        part_title=template.title.get(lang),
        section_title=section.title.get(lang),
        rows=rows,
        hidden_fields=hidden,
        answers_version=result.answers_version,
        uploaded=bool(result.uploaded),
        action_url=urls.section(part, section_id),
        section_url=urls.section(part, section_id),
        contact=_contact(view),
        partner_name=view.state.partner_name,
    )


@get("/{token:str}/submit", name="portal:submit-page")
async def submit_page(
    request: Request[Any, Any, Any], db: DbConnection, token: str
) -> Response[str] | Redirect:
    """What is still missing (each item linked to its question), or the submit form."""
    _, view = await _open(db, token)
    lang = _lang(request)
    if view.state.status not in EDITABLE_STATUSES:
        return _see_other(_Urls(token, lang).overview())
    return _submit_page(request, view, token, lang)


def _submit_page(
    request: Request[Any, Any, Any],
    view: service.PortalView,
    token: str,
    lang: str,
    *,
    status: int = 200,
    submitter: str = "",
    submitter_error: str | None = None,
) -> Response[str]:
    t = translator(lang)
    urls = _Urls(token, lang)
    missing = missing_items(service.part_states(view))
    answered, total = _totals(view)
    return _page(
        request,
        "submit",
        status=status,
        lang=lang,
        missing=v.missing_views(missing, [p.template for p in view.parts], lang, t, urls.section),
        answered=answered,
        total=total,
        action_url=urls.submit(),
        overview_url=urls.overview(),
        answers_version=view.state.answers_version,
        submitter=submitter,
        submitter_error=t(submitter_error) if submitter_error else None,
        flash=[],
        contact=_contact(view),
        partner_name=view.state.partner_name,
    )


@post("/{token:str}/submit", name="portal:submit", status_code=303)
async def submit(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, token: str
) -> Response[str] | Redirect:
    """Submit; refused with the missing list (422) until everything required is there."""
    link, view = await _open(db, token)
    lang = _lang(request)
    urls = _Urls(token, lang)
    form = _form_lists(await request.form())
    submitter = (form.get("submitter") or [""])[0].strip()[:200]
    if view.state.status in EDITABLE_STATUSES and LINE_CONTROL.search(submitter):
        # A name is one line: a control character (NUL, a line break) is refused, not stored.
        return _submit_page(
            request, view, token, lang, status=422, submitter=submitter, submitter_error="error_control"
        )
    if view.state.status in EDITABLE_STATUSES and (not submitter or not form.get("confirm")):
        return _submit_page(request, view, token, lang, status=422, submitter=submitter)
    result = await service.submit(db, link, submitter, settings, now=datetime.now(UTC))
    if not result.submitted:
        _, view = await _open(db, token)
        return _submit_page(request, view, token, lang, status=422, submitter=submitter)
    return _see_other(urls.overview(notice="submitted"))


@get("/{token:str}/findings", name="portal:findings")
async def findings_page(request: Request[Any, Any, Any], db: DbConnection, token: str) -> Response[str]:
    """The partner's open findings with our guidance, each answered with a plan and a date."""
    link, view = await _open(db, token)
    notice = request.query_params.get("notice")
    return await _findings_page(request, db, link, view, token, notice=notice)


async def _findings_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    link: LinkRow,
    view: service.PortalView,
    token: str,
    *,
    notice: str | None = None,
    refused: partner_side.Refused | None = None,
) -> Response[str]:
    """``refused``: that finding's plan or fix form is shown again with what was typed and
    why it was not saved."""
    lang = _lang(request)
    t = translator(lang)
    urls = _Urls(token, lang)
    texts = {(p.template_key, q.id): q.text.get(lang) for p in view.parts for _, q in p.template.questions()}
    findings = await partner_side.rows(
        db,
        await service.link_partner(db, link),
        lang,
        t,
        partner_side.Urls(plan=urls.respond, fix=urls.fix),
        refused=refused,
        question_text=texts,
        references=_references,
    )
    flash = {"plan": [t("plan_saved")], "fix": [t("rm_fix_saved")]}.get(notice or "", [])
    return _page(
        request,
        "findings",
        status=422 if refused else 200,
        lang=lang,
        findings=findings,
        overview_url=urls.overview(),
        flash=flash,
        contact=_contact(view),
        partner_name=view.state.partner_name,
    )


def _references(refs: Any) -> str | None:
    if not refs:
        return None
    parts = [f"ISO/IEC 27001:2022 {c}" for c in refs.get("iso27001", [])]
    parts += [f"PIPL art. {a}" for a in refs.get("pipl", [])]
    return ", ".join(parts) or None


@post("/{token:str}/findings/{finding_id:uuid}", name="portal:respond", status_code=303)
async def respond_to_finding(
    request: Request[Any, Any, Any], db: DbConnection, token: str, finding_id: UUID
) -> Response[str] | Redirect:
    link, view = await _open(db, token)
    lang = _lang(request)
    form = _form_lists(await request.form())
    plan = (form.get("plan") or [""])[0].strip()
    typed_on = (form.get("planned_on") or [""])[0].strip()
    now = datetime.now(UTC)
    # Refused in the partner's language beside the finding, keeping what was typed.
    error, planned_on = partner_side.check_plan(plan, typed_on, now.date())
    if error is None and planned_on is not None:
        await service.respond_to_finding(db, link, finding_id, plan, planned_on, now=now)
        return _see_other(_Urls(token, lang).findings(notice="plan") + f"#f-{finding_id}")
    refused = partner_side.Refused(
        finding_id=finding_id,
        form="plan",
        error=error or "error_date",
        values={"plan": plan, "planned_on": typed_on},
    )
    return await _findings_page(request, db, link, view, token, refused=refused)


@post(
    "/{token:str}/findings/{finding_id:uuid}/fix",
    name="portal:fix",
    request_max_body_size=MAX_SAVE_BODY,
    status_code=303,
)
async def fix_finding(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, token: str, finding_id: UUID
) -> Response[str] | Redirect:
    """The partner's fix for a finding: what was done and proof files; the finding then
    waits for our reviewer (``verifying``)."""
    link, view = await _open(db, token)
    lang = _lang(request)
    form = await request.form()
    note = str(form.get("note") or "").strip()
    proofs = await partner_side.proofs_of(form.getall("proof", []))
    error = await service.fix_finding(db, link, finding_id, note, proofs, settings, now=datetime.now(UTC))
    if error is None:
        return _see_other(_Urls(token, lang).findings(notice="fix") + f"#f-{finding_id}")
    refused = partner_side.Refused(finding_id=finding_id, form="fix", error=error, values={"fix_note": note})
    return await _findings_page(request, db, link, view, token, refused=refused)


# --- error pages -------------------------------------------------------------------------------------------


def portal_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    """Every portal error as a page in the partner's language, saying whom to contact."""
    lang = _lang(request)
    t = translator(lang)
    status = exc.status_code
    contact = None
    if isinstance(exc, service.LinkRefused):
        text = t("error_text_404") if status == 404 else t(f"error_text_410_{exc.reason}")
        if exc.contact:
            contact = {"name": exc.contact[0], "email": exc.contact[1]}
    else:
        status = status if status in (400, 403, 404, 409, 413, 415, 429) else 400
        text = t(f"error_text_{status}") if status != 404 else t("error_text_404")
    headers = {
        k: v
        for k, v in (exc.headers or {}).items()
        if k.lower() in ("retry-after",) or k.lower().startswith("ratelimit")
    }
    return _page(
        request,
        "error",
        status=status,
        headers=headers,
        lang=lang,
        title=t(f"error_title_{status}"),
        text=text,
        contact=contact,
    )


def portal_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    log.exception("portal error", exc_info=exc)
    lang = _lang(request)
    t = translator(lang)
    return _page(
        request,
        "error",
        status=500,
        lang=lang,
        title=t("error_title_500"),
        text=t("error_text_500"),
        contact=None,
    )
