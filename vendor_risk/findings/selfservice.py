"""Findings to remediate in partner self-service (``/p/findings``): the home page's
section and the page where a contact gives a plan and sends a fix with proof files, long
after the assessment link has gone. Every query and write takes the session's one partner
(``scoped_partner``); another partner's finding is a 404 like an unknown one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar import Request, Response, get, post

from vendor_risk.db import DbConnection
from vendor_risk.documents import MAX_UPLOAD_BODY_BYTES
from vendor_risk.findings import partner as partner_side
from vendor_risk.findings import repository as repo
from vendor_risk.findings import service
from vendor_risk.i18n import translator
from vendor_risk.selfservice.models import Viewer
from vendor_risk.selfservice.service import contact_actor
from vendor_risk.selfservice.web import scoped_partner, see_other, ss_lang, ss_page
from vendor_risk.settings import Settings

if TYPE_CHECKING:
    from vendor_risk.selfservice.sections import Section, SectionContext

# A few proof files of the document limit each.
MAX_FIX_BODY = service.MAX_PROOFS * MAX_UPLOAD_BODY_BYTES


def _urls(lang: str) -> partner_side.Urls:
    return partner_side.Urls(
        plan=lambda f: f"/p/findings/{f}/plan?lang={lang}", fix=lambda f: f"/p/findings/{f}/fix?lang={lang}"
    )


async def section(ctx: SectionContext) -> Section | None:
    """The home page's "findings to remediate": each with its status and due date."""
    # Imported here: the sections module lists this provider.
    from vendor_risk.selfservice.sections import Section

    found = await repo.partner_open_findings(ctx.db, ctx.partner_id)
    items = [
        {
            "title": (f.title or {}).get(ctx.lang) or (f.title or {}).get("en", ""),
            "severity": f.severity,
            "status": f.status,
            "due_on": f.due_on,
            "anchor": f"/p/findings?lang={ctx.lang}#f-{f.id}",
        }
        for f in found
    ]
    return Section(
        key="findings",
        title=ctx.t("rm_ss_section"),
        template="findings/_section_selfservice.html",
        context={"items": items, "page": f"/p/findings?lang={ctx.lang}"},
        pending=sum(1 for f in found if f.status != "verifying"),
    )


async def _page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    viewer: Viewer,
    *,
    refused: partner_side.Refused | None = None,
    notice: str | None = None,
) -> Response[str]:
    lang = ss_lang(request)
    t = translator(lang)
    rows = await partner_side.rows(db, scoped_partner(viewer), lang, t, _urls(lang), refused=refused)
    flash = {"plan": [t("plan_saved")], "fix": [t("rm_fix_saved")]}.get(notice or "", [])
    return ss_page(request, "findings", status_code=422 if refused else 200, findings=rows, flash=flash)


@get("/findings", name="ss:findings")
async def findings_page(request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer) -> Response[str]:
    """The partner's findings with our guidance; a plan, then a fix with proof, for each."""
    return await _page(request, db, viewer, notice=request.query_params.get("done"))


@post("/findings/{finding_id:uuid}/plan", name="ss:finding-plan", status_code=303)
async def plan(
    request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer, finding_id: UUID
) -> Response[Any]:
    partner_id = scoped_partner(viewer)
    form = await request.form()
    text = str(form.get("plan") or "").strip()
    typed_on = str(form.get("planned_on") or "").strip()
    today = datetime.now(UTC).date()
    error, planned_on = partner_side.check_plan(text, typed_on, today)
    if error is None and planned_on is not None:
        await service.respond(db, contact_actor(viewer), partner_id, finding_id, text, planned_on, today)
        return see_other(f"/p/findings?lang={ss_lang(request)}&done=plan#f-{finding_id}")
    refused = partner_side.Refused(
        finding_id=finding_id,
        form="plan",
        error=error or "error_date",
        values={"plan": text, "planned_on": typed_on},
    )
    return await _page(request, db, viewer, refused=refused)


@post(
    "/findings/{finding_id:uuid}/fix",
    name="ss:finding-fix",
    status_code=303,
    request_max_body_size=MAX_FIX_BODY,
)
async def fix(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer, finding_id: UUID
) -> Response[Any]:
    """What was fixed and the proof files: the finding then waits for our reviewer."""
    partner_id = scoped_partner(viewer)
    form = await request.form()
    note = str(form.get("note") or "").strip()
    proofs = await partner_side.proofs_of(form.getall("proof", []))
    _, error = await partner_side.submit_fix(
        db, contact_actor(viewer), partner_id, finding_id, note, proofs, settings, datetime.now(UTC).date()
    )
    if error is None:
        return see_other(f"/p/findings?lang={ss_lang(request)}&done=fix#f-{finding_id}")
    refused = partner_side.Refused(finding_id=finding_id, form="fix", error=error, values={"fix_note": note})
    return await _page(request, db, viewer, refused=refused)


SELFSERVICE_PAGES = [findings_page, plan, fix]
