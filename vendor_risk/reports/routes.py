"""Reports API: register exports (XLSX, CSV), PDF documents, charts, the partner import
and the questionnaire workbook. Every reader (auditors included) may export the registers;
the audit extract is for admins and auditors, as the audit trail is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from vendor_risk.auth.guards import requires_reader, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.i18n import negotiate
from vendor_risk.partners.rating import RatingFilter
from vendor_risk.partners.rules import PartnerStatus, Tier
from vendor_risk.reports import service
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
