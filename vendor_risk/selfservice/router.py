"""The ``/p`` router: every self-service route, behind the session guard.

Add a feature's handlers to ``ROUTES`` (one line per module's list). A handler declares
``viewer: Viewer`` to get the signed-in contact; ``viewer.partner_id`` is the only partner
its queries may touch (pass it into the SQL). ``opt={PUBLIC: True}`` marks a page that
needs no session, ``opt={UNSCOPED: True}`` one a session may reach before choosing its
partner. ``tests/integration/selfservice/test_selfservice_idor.py`` walks every route of
this router with two partners' sessions, so a new route is covered without being listed.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware

from vendor_risk.assessments.portal import csrf_secret
from vendor_risk.findings.selfservice import SELFSERVICE_PAGES as FINDING_PAGES
from vendor_risk.hardening import SessionBoundCSRFMiddleware
from vendor_risk.notices import selfservice as notice_pages
from vendor_risk.routers import MountedOnce
from vendor_risk.selfservice import actions, pages
from vendor_risk.selfservice.web import (
    COOKIE_PATH,
    CSRF_COOKIE,
    PAGE_LIMIT,
    SESSION_COOKIE,
    provide_viewer,
    require_viewer,
    ss_error,
    ss_guard_middleware,
    ss_internal_error,
)
from vendor_risk.settings import Settings

ROUTES: list[Any] = [
    *pages.PAGES,
    *actions.ACTION_PAGES,
    *notice_pages.PAGES,
    *FINDING_PAGES,
]


def selfservice_router(settings: Settings) -> Router:
    csrf = CSRFConfig(
        secret=csrf_secret(settings, "selfservice"),
        cookie_name=CSRF_COOKIE,
        cookie_path=COOKIE_PATH,
        cookie_httponly=True,
        cookie_secure=settings.public_url.startswith("https://"),
        cookie_samesite="lax",
    )
    return MountedOnce(
        path=COOKIE_PATH,
        route_handlers=ROUTES,
        guards=[require_viewer],
        dependencies={"viewer": Provide(provide_viewer, sync_to_thread=False)},
        middleware=[
            ss_guard_middleware,
            PAGE_LIMIT.middleware,
            DefineMiddleware(SessionBoundCSRFMiddleware, config=csrf, session_cookie=SESSION_COOKIE),
        ],
        exception_handlers={HTTPException: ss_error, Exception: ss_internal_error},
        include_in_schema=False,
    )
