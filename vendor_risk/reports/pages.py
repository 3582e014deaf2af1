"""The reports' staff pages under ``/ui/reports``: every export and document, the heat map and
the trends, and the partner import. They call the reports' services (never the API) and
carry the API routes' own guards, so a page offers exactly what the API would accept.

The download addresses here (``/ui/reports/exports/…``, ``/ui/reports/documents/…``) are
what other pages link their buttons to: they work with the staff session cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from vendor_risk.assessments import service as assessments
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.i18n import translator
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.reports import charts, imports, service, snapshots, workbook
from vendor_risk.reports.exports import SPECS, Format
from vendor_risk.reports.routes import requires_audit_reader, send, workbook_response
from vendor_risk.settings import Settings
from vendor_risk.ui.web import allows, page, page_lang

# The registers as the page lists them: (export name, URL segment, catalogue key).
EXPORTS = (
    ("partner-register", "partners", "rpt_export_partners"),
    ("agreements-register", "agreements", "rpt_export_agreements"),
    ("findings-tracker", "findings", "rpt_export_findings"),
    ("entrusted-processing-register", "processing-register", "rpt_export_register"),
)
SEGMENTS = {segment: name for name, segment, _ in EXPORTS} | {"audit-events": "audit-extract"}
# The file's language when it is not the page's.
Lang = Literal["zh-CN", "en"] | None


@get("/reports", name="ui:reports")
async def reports_page(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """Every export and document, the heat map (each cell opens the filtered partner list)
    and the 12-month trends, each chart with its numbers as a table."""
    lang = page_lang(request)
    heat = await snapshots.heat_map(db)
    trend = await snapshots.trend(db, datetime.now(UTC).date())
    return page(
        request,
        "reports/index",
        exports=EXPORTS,
        heat=heat,
        heat_svg=charts.heat_map_svg(heat, lang),
        heat_link=charts.heat_map_link,
        charts=charts.trend_charts(trend, lang),
        can_audit=await allows(requires_audit_reader, request),
        can_import=await allows(requires_record_keeper, request),
    )


@get("/reports/exports/{segment:str}", name="ui:export")
async def export_download(
    request: Request[Any, Any, Any],
    settings: Settings,
    segment: str,
    format: Format = "xlsx",
    file_lang: Lang = None,
    since: Annotated[datetime | None, QueryParameter(name="from")] = None,
    until: Annotated[datetime | None, QueryParameter(name="to")] = None,
    entity_type: Annotated[str | None, Parameter(max_length=40)] = None,
    entity_id: Annotated[str | None, Parameter(max_length=100)] = None,
) -> Stream:
    """A register as XLSX or CSV, in the page's language unless ``file_lang`` says otherwise."""
    name = SEGMENTS.get(segment)
    if name is None or name not in SPECS:
        raise Problem(404, "not-found", "no such export")
    filters: dict[str, Any] = {}
    if name == "audit-extract":
        if not await allows(requires_audit_reader, request):
            raise Problem(403, "forbidden", "the audit extract is for admins and auditors")
        filters = {
            "from": since,
            "to": until,
            "entity_type": entity_type or None,
            "entity_id": entity_id or None,
        }
    download = await service.export(
        request.app.state.db_pool,
        actor_of(request),
        name,
        format,
        file_lang or page_lang(request),
        filters,
        settings,
    )
    return send(download)


async def _document(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    kind: Literal["assessment-report", "partner-dossier", "notification-record", "portfolio-report"],
    entity_id: UUID | None,
    file_lang: str | None,
) -> Stream:
    lang = file_lang or page_lang(request)
    return send(await service.document(db, actor_of(request), kind, entity_id, lang, "pdf", settings))


@get("/reports/documents/portfolio", name="ui:portfolio-report")
async def portfolio_pdf(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, file_lang: Lang = None
) -> Stream:
    return await _document(request, db, settings, "portfolio-report", None, file_lang)


@get("/reports/documents/assessments/{assessment_id:uuid}", name="ui:assessment-report")
async def assessment_pdf(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    assessment_id: UUID,
    file_lang: Lang = None,
) -> Stream:
    return await _document(request, db, settings, "assessment-report", assessment_id, file_lang)


@get("/reports/documents/partners/{partner_id:uuid}", name="ui:partner-dossier")
async def dossier_pdf(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    file_lang: Lang = None,
) -> Stream:
    return await _document(request, db, settings, "partner-dossier", partner_id, file_lang)


@get("/reports/documents/incidents/{incident_id:uuid}", name="ui:notification-record")
async def notification_pdf(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    incident_id: UUID,
    file_lang: Lang = None,
) -> Stream:
    return await _document(request, db, settings, "notification-record", incident_id, file_lang)


# --- import ---------------------------------------------------------------------------------------


@get("/reports/import", guards=[requires_record_keeper], name="ui:import")
async def import_page(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "reports/import", report=None, error=None)


@get("/reports/import/template", guards=[requires_record_keeper], name="ui:import-template")
async def import_template(
    request: Request[Any, Any, Any], format: Format = "xlsx", file_lang: Lang = None
) -> Stream:
    return send(service.import_template(format, file_lang or page_lang(request)))


@post(
    "/reports/import",
    guards=[requires_record_keeper],
    name="ui:import-upload",
    request_max_body_size=imports.MAX_IMPORT_BYTES + 64 * 1024,
)
async def import_upload(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """Check (or, with the import button, import) the uploaded file; the result lists every
    row error beside its row and column, or what was (or would be) created and updated."""
    form = await request.form()
    upload = form.get("file")
    dry_run = form.get("action") != "import"
    if upload is None or isinstance(upload, str):
        message = translator(page_lang(request))("rpt_imp_empty")
        return page(request, "reports/import", status_code=400, report=None, error=message)
    content = await upload.read()
    try:
        report = await imports.run_import(
            db, actor_of(request), content, upload.filename or "", page_lang(request), dry_run=dry_run
        )
    except Problem as exc:
        return page(request, "reports/import", status_code=exc.status_code, report=None, error=exc.detail)
    status = 422 if report.errors else 200
    return page(request, "reports/import", status_code=status, report=report, error=None)


ROUTES = [
    reports_page,
    export_download,
    portfolio_pdf,
    assessment_pdf,
    dossier_pdf,
    notification_pdf,
    import_page,
    import_template,
    import_upload,
]


# --- questionnaire workbook -----------------------------------------------------------------------


@get(
    "/reports/assessments/{assessment_id:uuid}/workbook", guards=[requires_record_keeper], name="ui:workbook"
)
async def workbook_page(
    request: Request[Any, Any, Any], db: DbConnection, assessment_id: UUID
) -> Response[str]:
    """Download the assessment as a workbook to send, or upload the one the partner filled."""
    assessment = await assessments.load(db, assessment_id, datetime.now(UTC).date())
    return page(request, "reports/workbook", a=assessment, result=None, errors=[], error=None)


@get(
    "/reports/assessments/{assessment_id:uuid}/workbook/download",
    guards=[requires_record_keeper],
    name="ui:workbook-download",
)
async def workbook_download(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    assessment_id: UUID,
    file_lang: Lang = None,
) -> Response[bytes]:
    return await workbook_response(request, db, settings, assessment_id, file_lang or page_lang(request))


@post(
    "/reports/assessments/{assessment_id:uuid}/workbook",
    guards=[requires_record_keeper],
    name="ui:workbook-upload",
    request_max_body_size=imports.MAX_IMPORT_BYTES + 64 * 1024,
)
async def workbook_upload(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, assessment_id: UUID
) -> Response[str]:
    form = await request.form()
    upload = form.get("file")
    lang = page_lang(request)
    assessment = await assessments.load(db, assessment_id, datetime.now(UTC).date())
    if upload is None or isinstance(upload, str):
        message = translator(lang)("rpt_wb_unreadable")
        return page(
            request, "reports/workbook", status_code=400, a=assessment, result=None, errors=[], error=message
        )
    try:
        result = await workbook.upload_workbook(
            db,
            actor_of(request),
            assessment_id,
            await upload.read(),
            lang,
            settings,
            submit=form.get("action") == "submit",
        )
    except Problem as exc:
        extra = exc.extra if isinstance(exc.extra, dict) else {}
        errors = extra.get("errors", []) if exc.slug == "workbook-invalid" else []
        return page(
            request,
            "reports/workbook",
            status_code=exc.status_code,
            a=assessment,
            result=None,
            errors=errors,
            error=exc.detail,
        )
    assessment = await assessments.load(db, assessment_id, datetime.now(UTC).date())
    return page(request, "reports/workbook", a=assessment, result=result, errors=[], error=None)


ROUTES += [workbook_page, workbook_download, workbook_upload]
