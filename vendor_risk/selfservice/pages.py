"""Sign-in, partner choice, sign-out and the home page of self-service.

The emailed link opens a page with one button: the link is spent by that form's post,
never by the GET, so a mail scanner that follows links does not use it up.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post

from vendor_risk.db import DbConnection
from vendor_risk.i18n import has_label, translator
from vendor_risk.selfservice import service
from vendor_risk.selfservice.models import Viewer
from vendor_risk.selfservice.sections import SectionContext, build_sections
from vendor_risk.selfservice.web import (
    COOKIE_PATH,
    EMAIL_LIMIT,
    LINK_CLIENT_LIMIT,
    PUBLIC,
    SESSION_COOKIE,
    UNSCOPED,
    scoped_partner,
    see_other,
    set_session_cookie,
    ss_form,
    ss_lang,
    ss_page,
)
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form


def client_of(request: Request[Any, Any, Any]) -> service.Client:
    return service.Client(
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


# --- sign-in -----------------------------------------------------------------------------------------


def _sign_in_page(request: Request[Any, Any, Any], form: Form, *, status: int = 200) -> Response[str]:
    done = request.query_params.get("done")
    return ss_page(request, "sign_in", status_code=status, form=form, request_done=done)


@get("/sign-in", opt={PUBLIC: True}, name="ss:sign-in")
async def sign_in_page(request: Request[Any, Any, Any]) -> Response[str]:
    return _sign_in_page(request, Form(ss_lang(request)))


@post("/sign-in", opt={PUBLIC: True}, name="ss:request-link", middleware=[LINK_CLIENT_LIMIT.middleware])
async def request_link(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[Any]:
    """Email a sign-in link; the same answer whether or not the address is a contact."""
    form = await ss_form(request)
    email = service.normalise_email(form.get("email"))
    if not email:
        form.error("email", form.t("form_required"))
    elif not service.valid_email(email):
        form.error("email", form.t("ss_email_invalid"))
    if form.invalid:
        return _sign_in_page(request, form, status=400)
    wait = await EMAIL_LIMIT.spend(request, email)
    if wait:
        form.error("email", form.t("ss_link_rate_limited", minutes=max(1, (wait + 59) // 60)))
        response = _sign_in_page(request, form, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    await service.request_link(db, settings, email, form.lang, client_of(request))
    return see_other(f"/p/sign-in/sent?lang={form.lang}")


@get("/sign-in/sent", opt={PUBLIC: True}, name="ss:link-sent")
async def link_sent(request: Request[Any, Any, Any]) -> Response[str]:
    return ss_page(request, "link_sent", minutes=int(service.LINK_LIFETIME.total_seconds() // 60))


@get("/link/{token:str}", opt={PUBLIC: True}, name="ss:link")
async def link_page(request: Request[Any, Any, Any], db: DbConnection, token: str) -> Response[str]:
    """A live link shows the button that spends it; a spent, expired or unknown one says so."""
    await service.check_link(db, token)
    return ss_page(request, "link", token=token)


@post("/link/{token:str}", opt={PUBLIC: True}, name="ss:use-link")
async def use_link(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, token: str
) -> Response[Any]:
    """Spend the link and open the session (a session already in this browser ends)."""
    done = await service.sign_in(db, token, client_of(request))
    # Only a link that worked ends the session this browser had (another contact's, say).
    if old := request.cookies.get(SESSION_COOKIE):
        await service.sign_out(db, old)
    lang = ss_lang(request)
    response = see_other(f"/p?lang={lang}" if len(done.choices) == 1 else f"/p/choose?lang={lang}")
    set_session_cookie(
        response,
        done.token,
        settings.public_url.startswith("https://"),
        int(service.SESSION_LIFETIME.total_seconds()),
    )
    return response


# --- partner choice and sign-out ---------------------------------------------------------------------


@get("/choose", opt={UNSCOPED: True}, name="ss:choose")
async def choose_page(request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer) -> Response[str]:
    """A contact of several partners picks the one to act for (and may switch later)."""
    return ss_page(request, "choose", choices=await service.choices_for(db, viewer), form=None)


@post("/choose", opt={UNSCOPED: True}, name="ss:chosen")
async def choose(request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer) -> Response[Any]:
    form = await ss_form(request)
    try:
        partner_id = UUID(form.get("partner_id"))
    except ValueError:
        form.error("partner_id", form.t("form_choose"))
        return ss_page(
            request, "choose", status_code=400, choices=await service.choices_for(db, viewer), form=form
        )
    await service.choose_partner(db, viewer, partner_id)
    return see_other(f"/p?lang={form.lang}")


@post("/sign-out", opt={UNSCOPED: True}, name="ss:sign-out")
async def sign_out(request: Request[Any, Any, Any], db: DbConnection) -> Response[Any]:
    lang = ss_lang(request)
    if token := request.cookies.get(SESSION_COOKIE):
        await service.sign_out(db, token)
    response = see_other(f"/p/sign-in?lang={lang}&done=out")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


# --- home ------------------------------------------------------------------------------------------------


@get("/", name="ss:home")
async def home(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer
) -> Response[str]:
    """The partner's page: every section from ``sections.SECTION_PROVIDERS``."""
    lang = ss_lang(request)
    ctx = SectionContext(
        request=request,
        db=db,
        settings=settings,
        viewer=viewer,
        partner_id=scoped_partner(viewer),
        lang=lang,
        t=translator(lang),
    )
    several = len(await service.choices_for(db, viewer)) > 1
    # ``?done=<key>`` after an action: its confirmation, the catalogue's ``ss_done_<key>``.
    done = request.query_params.get("done") or ""
    flashes = [ctx.t(f"ss_done_{done}")] if has_label(f"ss_done_{done}") else []
    return ss_page(request, "home", sections=await build_sections(ctx), several=several, flashes=flashes)


@post("/questionnaires/{assessment_id:uuid}/open", name="ss:open-questionnaire")
async def open_questionnaire(
    request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer, assessment_id: UUID
) -> Response[Any]:
    """Into the assessment portal with a fresh link (see ``service.open_questionnaire``)."""
    token = await service.open_questionnaire(db, viewer, assessment_id)
    return see_other(f"/q/{token}?lang={ss_lang(request)}")


PAGES = [
    sign_in_page,
    request_link,
    link_sent,
    link_page,
    use_link,
    choose_page,
    choose,
    sign_out,
    home,
    open_questionnaire,
]
