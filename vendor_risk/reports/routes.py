"""Reports API: register exports (XLSX, CSV), PDF documents, charts, the partner import
and the questionnaire workbook. Every reader (auditors included) may export the registers;
the audit extract is for admins and auditors, as the audit trail is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, get
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from vendor_risk.auth.guards import requires_reader, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.i18n import negotiate
from vendor_risk.partners.rating import RatingFilter
from vendor_risk.partners.rules import PartnerStatus, Tier
from vendor_risk.reports import charts, service, snapshots
from vendor_risk.reports.exports import Format
from vendor_risk.settings import Settings

Lang = Annotated[
    Literal["zh-CN", "en"] | None,
    Parameter(description="the headers' and labels' language; default from Accept-Language"),
]
FindingStatus = Literal["open", "remediating", "resolved", "accepted"]
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
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        entity_type: Annotated[str | None, Parameter(max_length=40)] = None,
        entity_id: Annotated[str | None, Parameter(max_length=100)] = None,
    ) -> Stream:
        """An audit extract in chain order, filtered by time (``from`` inclusive, ``to``
        exclusive) and entity, with each event's hash for checking against the chain."""
        filters = {"from": since, "to": until, "entity_type": entity_type, "entity_id": entity_id}
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
