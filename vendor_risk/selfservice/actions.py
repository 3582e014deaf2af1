"""What a partner contact does in self-service: report a security incident (and, beside
it, the other actions). Each is a plain form: CSRF, what was typed kept on error, the
error beside its field, audited, and the staff told through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post

from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.incidents.pages import from_local, local_input
from vendor_risk.selfservice import service
from vendor_risk.selfservice.models import PERSONS_RANGES, IncidentReport, Viewer
from vendor_risk.selfservice.web import scoped_partner, see_other, ss_form, ss_lang, ss_page
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form

# The incident service's words for a refused field, in the catalogue.
_REPORT_REFUSALS = {"occurred_at": "ss_report_future", "categories": "form_choose"}


async def _report_page(
    request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer, form: Form, *, status: int = 200
) -> Response[str]:
    lang = form.lang
    t = form.t
    column = "name_zh" if lang == "zh-CN" else "name_en"
    categories = await service.report_categories(db, scoped_partner(viewer))
    return ss_page(
        request,
        "report",
        status_code=status,
        form=form,
        category_choices=[(c["code"], c[column]) for c in categories],
        persons_choices=[(code, t(f"ss_persons_{code}")) for code in PERSONS_RANGES],
    )


@get("/incident", name="ss:report-form")
async def report_form(request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer) -> Response[str]:
    """The short form a partner reports a security incident with."""
    form = Form.of(
        ss_lang(request),
        {
            "occurred_at": local_input(datetime.now(UTC)),
            "persons": "unknown",
            "contact_name": viewer.contact_name,
            "contact_email": viewer.email,
        },
    )
    return await _report_page(request, db, viewer, form)


@post("/incident", name="ss:report")
async def report(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer
) -> Response[Any]:
    """Open the incident (see ``service.report_incident``) and say it was received."""
    form = await ss_form(request)
    data = form.decode(
        IncidentReport,
        {
            "what": form.get("what"),
            "occurred_at": from_local(form.get("occurred_at")) if form.get("occurred_at") else "",
            "categories": form.getlist("categories"),
            "persons": form.get("persons"),
            "contact_name": form.get("contact_name"),
            "contact_phone": form.get("contact_phone"),
            "contact_email": form.get("contact_email"),
        },
    )
    if data is not None:
        try:
            await service.report_incident(db, viewer, data, settings)
        except Problem as exc:
            if not (isinstance(exc.extra, dict) and exc.extra.get("errors")):
                raise
            for item in exc.extra["errors"]:
                name = str(item.get("field", ""))
                form.error(name, form.t(_REPORT_REFUSALS.get(name, "form_invalid")))
        else:
            return see_other(f"/p?lang={form.lang}&done=incident_reported")
    return await _report_page(request, db, viewer, form, status=400)


ACTION_PAGES = [report_form, report]
