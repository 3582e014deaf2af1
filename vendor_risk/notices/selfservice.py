"""Notices in the partner's self-service portal (``/p``): the home page's "notices to
acknowledge" section, and a page per notice where the signed-in contact reads the version
sent and acknowledges it, through the same service function as the emailed link. Every
query takes the session's partner and the contact's address, so nobody reaches another
partner's (or another contact's) notice: a foreign id is a 404 like an unknown one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post

from vendor_risk.assessments.emails import format_time
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.notices import repository as repo
from vendor_risk.notices import service
from vendor_risk.notices.models import AcknowledgementIn
from vendor_risk.selfservice.models import Viewer
from vendor_risk.selfservice.sections import Section, SectionContext
from vendor_risk.selfservice.web import scoped_partner, see_other, ss_form, ss_lang, ss_page
from vendor_risk.ui.forms import Form

_RECIPIENT = """
    SELECT r.id, r.contact_name, r.acknowledged_at, r.acknowledged_name, pb.due_on,
           pb.notice_version_id AS version_id
    FROM notice_recipients r JOIN notice_publications pb ON pb.id = r.publication_id
    WHERE r.id = $1 AND r.partner_id = $2 AND lower(r.email) = lower($3)
"""


async def notices_section(ctx: SectionContext) -> Section | None:
    """The notices awaiting this contact's acknowledgement (none: the section still says so)."""
    items = await service.open_for_partner(ctx.db, ctx.partner_id, ctx.viewer.email)
    return Section(
        key="notices",
        title=ctx.t("nt_ss_section"),
        template="selfservice/_section_nt_notices.html",
        context={"items": items},
        pending=len(items),
    )


async def _page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    viewer: Viewer,
    recipient_id: UUID,
    form: Form,
    status: int,
) -> Response[str]:
    row = await db.fetchrow(_RECIPIENT, recipient_id, scoped_partner(viewer), viewer.email)
    if row is None:
        raise not_found("notice", recipient_id)
    version = await repo.get_version_by_id(db, row["version_id"])
    lang = form.lang
    return ss_page(
        request,
        "nt_notice",
        status_code=status,
        form=form,
        notice=version,
        recipient=dict(row),
        acknowledged_at=format_time(row["acknowledged_at"], lang) if row["acknowledged_at"] else None,
    )


@get("/notices/{recipient_id:uuid}", name="ss:notice")
async def notice_page(
    request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer, recipient_id: UUID
) -> Response[str]:
    """The notice version sent to this contact, with the acknowledgement form."""
    form = Form(ss_lang(request), {"name": viewer.contact_name or ""})
    return await _page(request, db, viewer, recipient_id, form, 200)


@post("/notices/{recipient_id:uuid}", name="ss:acknowledge-notice", status_code=303)
async def acknowledge(
    request: Request[Any, Any, Any], db: DbConnection, viewer: Viewer, recipient_id: UUID
) -> Response[Any]:
    """Acknowledge, "I have read and will comply", from the signed-in session."""
    form = await ss_form(request)
    data = form.decode(AcknowledgementIn, {"name": form.get("name"), "agree": form.checked("agree") or None})
    if "agree" in form.errors:
        form.errors["agree"] = form.t("nt_err_agree")
    if data is None:
        return await _page(request, db, viewer, recipient_id, form, 400)
    await service.acknowledge_for_partner(
        db, scoped_partner(viewer), viewer.email, recipient_id, data.name, datetime.now(UTC)
    )
    return see_other(f"/p/notices/{recipient_id}?lang={form.lang}#receipt")


PAGES = [notice_page, acknowledge]
