"""A contact's notice link: ``/n/{token}`` shows the notice version sent, in Chinese or
English, and takes the "I have read and will comply" acknowledgement with the person's
name. Like the questionnaire portal: no account (the token is the credential, stored only
hashed), CSRF on the form (cookie scoped to ``/n``), rate limits per address and per
token, the portal's security headers, autoescaped templates; works without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState

from vendor_risk.assessments.emails import format_date, format_time
from vendor_risk.assessments.portal import (
    LANGUAGE_NAMES,
    csrf_secret,
    guard_pages,
    link_rate_limits,
    portal_internal_error,
)
from vendor_risk.assessments.rendering import render
from vendor_risk.db import DbConnection
from vendor_risk.i18n import LANGUAGES, negotiate, translator
from vendor_risk.logging import ASGIApp
from vendor_risk.notices import service
from vendor_risk.notices.models import AcknowledgementIn
from vendor_risk.routers import MountedOnce
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, read_form

COOKIE: Final = "vr_notice_csrf"


def _lang(request: Request[Any, Any, Any], default: str | None = None) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    return default or negotiate(None, request.headers.get("accept-language"))


def _page(
    request: Request[Any, Any, Any], name: str, lang: str, *, status: int = 200, **context: Any
) -> Response[str]:
    token = ScopeState.from_scope(request.scope).csrf_token
    values = {
        "lang": lang,
        "t": translator(lang),
        "switch": [(c, LANGUAGE_NAMES[c], f"{request.url.path}?lang={c}") for c in LANGUAGES],
        "csrf_input": f'<input type="hidden" name="_csrf_token" value="{token}">' if token else "",
        "contact": None,
        "partner_name": None,
        "path_self": request.url.path,
        **context,
    }
    return Response(render(f"notices/{name}.html", values), status_code=status, media_type=MediaType.HTML)


def _context(opened: service.OpenNotice, lang: str) -> dict[str, Any]:
    r = opened.recipient
    return {
        "partner_name": r["partner_name"],
        "contact": {"name": r["sender_name"], "email": r["sender_email"]} if r["sender_email"] else None,
        "notice": opened.version,
        "recipient": r,
        "due_on": format_date(r["due_on"], lang) if r["due_on"] else None,
        "acknowledged_at": format_time(r["acknowledged_at"], lang) if r["acknowledged_at"] else None,
    }


@get("/{token:str}", name="notice:link")
async def notice_page(request: Request[Any, Any, Any], db: DbConnection, token: str) -> Response[str]:
    """The notice in the contact's language (or the one chosen), with the form."""
    opened = await service.open_link(db, token, datetime.now(UTC))
    lang = _lang(request, opened.recipient["locale"])
    form = Form(lang, {"name": opened.recipient["contact_name"]})
    return _page(request, "link", lang, form=form, **_context(opened, lang))


@post("/{token:str}", name="notice:acknowledge", status_code=303)
async def acknowledge(request: Request[Any, Any, Any], db: DbConnection, token: str) -> Response[Any]:
    """Acknowledge, "I have read and will comply": the name given, the time and the version are kept."""
    now = datetime.now(UTC)
    opened = await service.open_link(db, token, now)
    lang = _lang(request, opened.recipient["locale"])
    form = await read_form(request)
    form = Form(lang, form.values)
    data = form.decode(AcknowledgementIn, {"name": form.get("name"), "agree": form.checked("agree") or None})
    if data is not None and not data.agree:
        form.error("agree", form.t("nt_err_agree"))
    if "agree" in form.errors:
        form.errors["agree"] = form.t("nt_err_agree")
    if data is None or form.invalid or not opened.version.ack_required:
        return _page(request, "link", lang, status=400, form=form, **_context(opened, lang))
    await service.acknowledge(db, opened.recipient["id"], data.name, "link", now)
    # 303: the browser shows the receipt with GET, and a reload posts nothing again.
    return Redirect(f"/n/{token}?{urlencode({'lang': lang})}#receipt", status_code=303)


def notice_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    lang = _lang(request)
    t = translator(lang)
    status = exc.status_code if exc.status_code in (400, 403, 404, 410, 429) else 400
    contact = None
    if isinstance(exc, service.NoticeLinkRefused):
        text = t(f"nt_link_{exc.reason}")
        if exc.contact:
            contact = {"name": exc.contact[0], "email": exc.contact[1]}
    else:
        text = t(f"error_text_{status}") if status not in (404, 410) else t("nt_link_unknown")
    response = _page(
        request,
        "link_error",
        lang,
        status=status,
        title=t(f"error_title_{status}"),
        text=text,
        contact=contact,
    )
    for key, value in (exc.headers or {}).items():
        if key.lower() == "retry-after" or key.lower().startswith("ratelimit"):
            response.headers[key] = value
    return response


def _guard(app: ASGIApp) -> Any:
    return guard_pages(app, notice_error)


def notice_router(settings: Settings) -> Router:
    csrf = CSRFConfig(
        secret=csrf_secret(settings, "notices"),
        cookie_name=COOKIE,
        cookie_path="/n",
        cookie_httponly=True,
        cookie_secure=settings.public_url.startswith("https://"),
        cookie_samesite="lax",
    )
    return MountedOnce(
        path="/n",
        route_handlers=[notice_page, acknowledge],
        middleware=[
            _guard,
            link_rate_limits(settings, "notice"),
            DefineMiddleware(CSRFMiddleware, config=csrf),
        ],
        exception_handlers={HTTPException: notice_error, Exception: portal_internal_error},
        include_in_schema=False,
    )
