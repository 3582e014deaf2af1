"""The sign-in and account pages under ``/ui``: sign-in with password and second factor or
single sign-on, invitation and reset links, enrolment, recovery codes, the user's own
sessions and API keys, and the administrator's users and keys.

They call ``auth.service`` (and ``auth.oidc``) like the API does; the administrator's
buttons carry the API's own guard, so a page never allows more than the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from uuid import UUID

import httpx
from litestar import Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect

from vendor_risk.auth import repository as repo
from vendor_risk.auth import service
from vendor_risk.auth.guards import requires_admin
from vendor_risk.auth.models import Role, UserCreate, UserUpdate
from vendor_risk.auth.routes import actor_of
from vendor_risk.auth.secondfactor import provisioning_uri, qr_svg
from vendor_risk.auth.sessions import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.i18n import translator
from vendor_risk.pagination import created_after, paged
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, choices, read_form
from vendor_risk.ui.web import (
    PUBLIC,
    SESSION_COOKIE,
    allows,
    page,
    page_lang,
    see_other,
    signed_in,
    with_query,
)

PENDING_COOKIE: Final = "vr_ui_pending"
SSO_COOKIE: Final = "vr_ui_sso"
Query = Annotated[str | None, Parameter(max_length=300)]
ROLES: Final = [r.value for r in Role]
FIELD_MAX: Final = {"email": 254, "password": 200, "code": 20, "name": 200}


def _safe_next(target: str | None) -> str:
    # Only a path of these pages: never another site (open redirect).
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"


def _client(request: Request[Any, Any, Any]) -> service.Client:
    address = request.client.host if request.client else ""
    return service.Client(address=address, user_agent=request.headers.get("user-agent", ""))


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def _set_cookie(response: Response[Any], name: str, value: str, settings: Settings, max_age: int) -> None:
    response.set_cookie(
        name, value, path="/ui", max_age=max_age, httponly=True, secure=_secure(settings), samesite="lax"
    )


def _signed_in(response: Response[Any], done: service.SignedIn, settings: Settings) -> Response[Any]:
    _set_cookie(response, SESSION_COOKIE, done.token, settings, int(ABSOLUTE_TIMEOUT.total_seconds()))
    response.delete_cookie(PENDING_COOKIE, path="/ui")
    return response


def _too_long(form: Form, *names: str) -> bool:
    """Over-long values are refused beside their field before anything else happens."""
    for name in names:
        limit = FIELD_MAX.get(name, 200)
        if len(form.get(name)) > limit:
            form.error(name, form.t("form_too_long", max=limit))
    return form.invalid


# --- sign-in --------------------------------------------------------------------------------------


def _login(
    request: Request[Any, Any, Any],
    settings: Settings,
    form: Form,
    *,
    status: int = 200,
    notice: str | None = None,
) -> Response[str]:
    return page(
        request,
        "auth/login",
        status_code=status,
        form=form,
        next=_safe_next(form.get("next")),
        password_signin=settings.password_signin,
        sso=bool(settings.oidc_issuer),
        notice=notice,
    )


@get("/login", opt={PUBLIC: True}, name="ui:login")
async def login_page(
    request: Request[Any, Any, Any], settings: Settings, next: Query = None, done: Query = None
) -> Response[str]:
    t = translator(page_lang(request))
    notice = t("auth_password_saved") if done == "password" else None
    if done == "reset":
        notice = t("auth_reset_sent")
    return _login(request, settings, Form(page_lang(request), {"next": _safe_next(next)}), notice=notice)


@post("/login", opt={PUBLIC: True}, name="ui:sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[Any]:
    """Email and password; then the second step when the user has (or must have) one. A
    wrong password and an unknown email get the same page."""
    form = await read_form(request)
    t = form.t
    if not settings.password_signin:
        form.error("_form", t("auth_password_signin_off"))
        return _login(request, settings, form, status=403)
    email, password = form.get("email"), form.values.get("password", "")
    password = password[0] if isinstance(password, list) else password
    if not email:
        form.error("email", t("form_required"))
    if not password:
        form.error("password", t("form_required"))
    if _too_long(form, "email", "password") or form.invalid:
        return _login(request, settings, form, status=400)
    try:
        outcome = await service.sign_in(
            db, settings, email, password, _client(request), _safe_next(form.get("next"))
        )
    except service.SignInRefused as refused:
        return _refused(request, settings, form, refused)
    if isinstance(outcome, service.SignedIn):
        return _signed_in(see_other(outcome.next), outcome, settings)
    response = see_other("/ui/login/code" if outcome.stage == "code" else "/ui/login/enrol")
    _set_cookie(
        response, PENDING_COOKIE, outcome.token, settings, int(service.CHALLENGE_LIFETIME.total_seconds())
    )
    return response


def _refused(
    request: Request[Any, Any, Any], settings: Settings, form: Form, refused: service.SignInRefused
) -> Response[str]:
    t = form.t
    if refused.reason == "throttled":
        form.error("_form", t("auth_throttled", seconds=refused.retry_after))
        response = _login(request, settings, form, status=429)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    form.error("_form", t("auth_refused"))
    return _login(request, settings, form, status=401)


async def _pending(request: Request[Any, Any, Any], db: DbConnection, stage: str) -> service.Pending | None:
    token = request.cookies.get(PENDING_COOKIE, "")
    pending = await service.pending_sign_in(db, token) if token else None
    return pending if pending is not None and pending.stage == stage else None


def _start_over(request: Request[Any, Any, Any]) -> Response[Any]:
    response = see_other(with_query("/ui/login", {"lang": request.query_params.get("lang")}))
    response.delete_cookie(PENDING_COOKIE, path="/ui")
    return response


def _code_page(request: Request[Any, Any, Any], form: Form, status: int = 200) -> Response[str]:
    return page(request, "auth/code", status_code=status, form=form)


@get("/login/code", opt={PUBLIC: True}, name="ui:login-code")
async def code_page(request: Request[Any, Any, Any], db: DbConnection) -> Response[Any]:
    if await _pending(request, db, "code") is None:
        return _start_over(request)
    return _code_page(request, Form(page_lang(request)))


@post("/login/code", opt={PUBLIC: True}, name="ui:login-code-check", status_code=303)
async def check_code(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[Any]:
    """A code from the authenticator app, or one of the recovery codes."""
    form = await read_form(request)
    if not form.get("code"):
        form.error("code", form.t("form_required"))
    if _too_long(form, "code") or form.invalid:
        return _code_page(request, form, 400)
    try:
        done = await service.verify_second_factor(
            db, settings, request.cookies.get(PENDING_COOKIE, ""), form.get("code"), _client(request)
        )
    except service.SignInRefused as refused:
        if refused.reason == "expired":
            return _start_over(request)
        if refused.reason == "throttled":
            form.error("code", form.t("auth_throttled", seconds=refused.retry_after))
            return _code_page(request, form, 429)
        form.error("code", form.t("auth_code_wrong"))
        return _code_page(request, form, 401)
    return _signed_in(see_other(done.next), done, settings)


def _enrol_page(
    request: Request[Any, Any, Any], form: Form, secret: str, email: str, action: str, status: int = 200
) -> Response[str]:
    return page(
        request,
        "auth/enrol",
        status_code=status,
        form=form,
        secret=secret,
        qr=qr_svg(provisioning_uri(secret, email)),
        action=action,
    )


@get("/login/enrol", opt={PUBLIC: True}, name="ui:login-enrol")
async def enrol_at_sign_in_page(request: Request[Any, Any, Any], db: DbConnection) -> Response[Any]:
    """The role requires a second factor and this user has none yet: enrol before entering."""
    pending = await _pending(request, db, "enrol")
    if pending is None:
        return _start_over(request)
    secret = await service.enrolment_secret(db, pending.user.id)
    return _enrol_page(request, Form(page_lang(request)), secret, pending.user.email, "/ui/login/enrol")


@post("/login/enrol", opt={PUBLIC: True}, name="ui:login-enrol-confirm", status_code=200)
async def enrol_at_sign_in(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[Any]:
    pending = await _pending(request, db, "enrol")
    if pending is None:
        return _start_over(request)
    form = await read_form(request)
    if _too_long(form, "code"):
        secret = await service.enrolment_secret(db, pending.user.id)
        return _enrol_page(request, form, secret, pending.user.email, "/ui/login/enrol", 400)
    try:
        outcome = await service.enrol_at_sign_in(
            db, request.cookies.get(PENDING_COOKIE, ""), form.get("code"), _client(request)
        )
    except service.SignInRefused:
        return _start_over(request)
    if outcome is None:
        form.error("code", form.t("auth_code_wrong"))
        secret = await service.enrolment_secret(db, pending.user.id)
        return _enrol_page(request, form, secret, pending.user.email, "/ui/login/enrol", 400)
    done, codes = outcome
    response = page(request, "auth/recovery_codes", codes=codes, next=done.next)
    return _signed_in(response, done, settings)


@post("/logout", name="ui:sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any], db: DbConnection) -> Redirect:
    await service.sign_out(db, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


# --- one-time links: set a password, forgot password -----------------------------------------------


def _gone(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "auth/gone", status_code=410)


def _password_page(
    request: Request[Any, Any, Any], form: Form, token: str, purpose: str, email: str, status: int = 200
) -> Response[str]:
    return page(
        request, "auth/password", status_code=status, form=form, token=token, purpose=purpose, email=email
    )


@get("/password/{token:str}", opt={PUBLIC: True}, name="ui:password")
async def password_page(request: Request[Any, Any, Any], db: DbConnection, token: str) -> Response[str]:
    """The page an invitation or reset email links to; a used or expired link says so."""
    try:
        user, purpose = await service.link_owner(db, token)
    except service.LinkGone:
        return _gone(request)
    return _password_page(request, Form(page_lang(request)), token, purpose, user.email)


@post("/password/{token:str}", opt={PUBLIC: True}, name="ui:password-set", status_code=303)
async def set_password(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, token: str
) -> Response[Any]:
    form = await read_form(request)
    try:
        user, purpose = await service.link_owner(db, token)
    except service.LinkGone:
        return _gone(request)
    raw = form.values.get("password", "")
    confirm = form.values.get("confirm", "")
    password = raw[0] if isinstance(raw, list) else raw
    confirmation = confirm[0] if isinstance(confirm, list) else confirm
    if _too_long(form, "password"):
        return _password_page(request, form, token, purpose, user.email, 400)
    try:
        await service.set_password(db, token, password, confirmation, _client(request), form.lang)
    except service.LinkGone:
        return _gone(request)
    except Problem as exc:
        form.problem(exc)
        return _password_page(request, form, token, purpose, user.email, exc.status_code)
    return see_other(with_query("/ui/login", {"done": "password"}))


@get("/password/forgot", opt={PUBLIC: True}, name="ui:forgot")
async def forgot_page(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "auth/forgot", form=Form(page_lang(request)))


@post("/password/forgot", opt={PUBLIC: True}, name="ui:forgot-send", status_code=303)
async def forgot(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[Any]:
    """Ask for a reset link: the same answer whether or not the email has an account."""
    form = await read_form(request)
    email = form.get("email")
    if not email:
        form.error("email", form.t("form_required"))
    elif "@" not in email:
        form.error("email", form.t("form_format"))
    if _too_long(form, "email") or form.invalid:
        return page(request, "auth/forgot", status_code=400, form=form)
    await service.request_reset(db, settings, email, _client(request))
    return see_other(with_query("/ui/login", {"done": "reset"}))


# --- single sign-on -------------------------------------------------------------------------------


@get("/sso/start", opt={PUBLIC: True}, name="ui:sso-start")
async def sso_start(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, next: Query = None
) -> Response[Any]:
    if not settings.oidc_issuer:
        return _sso_refused(request, "off")
    from vendor_risk.auth import oidc  # its JOSE libraries load on first sign-on, not at start

    try:
        async with httpx.AsyncClient() as http:
            token, url = await oidc.start(db, http, settings, _safe_next(next))
    except httpx.HTTPError:
        return _sso_refused(request, "provider", status=502)
    response = Redirect(url, status_code=303)
    _set_cookie(response, SSO_COOKIE, token, settings, int(oidc.FLOW_LIFETIME.total_seconds()))
    return response


def _sso_refused(request: Request[Any, Any, Any], reason: str, status: int = 403) -> Response[str]:
    response = page(request, "auth/sso_refused", status_code=status, reason=reason)
    response.delete_cookie(SSO_COOKIE, path="/ui")
    return response


@get("/sso/callback", opt={PUBLIC: True}, name="ui:sso-callback")
async def sso_callback(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[Any]:
    """Where the provider sends the browser back; every refusal is a page naming why."""
    if not settings.oidc_issuer:
        return _sso_refused(request, "off")
    params = {k: v[:2000] for k, v in request.query_params.items() if k in ("code", "state", "error")}
    from vendor_risk.auth import oidc  # its JOSE libraries load on first sign-on, not at start

    try:
        async with httpx.AsyncClient() as http:
            done = await oidc.finish(
                db, http, settings, request.cookies.get(SSO_COOKIE, ""), params, _client(request)
            )
    except oidc.SsoRefused as refused:
        return _sso_refused(request, refused.reason)
    except httpx.HTTPError:
        return _sso_refused(request, "provider", status=502)
    except service.SignInRefused:
        return _sso_refused(request, "disabled")
    response = _signed_in(see_other(done.next), done, settings)
    response.delete_cookie(SSO_COOKIE, path="/ui")
    return response


# --- my account: sessions, second factor, API keys -------------------------------------------------


async def _account(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    *,
    status: int = 200,
    key_form: Form | None = None,
    new_key: str | None = None,
    notice: str | None = None,
) -> Response[str]:
    me = signed_in(request)
    user = await repo.get_user(db, me.id)
    if user is None:
        raise Problem(404, "not-found", "user does not exist")
    sessions = await repo.sessions_of_user(db, me.id, IDLE_TIMEOUT)
    keys = await repo.keys_of_user(db, me.id)
    return page(
        request,
        "auth/account",
        status_code=status,
        account=user,
        sessions=sessions,
        current_session=me.session_id,
        keys=keys,
        key_form=key_form or Form(page_lang(request)),
        new_key=new_key,
        notice=notice,
        required=service.needs_second_factor(user, settings),
    )


@get("/account", name="ui:account")
async def account_page(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[str]:
    return await _account(request, db, settings)


@post("/account/sessions/{session_id:uuid}/end", name="ui:account-end-session", status_code=303)
async def end_my_session(request: Request[Any, Any, Any], db: DbConnection, session_id: UUID) -> Redirect:
    me = signed_in(request)
    await service.end_session(db, actor_of(request), me.id, session_id)
    return see_other("/ui/login" if session_id == me.session_id else "/ui/account#sessions")


@get("/account/second-factor", name="ui:account-enrol")
async def enrol_page(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    me = signed_in(request)
    secret = await service.enrolment_secret(db, me.id)
    return _enrol_page(request, Form(page_lang(request)), secret, me.email, "/ui/account/second-factor")


@post("/account/second-factor", name="ui:account-enrol-confirm", status_code=200)
async def enrol(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    me = signed_in(request)
    form = await read_form(request)
    codes = (
        None
        if _too_long(form, "code")
        else await service.confirm_enrolment(db, actor_of(request), me.id, form.get("code"))
    )
    if codes is None:
        form.error("code", form.t("auth_code_wrong"))
        secret = await service.enrolment_secret(db, me.id)
        return _enrol_page(request, form, secret, me.email, "/ui/account/second-factor", 400)
    return page(request, "auth/recovery_codes", codes=codes, next="/ui/account")


@post("/account/recovery-codes", name="ui:account-recovery-codes", status_code=200)
async def new_codes(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    codes = await service.regenerate_recovery_codes(db, actor_of(request), signed_in(request).id)
    return page(request, "auth/recovery_codes", codes=codes, next="/ui/account")


@post("/account/second-factor/disable", name="ui:account-2fa-off", status_code=303)
async def disable_second_factor(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Redirect:
    user = await repo.get_user(db, signed_in(request).id)
    if user is None:
        raise Problem(404, "not-found", "user does not exist")
    await service.disable_second_factor(db, user, settings)
    return see_other("/ui/account#second-factor")


@post("/account/keys", name="ui:account-key-create", status_code=200)
async def create_my_key(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[str]:
    """A new API key of one's own, shown on this page once."""
    form = await read_form(request)
    name = form.get("name") or "default"
    if len(name) > 100:
        form.error("name", form.t("form_too_long", max=100))
        return await _account(request, db, settings, status=400, key_form=form)
    created = await service.create_key(db, actor_of(request), signed_in(request).id, name)
    return await _account(request, db, settings, new_key=created.key)


@post("/account/keys/{key_id:uuid}/revoke", name="ui:account-key-revoke", status_code=303)
async def revoke_my_key(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, key_id: UUID
) -> Redirect:
    await service.revoke_key(db, actor_of(request), key_id, settings, owner=signed_in(request).id)
    request.app.state.key_cache.clear()
    return see_other("/ui/account#keys")


# --- administration: users and their keys ----------------------------------------------------------


def _role_choices(lang: str) -> list[tuple[str, str]]:
    t = translator(lang)
    return choices(ROLES, lambda r: t(f"role_{r}"))


async def _users_page(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None, form: Form, status: int = 200
) -> Response[str]:
    rows = await repo.list_users(db, None, created_after(cursor), 51)
    listed = paged(rows, 50)
    more = with_query("/ui/admin/users", {"cursor": listed.next_cursor}) if listed.next_cursor else None
    return page(
        request,
        "auth/users",
        status_code=status,
        users=listed.items,
        more=more,
        form=form,
        roles=_role_choices(form.lang),
        locales=[("zh-CN", "中文"), ("en", "English")],
    )


@get("/admin/users", guards=[requires_admin], name="ui:admin-users")
async def users_page(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None = None
) -> Response[str]:
    return await _users_page(request, db, cursor, Form(page_lang(request), {"locale": "zh-CN"}))


@post("/admin/users", guards=[requires_admin], name="ui:admin-invite", status_code=303)
async def invite(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[Any]:
    """Invite a person by email; the invitation goes out through the outbox."""
    form = await read_form(request)
    data = form.decode(
        UserCreate,
        {
            "email": form.get("email"),
            "name": form.get("name"),
            "role": form.get("role"),
            "locale": form.get("locale"),
        },
    )
    if data is None:
        return await _users_page(request, db, None, form, 400)
    try:
        invited, _link = await service.invite_user(db, actor_of(request), data, settings)
    except Problem as exc:
        if exc.slug == "duplicate-user":
            form.error("email", form.t("auth_email_taken"))
        else:
            form.problem(exc)
        return await _users_page(request, db, None, form, exc.status_code)
    return see_other(f"/ui/admin/users/{invited.user.id}?invited=1")


async def _user_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    user_id: UUID,
    *,
    form: Form | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response[str]:
    user = await repo.get_user(db, user_id)
    if user is None:
        raise Problem(404, "not-found", f"user {user_id} does not exist")
    lang = page_lang(request)
    return page(
        request,
        "auth/user",
        status_code=status,
        account=user,
        keys=await repo.keys_of_user(db, user_id),
        sessions=await repo.sessions_of_user(db, user_id, IDLE_TIMEOUT),
        form=form or Form.of(lang, {"role": user.role.value, "version": user.version}),
        roles=_role_choices(lang),
        notice=notice
        or (translator(lang)("auth_invitation_sent") if request.query_params.get("invited") else None),
        is_self=signed_in(request).id == user_id,
        can_manage=await allows(requires_admin, request),
    )


@get("/admin/users/{user_id:uuid}", guards=[requires_admin], name="ui:admin-user")
async def user_page(request: Request[Any, Any, Any], db: DbConnection, user_id: UUID) -> Response[str]:
    return await _user_page(request, db, user_id)


async def _admin_change(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, user_id: UUID, change: str
) -> Response[Any]:
    form = await read_form(request)
    t = form.t
    try:
        if change == "role":
            data = form.decode(UserUpdate, {"version": form.get("version"), "role": form.get("role")})
            if data is None:
                return await _user_page(request, db, user_id, form=form, status=400)
            await service.update_user(db, actor_of(request), user_id, data, settings)
        elif change in ("disable", "enable"):
            data = form.decode(UserUpdate, {"version": form.get("version"), "disabled": change == "disable"})
            if data is None:
                return await _user_page(request, db, user_id, form=form, status=400)
            await service.update_user(db, actor_of(request), user_id, data, settings)
        elif change == "resend":
            await service.resend_invitation(db, actor_of(request), user_id, settings)
        elif change == "reset-2fa":
            await service.reset_second_factor(db, actor_of(request), user_id)
        elif change == "end-sessions":
            await service.end_all_sessions(db, actor_of(request), user_id)
    except Problem as exc:
        if exc.slug == service.LAST_ADMIN_RULE:
            form.error("_form", t("auth_last_admin"))
        elif exc.slug == "stale-version":
            form.error("_form", t("auth_user_changed"))
        else:
            form.error("_form", exc.detail)
        return await _user_page(request, db, user_id, form=form, status=exc.status_code)
    request.app.state.key_cache.clear()
    return see_other(f"/ui/admin/users/{user_id}?done={change}")


@post(
    "/admin/users/{user_id:uuid}/{change:str}",
    guards=[requires_admin],
    name="ui:admin-user-change",
    status_code=303,
)
async def change_user(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, user_id: UUID, change: str
) -> Response[Any]:
    """Change role, disable, enable, resend the invitation, reset the second factor or end
    every session: the same service calls as the API, with its refusals beside the form."""
    if change not in ("role", "disable", "enable", "resend", "reset-2fa", "end-sessions"):
        raise Problem(404, "not-found", "no such change")
    return await _admin_change(request, db, settings, user_id, change)


@get("/admin/keys", guards=[requires_admin], name="ui:admin-keys")
async def keys_page(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None = None
) -> Response[str]:
    """Every API key, whose it is and when it was last used; revoking is one button."""
    listed = paged(await repo.list_all_keys(db, created_after(cursor), 51), 50)
    more = with_query("/ui/admin/keys", {"cursor": listed.next_cursor}) if listed.next_cursor else None
    return page(request, "auth/keys", keys=listed.items, more=more)


@post(
    "/admin/keys/{key_id:uuid}/revoke", guards=[requires_admin], name="ui:admin-key-revoke", status_code=303
)
async def revoke_key(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, key_id: UUID
) -> Response[Any]:
    key = await repo.get_key(db, key_id)
    if key is None:
        raise Problem(404, "not-found", f"API key {key_id} does not exist")
    try:
        await service.revoke_key(db, actor_of(request), key_id, settings)
    except Problem as exc:
        form = Form(page_lang(request))
        form.error("_form", form.t("auth_last_admin") if exc.slug == service.LAST_ADMIN_RULE else exc.detail)
        return await _user_page(request, db, key.user_id, form=form, status=exc.status_code)
    request.app.state.key_cache.clear()
    back = "/ui/admin/keys" if form_from_keys(request) else f"/ui/admin/users/{key.user_id}#keys"
    return see_other(back)


def form_from_keys(request: Request[Any, Any, Any]) -> bool:
    return request.query_params.get("from") == "keys"


ROUTE_HANDLERS: Final = [
    login_page,
    sign_in,
    code_page,
    check_code,
    enrol_at_sign_in_page,
    enrol_at_sign_in,
    sign_out,
    forgot_page,
    forgot,
    password_page,
    set_password,
    sso_start,
    sso_callback,
    account_page,
    end_my_session,
    enrol_page,
    enrol,
    new_codes,
    disable_second_factor,
    create_my_key,
    revoke_my_key,
    users_page,
    invite,
    user_page,
    change_user,
    keys_page,
    revoke_key,
]
