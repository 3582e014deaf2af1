"""The plumbing of the self-service pages under ``/p``: the session guard and the
``viewer`` dependency, language, rendering, rate limits and error pages.

Protections, on this router only: the session cookie (``HttpOnly``, ``SameSite=Lax``,
path ``/p``, ``Secure`` behind https) resolved in one query per request; CSRF bound to
that session on every form (``SessionBoundCSRFMiddleware``, as on the staff pages); the
portal's security headers (strict Content-Security-Policy, no framing, no Referer, no
caching); rate limits per client address on every page and, on link requests, per
address typed and per client address; autoescaped templates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from time import time
from typing import Any, Final, cast

import asyncpg
import structlog
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState

from vendor_risk.assessments.emails import format_date, format_time
from vendor_risk.assessments.portal import RATE_LIMIT_STORE, guard_pages
from vendor_risk.assessments.rendering import render
from vendor_risk.errors import Problem
from vendor_risk.i18n import LANGUAGES, negotiate, translator
from vendor_risk.logging import ASGIApp
from vendor_risk.selfservice.models import Viewer
from vendor_risk.selfservice.service import LinkRefused, resolve
from vendor_risk.ui.forms import Form, read_form

log = structlog.get_logger("vendor_risk.selfservice")

SESSION_COOKIE: Final = "vr_ss_session"
CSRF_COOKIE: Final = "vr_ss_csrf"
COOKIE_PATH: Final = "/p"
LANGUAGE_NAMES: Final = {"zh-CN": "中文", "en": "English"}
VIEWER: Final = "selfservice_viewer"
# Route options: ``PUBLIC`` pages need no session (sign-in); ``UNSCOPED`` pages take a
# session that has not chosen its partner yet (the choice, sign-out).
PUBLIC: Final = "ss_public"
UNSCOPED: Final = "ss_unscoped"

# Every page, per client address (a contact clicks through a few pages a minute).
REQUESTS_PER_ADDRESS: Final = ("minute", 300)
# Link requests: each costs an email, so few per hour for one address typed, a few more
# per client address (an office behind one NAT).
LINKS_PER_EMAIL: Final = ("hour", 5)
LINKS_PER_CLIENT: Final = ("hour", 20)


class SignInRequired(HTTPException):
    status_code = 401


class ChoiceRequired(HTTPException):
    status_code = 409


def client_key(request: Request[Any, Any, Any]) -> str:
    # The ASGI server sets the client from X-Forwarded-For only for configured proxies.
    return f"selfservice-address:{request.client.host if request.client else 'unknown'}"


PAGE_LIMIT: Final = RateLimitConfig(
    rate_limit=REQUESTS_PER_ADDRESS, identifier_for_request=client_key, store=RATE_LIMIT_STORE
)
LINK_CLIENT_LIMIT: Final = RateLimitConfig(
    rate_limit=LINKS_PER_CLIENT,
    identifier_for_request=lambda r: "selfservice-link-" + client_key(r),
    store=RATE_LIMIT_STORE,
)


class _EmailLimiter:
    """Litestar's rate limiter counting per address typed: the address is in the posted
    form, which a middleware cannot read, so the handler spends from the same store with
    the same middleware's bookkeeping."""

    def __init__(self, rate: tuple[Any, int]) -> None:
        self.config = RateLimitConfig(rate_limit=rate, store=RATE_LIMIT_STORE)
        self.limiter = RateLimitMiddleware(app=_never_called, config=self.config)

    async def spend(self, request: Request[Any, Any, Any], email: str) -> int:
        """Count one request for ``email``; the seconds to wait when over the limit, else 0."""
        store = self.config.get_store_from_app(request.app)
        digest = hashlib.sha256(email.encode()).hexdigest()
        key = f"RateLimitMiddleware::selfservice-email:{digest}"
        history = await self.limiter.retrieve_cached_history(key, store)
        if len(history.history) >= self.limiter.max_requests:
            return max(1, history.reset - int(time()))
        await self.limiter.set_cached_history(key, history, store)
        return 0


async def _never_called(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    raise RuntimeError("the e-mail limiter is not a middleware")


EMAIL_LIMIT: Final = _EmailLimiter(LINKS_PER_EMAIL)


# --- session guard and dependency ------------------------------------------------------------------


def _asked_lang(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    lang = connection.query_params.get("lang")
    return lang if lang in LANGUAGES else None


async def require_viewer(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Resolve the session cookie to a partner contact (one query), or send the browser to
    the sign-in page; a session that has not chosen its partner reaches only the choice."""
    if handler.opt.get(PUBLIC):
        return
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired()
    pool: asyncpg.Pool = connection.app.state.db_pool
    async with pool.acquire() as conn:
        viewer = await resolve(conn, token, _asked_lang(connection))
    if viewer is None:
        raise SignInRequired()
    if viewer.partner_id is None and not handler.opt.get(UNSCOPED):
        raise ChoiceRequired()
    cast("dict[str, Any]", connection.scope)[VIEWER] = viewer


def provide_viewer(request: Request[Any, Any, Any]) -> Viewer:
    """The signed-in contact (``viewer.partner_id`` is the partner every query is scoped to)."""
    viewer = request.scope.get(VIEWER)
    if not isinstance(viewer, Viewer):
        raise SignInRequired()
    return viewer


def scoped_partner(viewer: Viewer) -> Any:
    """The partner id of a scoped session (the guard lets no unscoped one reach here)."""
    if viewer.partner_id is None:
        raise ChoiceRequired()
    return viewer.partner_id


# --- language and rendering ------------------------------------------------------------------------


def ss_lang(request: Request[Any, Any, Any]) -> str:
    viewer = request.scope.get(VIEWER)
    if isinstance(viewer, Viewer):
        # The session lookup already folded ?lang= into the session's language.
        return viewer.lang
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def _switch(request: Request[Any, Any, Any]) -> list[tuple[str, str, str]]:
    path = request.url.path if request.method == "GET" else "/p"
    return [(code, LANGUAGE_NAMES[code], f"{path}?lang={code}") for code in LANGUAGES]


def ss_page(
    request: Request[Any, Any, Any], name: str, *, status_code: int = 200, **context: Any
) -> Response[str]:
    """Render ``templates/selfservice/{name}.html`` (autoescaped) with the common context."""
    lang = context.pop("lang", None) or ss_lang(request)
    token = ScopeState.from_scope(request.scope).csrf_token
    viewer = request.scope.get(VIEWER)
    values = {
        "lang": lang,
        "t": translator(lang),
        "date": lambda d: format_date(d, lang) if d else "",
        "time": lambda d: format_time(d, lang) if d else "",
        "i18n": lambda text: text.get(lang) if text else "",
        "switch": _switch(request),
        "csrf_input": f'<input type="hidden" name="_csrf_token" value="{token}">' if token else "",
        "viewer": viewer if isinstance(viewer, Viewer) else None,
        "path": request.url.path,
        **context,
    }
    return Response(
        render(f"selfservice/{name}.html", values), status_code=status_code, media_type=MediaType.HTML
    )


async def ss_form(request: Request[Any, Any, Any]) -> Form:
    """The posted form, its messages in the self-service page's language."""
    posted = await read_form(request)
    return Form(ss_lang(request), posted.values, posted.files)


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303)


def set_session_cookie(response: Response[Any], token: str, secure: bool, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, path=COOKIE_PATH, max_age=max_age, httponly=True, secure=secure, samesite="lax"
    )


# --- errors ------------------------------------------------------------------------------------------


def _refusal_headers(exc: HTTPException) -> Mapping[str, str]:
    return {
        k: v
        for k, v in (exc.headers or {}).items()
        if k.lower() == "retry-after" or k.lower().startswith("ratelimit")
    }


def ss_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Every refusal as a page in the contact's language; no session goes to sign-in."""
    lang = ss_lang(request)
    t = translator(lang)
    if isinstance(exc, SignInRequired):
        redirect = see_other(f"/p/sign-in?lang={lang}")
        redirect.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return redirect
    if isinstance(exc, ChoiceRequired):
        return see_other(f"/p/choose?lang={lang}")
    if isinstance(exc, LinkRefused):
        return ss_page(
            request,
            "link_refused",
            status_code=exc.status_code,
            title=t(f"ss_link_{exc.reason}_title"),
            text=t(f"ss_link_{exc.reason}_text"),
        )
    status = exc.status_code if exc.status_code in (400, 403, 404, 409, 413, 415, 429) else 400
    if isinstance(exc, NotFoundException):
        status = 404
    response = ss_page(
        request,
        "error",
        status_code=status,
        title=t(f"ss_error_{status}_title"),
        text=t(f"ss_error_{status}_text"),
    )
    response.headers.update(_refusal_headers(exc))
    return response


def ss_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, Problem):  # pragma: no cover - Problem is an HTTPException
        return ss_error(request, exc)
    log.exception("self-service page error", exc_info=exc)
    t = translator(ss_lang(request))
    return ss_page(
        request, "error", status_code=500, title=t("ss_error_500_title"), text=t("ss_error_500_text")
    )


def ss_guard_middleware(app: ASGIApp) -> Any:
    """Outermost layer of ``/p`` (see ``guard_pages``): headers, refusals as pages."""
    return guard_pages(app, ss_error)
