"""The staff console under ``/ui``: the router that gathers every domain's pages.

Each domain keeps its pages beside its API (``partners/pages.py`` next to
``partners/routes.py``); this module only mounts them. Every page calls the same service
functions as its API route, and every write carries the API route's own role guard, so a
page never allows more than the API. Protections, on this router only: a server-side
session (password and second factor, or single sign-on; ``vendor_risk.auth``), CSRF bound
to that session on every form (cookie scoped to ``/ui``), a strict Content-Security-Policy
allowing only our own scripts (the vendored htmx), and autoescaped templates, so anything a
partner typed is shown as text.
"""

from __future__ import annotations

from litestar import Router, get
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.response import Redirect

from vendor_risk.agreements import pages as agreement_pages
from vendor_risk.assessments import pages as assessment_pages
from vendor_risk.assessments.portal import csrf_secret
from vendor_risk.audit import pages as audit_pages
from vendor_risk.auth import pages as auth_pages
from vendor_risk.clients import pages as client_pages
from vendor_risk.dashboard import pages as dashboard_pages
from vendor_risk.findings import pages as finding_pages
from vendor_risk.hardening import SessionBoundCSRFMiddleware
from vendor_risk.incidents import pages as incident_pages
from vendor_risk.notices import pages as notice_pages
from vendor_risk.notify import pages as notify_pages
from vendor_risk.partners import pages as partner_pages
from vendor_risk.policy_pages import POLICY_PAGES
from vendor_risk.reports import pages as reports_pages
from vendor_risk.routers import MountedOnce
from vendor_risk.scopes import pages as scope_pages
from vendor_risk.selfservice.staff import STAFF_PAGES as SELFSERVICE_STAFF_PAGES
from vendor_risk.settings import Settings
from vendor_risk.ui.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    require_session,
    ui_error,
    ui_guard_middleware,
    ui_internal_error,
)


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
    return MountedOnce(
        path="/ui",
        route_handlers=[
            # Sign-in, account and user administration pages.
            *auth_pages.ROUTE_HANDLERS,
            *dashboard_pages.PAGES,
            *partner_pages.PAGES,
            *agreement_pages.PAGES,
            *scope_pages.PAGES,
            *assessment_pages.PAGES,
            *finding_pages.PAGES,
            *client_pages.PAGES,
            *incident_pages.PAGES,
            *notice_pages.PAGES,
            *notify_pages.PAGES,
            # Development only: `up` with no SMTP server; `serve` never routes it.
            *(notify_pages.DEV_MAIL_PAGES if settings.dev_mailbox else []),
            *audit_pages.PAGES,
            *reports_pages.ROUTES,
            *POLICY_PAGES,
            *SELFSERVICE_STAFF_PAGES,
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
