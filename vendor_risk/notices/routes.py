"""Security notice endpoints: the library, the audience preview, publishing, progress,
a partner's notices and the acknowledgement evidence export. Every reader may look;
only a risk owner publishes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vendor_risk.auth.guards import requires_reader, requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.i18n import negotiate
from vendor_risk.notices import repository as repo
from vendor_risk.notices import service
from vendor_risk.notices.evidence import export_evidence
from vendor_risk.notices.models import (
    AudienceIn,
    AudiencePreview,
    NoticeVersion,
    PartnerNotice,
    Publication,
    PublicationCreate,
    PublicationSummary,
)
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, decode_cursor, encode_cursor
from vendor_risk.reports.routes import send
from vendor_risk.settings import Settings

Lang = Annotated[
    Literal["zh-CN", "en"] | None,
    Parameter(description="the headers' and labels' language; default from Accept-Language"),
]


class NoticeController(Controller):
    path = "/api/v1/notices"
    tags = ["notices"]
    guards = [requires_reader]

    @get("/", operation_id="ListNotices")
    async def list_notices(self, db: DbConnection) -> list[NoticeVersion]:
        """Every loaded notice version (from ``notices/*.md``), newest version first per key."""
        return await repo.all_versions(db)

    @get("/{key:str}/versions/{version:int}", operation_id="GetNoticeVersion")
    async def get_version(
        self, db: DbConnection, key: str, version: Annotated[int, Parameter(ge=1, le=100_000)]
    ) -> NoticeVersion:
        """One immutable version: its Markdown and its rendered HTML in both languages."""
        return await service.get_version(db, key, version)

    @post("/audience-preview", operation_id="PreviewNoticeAudience", status_code=HTTP_200_OK)
    async def preview(self, db: DbConnection, data: AudienceIn) -> AudiencePreview:
        """How many partners and contacts an audience reaches now; nothing is sent."""
        return await service.preview_audience(db, data)


class NoticePublicationController(Controller):
    path = "/api/v1/notice-publications"
    tags = ["notices"]
    guards = [requires_reader]

    @post("/", operation_id="PublishNotice", guards=[requires_risk_owner], status_code=HTTP_201_CREATED)
    async def publish(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, data: PublicationCreate
    ) -> PublicationSummary:
        """Publish a notice version to an audience; every contact reached is emailed a
        personal link. 409 ``empty-audience`` when it would reach nobody."""
        return await service.publish(db, actor_of(request), data, settings)

    @get("/", operation_id="ListNoticePublications")
    async def list_publications(
        self, db: DbConnection, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[PublicationSummary]:
        """Newest first, each with its acknowledgement counts."""
        check_limit(limit)
        key = decode_cursor(cursor, datetime, UUID)
        rows = await repo.list_publications(db, (key[0], key[1]) if key else None, limit + 1)
        items = [service.summary_of(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(
            items=items,
            next_cursor=encode_cursor(items[-1].published_at, items[-1].id) if more else None,
        )

    @get("/{publication_id:uuid}", operation_id="GetNoticePublication")
    async def get_publication(self, db: DbConnection, publication_id: UUID) -> Publication:
        """The publication's progress: each contact reached, opened and acknowledged (by whom)."""
        summary = await service.get_publication_summary(db, publication_id)
        return Publication(summary=summary, recipients=await repo.recipients(db, publication_id))

    @get("/{publication_id:uuid}/evidence", operation_id="ExportNoticeEvidence")
    async def evidence(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        publication_id: UUID,
        format: Literal["xlsx", "csv"] = "xlsx",
        lang: Lang = None,
    ) -> Stream:
        """Evidence of acknowledgement (XLSX or CSV): partner, contact, version, sent,
        acknowledged at and by whom; the download is audited."""
        await service.get_publication_summary(db, publication_id)
        download = await export_evidence(
            request.app.state.db_pool,
            actor_of(request),
            format,
            negotiate(lang, request.headers.get("accept-language")),
            publication_id=publication_id,
            now=datetime.now(UTC),
        )
        return send(download)


class PartnerNoticeController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/notices"
    tags = ["notices"]
    guards = [requires_reader]

    @get("/", operation_id="ListPartnerNotices")
    async def list_partner_notices(self, db: DbConnection, partner_id: UUID) -> list[PartnerNotice]:
        """Every notice the partner received, and when (and by whom) it was acknowledged."""
        if not await db.fetchval("SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1)", partner_id):
            raise not_found("partner", partner_id)
        return await repo.partner_notices(db, partner_id)

    @get("/evidence", operation_id="ExportPartnerNoticeEvidence")
    async def evidence(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        partner_id: UUID,
        format: Literal["xlsx", "csv"] = "xlsx",
        lang: Lang = None,
    ) -> Stream:
        """The partner's acknowledgement evidence across every notice it received."""
        if not await db.fetchval("SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1)", partner_id):
            raise not_found("partner", partner_id)
        download = await export_evidence(
            request.app.state.db_pool,
            actor_of(request),
            format,
            negotiate(lang, request.headers.get("accept-language")),
            partner_id=partner_id,
        )
        return send(download)


CONTROLLERS = [NoticeController, NoticePublicationController, PartnerNoticeController]
