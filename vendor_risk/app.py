"""The Litestar application: ``create_app(settings)`` builds all of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusController
from litestar.static_files import create_static_files_router

from vendor_risk.agreements.routes import AgreementController
from vendor_risk.approvals.routes import ApprovalController
from vendor_risk.assessments.portal import STATIC_DIR, portal_router, register_rate_limit_store
from vendor_risk.assessments.routes import AssessmentController, PartnerAssessmentController
from vendor_risk.audit.routes import AuditController
from vendor_risk.auth.authentication import authenticate
from vendor_risk.auth.cache import KeyCache
from vendor_risk.auth.guards import guard_in_place
from vendor_risk.auth.routes import ApiKeyController, MeController, UserController
from vendor_risk.db import create_pool, database_url, provide_db_connection
from vendor_risk.errors import exception_handlers
from vendor_risk.findings.routes import FindingController
from vendor_risk.hardening import SCHEMA_ASSETS_PATH, BoundedRequest, requires_metrics_token
from vendor_risk.health import healthz, readyz
from vendor_risk.incidents.routes import IncidentController, PartnerIncidentController, PlaybookController
from vendor_risk.logging import configure_logging
from vendor_risk.metrics import refresh_before_scrape
from vendor_risk.middleware import request_middleware
from vendor_risk.notices.portal import notice_router
from vendor_risk.notices.routes import NoticeController, NoticePublicationController, PartnerNoticeController
from vendor_risk.notify.delivery import kick_outbox_after_write
from vendor_risk.notify.routes import ChatChannelController, OutboxController, WebhookController
from vendor_risk.openapi import document_on_first_read
from vendor_risk.partners.routes import DashboardController, PartnerController
from vendor_risk.policy import record_policy_in_use
from vendor_risk.questionnaires.routes import QuestionnaireController
from vendor_risk.queue import create_arq_pool
from vendor_risk.reports.routes import (
    ChartController,
    DocumentController,
    ExportController,
    ImportController,
    WorkbookController,
)
from vendor_risk.routers import MountedOnce
from vendor_risk.scopes.routes import (
    DataCategoryController,
    ImpactAssessmentController,
    ScopeController,
    SubProcessorController,
)
from vendor_risk.selfservice.router import selfservice_router
from vendor_risk.settings import Settings
from vendor_risk.ui.routes import root_redirect, ui_router

# Every route handler list lives here so a reader sees the whole API surface at once.
API_CONTROLLERS: list[Any] = [
    MeController,
    UserController,
    ApiKeyController,
    AuditController,
    PartnerController,
    AgreementController,
    ScopeController,
    SubProcessorController,
    ImpactAssessmentController,
    DataCategoryController,
    DashboardController,
    QuestionnaireController,
    WebhookController,
    OutboxController,
    ChatChannelController,
    PartnerIncidentController,
    IncidentController,
    PlaybookController,
    PartnerAssessmentController,
    AssessmentController,
    FindingController,
    ExportController,
    DocumentController,
    ChartController,
    ImportController,
    WorkbookController,
    ApprovalController,
    NoticeController,
    NoticePublicationController,
    PartnerNoticeController,
]


def create_app(settings: Settings) -> Litestar:
    """Build the app; connections open in the lifespan, never at import time."""
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.db_pool = await create_pool(
            database_url(settings), settings.db_pool_min, settings.db_pool_max, data_keys=settings.data_keys
        )
        # `serve --skip-migrate` runs no prepare_database: the API records the policy it runs.
        async with app.state.db_pool.acquire() as conn:
            await record_policy_in_use(conn, settings.policy)
        if not settings.redis_url:
            raise RuntimeError("no Redis configured (VENDOR_RISK_REDIS_URL)")
        app.state.redis = await create_arq_pool(settings.redis_url)
        register_rate_limit_store(app)
        app.state.key_cache = KeyCache(database_url(settings))
        await app.state.key_cache.start()
        try:
            yield
        finally:
            await app.state.key_cache.close()
            await app.state.redis.aclose()
            await app.state.db_pool.close()

    class MetricsController(PrometheusController):
        """Prometheus text for a scraper that bears ``VENDOR_RISK_METRICS_TOKEN``."""

        path = "/metrics"
        openmetrics_format = False
        before_request = staticmethod(refresh_before_scrape)
        guards = [requires_metrics_token(settings.metrics_token or "")]
        include_in_schema = False

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            *([MetricsController] if settings.metrics_token else []),
            # Every API route needs a key; the portal, health and docs live outside this router.
            MountedOnce(path="/", route_handlers=API_CONTROLLERS, guards=[authenticate]),
            # The partner portal: a link's token is the credential, never an API key.
            portal_router(settings),
            # A contact's security notice link: the token is the credential, as for /q.
            notice_router(settings),
            # Partner self-service: a magic-link session scoped to one partner.
            selfservice_router(settings),
            # The staff pages: a session opened with an API key, CSRF-protected forms.
            ui_router(settings),
            root_redirect,
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
            # The OpenAPI UI's scripts and styles, from the swagger-ui-bundle package.
            create_static_files_router(
                path=SCHEMA_ASSETS_PATH,
                directories=[swagger_ui_bundle.swagger_ui_path],
                include_in_schema=False,
            ),
        ],
        dependencies={
            "db": Provide(provide_db_connection),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
        },
        # Request id, security headers, access log and request metrics in one layer.
        middleware=[request_middleware(settings.public_url)],
        exception_handlers=exception_handlers,
        request_class=BoundedRequest,
        after_response=kick_outbox_after_write,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="vendor-risk",
            version="1",
            path="/schema",
            # Built on its first read rather than at start-up (see vendor_risk.openapi).
            openapi_router=MountedOnce(
                "/schema",
                route_handlers=[],
                before_request=document_on_first_read,
                include_in_schema=False,
            ),
            render_plugins=[
                SwaggerRenderPlugin(
                    path="/",
                    js_url=f"{SCHEMA_ASSETS_PATH}/swagger-ui-bundle.js",
                    css_url=f"{SCHEMA_ASSETS_PATH}/swagger-ui.css",
                    standalone_preset_js_url=f"{SCHEMA_ASSETS_PATH}/swagger-ui-standalone-preset.js",
                )
            ],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", description="API key (vrk_…)")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024),
        # configure_logging owns logging; Litestar's default config would replace it.
        logging_config=None,
        debug=False,
    )
    guard_in_place(app)
    return app


def app_from_env() -> Litestar:
    """Factory for ASGI servers started with several worker processes."""
    from vendor_risk.settings import load_settings

    return create_app(load_settings())
