"""Reports API: register exports (XLSX, CSV), PDF documents, charts, the partner import
and the questionnaire workbook. Every reader (auditors included) may export the registers;
the audit extract is for admins and auditors, as the audit trail is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from vendor_risk.auth.guards import requires_reader, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem, http_exception_handler
from vendor_risk.i18n import negotiate, translator
from vendor_risk.pagination import moment_parameter, parse_moment
from vendor_risk.partners.rating import RatingFilter
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import PartnerStatus, Tier
from vendor_risk.reports import charts, exports, imports, service, snapshots, workbook
from vendor_risk.reports.exports import Format
from vendor_risk.settings import Settings

Lang = Annotated[
    Literal["zh-CN", "en"] | None,
    Parameter(description="the headers' and labels' language; default from Accept-Language"),
]
FindingStatus = Literal["open", "remediating", "verifying", "resolved", "accepted"]
Severity = Literal["low", "medium", "high", "critical"]
AgreementKind = Literal["nda", "dpa", "msa", "sla"]
requires_audit_reader = requires_role(Role.ADMIN, Role.AUDITOR)


def language(request: Request[Any, Any, Any], lang: str | None) -> str:
    return negotiate(lang, request.headers.get("accept-language"))


def send(download: service.Download) -> Stream:
    return Stream(
        download.body,
        media_type=download.media_type,
        headers={"Content-Disposition": download.disposition, "Cache-Control": "no-store"},
    )


class ExportController(Controller):
    path = "/api/v1/exports"
    tags = ["reports"]
    guards = [requires_reader]

    async def _export(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        name: str,
        fmt: Format,
        lang: str | None,
        filters: dict[str, Any],
    ) -> Stream:
        download = await service.export(
            request.app.state.db_pool,
            actor_of(request),
            name,
            fmt,
            language(request, lang),
            filters,
            settings,
        )
        return send(download)

    @get("/partners", operation_id="ExportPartners")
    async def partners(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        format: Format = "xlsx",
        lang: Lang = None,
        status: list[PartnerStatus] | None = None,
        tier: list[Tier] | None = None,
        rating: list[RatingFilter] | None = None,
    ) -> Stream:
        """The partner register: identity, status, tier, residual rating, score, open
        findings, owner and primary contact; newest first."""
        filters = {"status": status, "tier": tier, "rating": rating}
        return await self._export(request, settings, "partner-register", format, lang, filters)

    @get("/agreements", operation_id="ExportAgreements")
    async def agreements(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        format: Format = "xlsx",
        lang: Lang = None,
        kind: list[AgreementKind] | None = None,
    ) -> Stream:
        """The agreements register with each agreement's status from its dates."""
        return await self._export(request, settings, "agreements-register", format, lang, {"kind": kind})

    @get("/findings", operation_id="ExportFindings")
    async def findings(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        format: Format = "xlsx",
        lang: Lang = None,
        status: list[FindingStatus] | None = None,
        severity: list[Severity] | None = None,
    ) -> Stream:
        """The findings tracker: severity, status, owner, due date, overdue, accepted until."""
        filters = {"status": status, "severity": severity}
        return await self._export(request, settings, "findings-tracker", format, lang, filters)

    @get("/processing-register", operation_id="ExportProcessingRegister")
    async def processing_register(
        self, request: Request[Any, Any, Any], settings: Settings, format: Format = "xlsx", lang: Lang = None
    ) -> Stream:
        """The PIPL entrusted-processing register (委托处理清单): per scope not revoked or
        expired, the partner, category, purpose, processing and transfer methods, period,
        retention, cross-border, sub-processing, the DPA and the impact assessment date."""
        return await self._export(request, settings, "entrusted-processing-register", format, lang, {})

    @get("/audit-events", operation_id="ExportAuditEvents", guards=[requires_audit_reader])
    async def audit_events(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        format: Format = "xlsx",
        lang: Lang = None,
        since: Annotated[str | None, moment_parameter("from")] = None,
        until: Annotated[str | None, moment_parameter("to")] = None,
        entity_type: Annotated[str | None, Parameter(max_length=40)] = None,
        entity_id: Annotated[str | None, Parameter(max_length=100)] = None,
    ) -> Stream:
        """An audit extract in chain order, filtered by time (``from`` inclusive, ``to``
        exclusive) and entity, with each event's hash for checking against the chain."""
        filters = {
            "from": parse_moment("from", since),
            "to": parse_moment("to", until),
            "entity_type": entity_type,
            "entity_id": entity_id,
        }
        return await self._export(request, settings, "audit-extract", format, lang, filters)


class DocumentController(Controller):
    path = "/api/v1/documents"
    tags = ["reports"]
    guards = [requires_reader]

    async def _document(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        kind: Literal["assessment-report", "partner-dossier", "notification-record", "portfolio-report"],
        entity_id: UUID | None,
        lang: str | None,
        fmt: service.DocumentFormat,
    ) -> Stream:
        download = await service.document(
            db, actor_of(request), kind, entity_id, language(request, lang), fmt, settings
        )
        return send(download)

    @get("/assessments/{assessment_id:uuid}/report", operation_id="GetAssessmentReport")
    async def assessment_report(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        assessment_id: UUID,
        lang: Lang = None,
        format: service.DocumentFormat = "pdf",
    ) -> Stream:
        """The assessment report (PDF): partner identity, scopes, score with its breakdown,
        rating with its steps, answers, findings and acceptances, the decision, signature lines."""
        return await self._document(request, db, settings, "assessment-report", assessment_id, lang, format)

    @get("/partners/{partner_id:uuid}/dossier", operation_id="GetPartnerDossier")
    async def partner_dossier(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        lang: Lang = None,
        format: service.DocumentFormat = "pdf",
    ) -> Stream:
        """Everything the firm holds on one partner (PDF)."""
        return await self._document(request, db, settings, "partner-dossier", partner_id, lang, format)

    @get("/incidents/{incident_id:uuid}/notification-record", operation_id="GetNotificationRecordDocument")
    async def notification_record(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        incident_id: UUID,
        lang: Lang = None,
        format: service.DocumentFormat = "pdf",
    ) -> Stream:
        """The PIPL art. 57 notification record (PDF) with the partner's legal name and credit
        code, signature lines and room for the company seal."""
        return await self._document(request, db, settings, "notification-record", incident_id, lang, format)

    @get("/portfolio", operation_id="GetPortfolioReport")
    async def portfolio(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        lang: Lang = None,
        format: service.DocumentFormat = "pdf",
    ) -> Stream:
        """The portfolio report (PDF): heat map, 12-month trends, partners that need action."""
        return await self._document(request, db, settings, "portfolio-report", None, lang, format)


class ChartController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    guards = [requires_reader]

    @get("/heat-map", operation_id="GetHeatMap")
    async def heat_map(self, db: DbConnection) -> snapshots.HeatMap:
        """Live partners counted by tier × residual rating (``unrated`` without one)."""
        return await snapshots.heat_map(db)

    @get("/trends", operation_id="GetTrends")
    async def trends(self, db: DbConnection) -> list[snapshots.Snapshot]:
        """One portfolio snapshot per month for the last 12 months (the month's latest)."""
        return await snapshots.trend(db, service.today_utc(datetime.now(UTC)))

    @get("/partners/{partner_id:uuid}/history", operation_id="GetPartnerHistory")
    async def partner_history(self, db: DbConnection, partner_id: UUID) -> charts.PartnerHistory:
        """The partner's approved scores and each change of its residual rating."""
        return await charts.partner_history(db, partner_id)


@dataclass
class ImportUpload:
    file: UploadFile


def _import_too_large(request: Request[Any, Any, Any], _: HTTPException) -> Response[Any]:
    # The body outgrew the limit before it was read: still say so in the user's words.
    t = translator(language(request, request.query_params.get("lang")))
    message = t("rpt_imp_too_large", mb=imports.MAX_IMPORT_BYTES // 2**20)
    return http_exception_handler(
        request, Problem(413, "import-too-large", message, errors=[{"field": "file", "message": message}])
    )


class ImportController(Controller):
    path = "/api/v1/imports/partners"
    tags = ["reports"]
    guards = [requires_record_keeper]

    @get("/template", operation_id="GetPartnerImportTemplate")
    async def template(
        self, request: Request[Any, Any, Any], format: Format = "xlsx", lang: Lang = None
    ) -> Stream:
        """The import template (headers in the language asked, drop-downs, a sheet of help)."""
        return send(service.import_template(format, language(request, lang)))

    @post(
        "/",
        operation_id="ImportPartners",
        status_code=HTTP_200_OK,
        request_max_body_size=imports.MAX_IMPORT_BYTES + 64 * 1024,
        exception_handlers={413: _import_too_large},
    )
    async def import_partners(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        data: Annotated[ImportUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        dry_run: bool = True,
        lang: Lang = None,
    ) -> imports.ImportReport:
        """Upload the filled template (multipart field ``file``, XLSX or CSV, at most 20 MB).
        ``dry_run=true`` (the default) lists every row error and what would be created or
        updated; ``dry_run=false`` imports in one transaction, and only when no row has an
        error. Idempotent on the legal id; audited (``partners.imported``)."""
        content = await data.file.read()
        return await imports.run_import(
            db, actor_of(request), content, data.file.filename or "", language(request, lang), dry_run=dry_run
        )


class WorkbookUpload(ImportUpload):
    pass


async def workbook_response(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, assessment_id: UUID, lang: str
) -> Response[bytes]:
    """The workbook download, for the API and the staff page alike."""
    body = await workbook.export_workbook(db, actor_of(request), assessment_id, lang, settings)
    title = translator(lang)("rpt_wb_title")
    ascii_name, local_name = exports.file_names(
        f"questionnaire-{str(assessment_id)[:8]}", title, datetime.now(UTC), "xlsx"
    )
    return Response(
        body,
        media_type=exports.MEDIA_TYPES["xlsx"],
        headers={"Content-Disposition": exports.content_disposition(ascii_name, local_name)},
    )


class WorkbookController(Controller):
    path = "/api/v1/assessments/{assessment_id:uuid}/workbook"
    tags = ["reports"]
    guards = [requires_record_keeper]

    @get("/", operation_id="ExportQuestionnaireWorkbook")
    async def export_workbook(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        assessment_id: UUID,
        lang: Lang = None,
    ) -> Response[bytes]:
        """The assessment as an XLSX to fill in offline: a sheet per section, choices as
        drop-downs, help text, only answer cells unlocked, signed in a hidden sheet."""
        return await workbook_response(request, db, settings, assessment_id, language(request, lang))

    @post(
        "/",
        operation_id="UploadQuestionnaireWorkbook",
        status_code=HTTP_200_OK,
        request_max_body_size=imports.MAX_IMPORT_BYTES + 64 * 1024,
        exception_handlers={413: _import_too_large},
    )
    async def upload_workbook(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        assessment_id: UUID,
        data: Annotated[WorkbookUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        submit: bool = False,
        lang: Lang = None,
    ) -> workbook.WorkbookResult:
        """Merge the filled workbook (multipart ``file``) as the partner's answers, validated
        as the portal validates them; refused (409) when it belongs to another assessment or
        the answers changed since it was exported. ``submit=true`` then submits, scored as a
        portal submission; anything missing (required evidence, say) is listed instead."""
        content = await data.file.read()
        return await workbook.upload_workbook(
            db, actor_of(request), assessment_id, content, language(request, lang), settings, submit=submit
        )
