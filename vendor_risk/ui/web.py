"""The plumbing of the staff pages: session guard, language, rendering, security headers and
error pages. The pages themselves are in ``vendor_risk.ui.routes``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
import structlog
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.types import Guard
from litestar.utils.scope.state import ScopeState

from vendor_risk.approvals.service import SecondApprovalRequired
from vendor_risk.assessments.emails import format_date, format_time
from vendor_risk.assessments.portal import guard_pages
from vendor_risk.assessments.rendering import render
from vendor_risk.audit import actors
from vendor_risk.auth.guards import current_user
from vendor_risk.auth.models import CurrentUser
from vendor_risk.auth.sessions import resolve_session
from vendor_risk.errors import Problem
from vendor_risk.i18n import LANGUAGES, has_label, negotiate, translator
from vendor_risk.logging import ASGIApp
from vendor_risk.partners.labels import Labels

log = structlog.get_logger("vendor_risk.ui")

SESSION_COOKIE: Final = "vr_ui_session"
CSRF_COOKIE: Final = "vr_ui_csrf"
LANGUAGE_NAMES: Final = {"zh-CN": "中文", "en": "English"}
PUBLIC: Final = "ui_public"


class SignInRequired(HTTPException):
    status_code = 401


def _asked_lang(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    lang = connection.query_params.get("lang")
    return lang if lang in LANGUAGES else None


async def require_session(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Resolve the session cookie to a staff user (one query, which also checks the user and
    the key), or send the browser to the sign-in page."""
    if handler.opt.get(PUBLIC):
        return
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired()
    pool: asyncpg.Pool = connection.app.state.db_pool
    async with pool.acquire() as conn:
        user = await resolve_session(conn, token, _asked_lang(connection))
    if user is None:
        raise SignInRequired()
    connection.scope["user"] = user
    connection.scope["auth"] = user.key_id


async def allows(guard: Guard, request: Request[Any, Any, Any]) -> bool:
    """Whether the API's own role guard lets this user through: the pages show a write button
    exactly when the API would accept the write."""
    try:
        outcome = guard(request, None)  # type: ignore[arg-type]
        if outcome is not None:
            await outcome
    except Problem:
        return False
    return True


def page_lang(request: Request[Any, Any, Any]) -> str:
    user = request.scope.get("user")
    if isinstance(user, CurrentUser):
        # The session lookup already folded ?lang= into the user's locale.
        return user.locale
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def with_query(path: str, params: Mapping[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(kept, doseq=True)}" if kept else path


def _switch(request: Request[Any, Any, Any]) -> list[tuple[str, str, str]]:
    if request.method != "GET":
        # A page answering a form post: its address only takes posts.
        return [(code, LANGUAGE_NAMES[code], f"/ui?lang={code}") for code in LANGUAGES]
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key != "lang":
            params.setdefault(key, []).append(value)
    return [
        (code, LANGUAGE_NAMES[code], with_query(request.url.path, {**params, "lang": code}))
        for code in LANGUAGES
    ]


def page(
    request: Request[Any, Any, Any], name: str, *, status_code: int = 200, **context: Any
) -> Response[str]:
    """Render a template (autoescaped) with the common context: ``name`` with a slash is a
    path under ``templates/`` (``partners/form`` is ``templates/partners/form.html``, a
    domain's own pages); a bare name is one of the shell's, ``templates/ui/{name}.html``."""
    lang = page_lang(request)
    token = ScopeState.from_scope(request.scope).csrf_token
    user = request.scope.get("user")
    t = translator(lang)
    values = {
        "lang": lang,
        "t": t,
        "actor": lambda label, actor_id=None: actors.read(label, actor_id, t),
        "date": lambda d: format_date(d, lang) if d else "",
        "time": lambda d: format_time(d, lang) if d else "",
        "i18n": lambda text: text.get(lang) if text else "",
        "switch": _switch(request),
        "csrf_input": f'<input type="hidden" name="_csrf_token" value="{token}">' if token else "",
        "user": user if isinstance(user, CurrentUser) else None,
        "path": request.url.path,
        "dev_mailbox": bool(
            getattr(request.app.state, "settings", None) and request.app.state.settings.dev_mailbox
        ),
        **context,
    }
    template = f"{name}.html" if "/" in name else f"ui/{name}.html"
    return Response(render(template, values), status_code=status_code, media_type=MediaType.HTML)


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303)


def signed_in(request: Request[Any, Any, Any]) -> CurrentUser:
    return current_user(request)


# --- errors and headers ------------------------------------------------------------------------------


def problem_text(lang: str, exc: Problem) -> str:
    """A refusal's detail in ``lang``: the catalogue's words for its stable code (the
    problem's slug), else, the service's detail being English, that detail on English
    pages and a general sentence on Chinese ones."""
    key = f"cs_problem_{exc.slug}"
    if has_label(key):
        return translator(lang)(key)
    return exc.detail if lang == "en" else translator(lang)("cs_problem_other")


def ui_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Every refusal as a page in the viewer's language; a missing session goes to sign-in."""
    if isinstance(exc, SignInRequired):
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = with_query("/ui/login", {"next": back if request.method == "GET" else None})
        response = see_other(target)
        response.delete_cookie(SESSION_COOKIE, path="/ui")
        return response
    if isinstance(exc, SecondApprovalRequired):
        # Not a refusal: the first approval is recorded and awaits another risk owner.
        t = translator(page_lang(request))
        decision = exc.decision
        return page(
            request,
            "error",
            status_code=202,
            title=t("approval_pending_title"),
            detail=t(
                "approval_pending_detail",
                what=t(f"approval_decision_{decision.decision}"),
                partner=decision.partner_name,
                rule=decision.rule_id,
            ),
            unmet=[],
        )
    status = exc.status_code if exc.status_code in (400, 403, 404, 409, 413, 415, 422) else 400
    if isinstance(exc, NotFoundException):
        status = 404
    t = translator(page_lang(request))
    detail = problem_text(page_lang(request), exc) if isinstance(exc, Problem) else ""
    return page(
        request,
        "error",
        status_code=status,
        title=t(f"error_{status}"),
        detail=detail,
        # Each unmet condition in the page language, from its code (partners.labels).
        unmet=Labels(page_lang(request)).unmet_items((exc.extra or {}).get("unmet", []))
        if isinstance(exc, Problem) and isinstance(exc.extra, dict)
        else [],
    )


def ui_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("staff page error", exc_info=exc)
    t = translator(page_lang(request))
    return page(request, "error", status_code=500, title=t("error_500"), detail="", unmet=[])


def ui_guard_middleware(app: ASGIApp) -> Any:
    """Outermost layer of ``/ui`` (see ``guard_pages``), its refusals as staff pages."""
    return guard_pages(app, ui_error)
