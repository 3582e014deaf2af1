"""Staff pages for agreements: add one (NDA, DPA, MSA, SLA with dates, signatories,
covered categories, the PIPL art. 21 clause checklist and the signed copy), upload or
replace the signed copy, terminate, download.

Adding is a page of its own; uploading and terminating are forms on the partner page,
which a refused post re-renders with the error beside its field. Each write carries the
API route's own guard.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import asyncpg
from litestar import Request, Response, get, post

from vendor_risk.agreements import service
from vendor_risk.agreements.models import AgreementCreate, Termination
from vendor_risk.agreements.routes import requires_document_reader
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.documents import MAX_UPLOAD_BODY_BYTES, check_upload, clean_filename, download
from vendor_risk.errors import Problem
from vendor_risk.partners import service as partners
from vendor_risk.partners.pages import partner_page_response
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import ART21_CLAUSES, period_problem
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, choices, form_status, read_form, submit
from vendor_risk.ui.web import page, page_lang

KINDS: Final = ("nda", "dpa", "msa", "sla")
# Signatory rows on the form: one for each side, and a second for each.
SIGNATORY_ROWS: Final = ("us", "partner", "us", "partner")


def _file_error(form: Form, exc: Problem) -> None:
    """An upload refused by its content, in the page language."""
    key = {413: "file_too_large", 415: "file_type"}.get(exc.status_code, "file_empty")
    form.error("file", form.t(key))


async def _checked_file(form: Form) -> tuple[bytes, str] | None:
    """The uploaded file's bytes and clean name once its content passed the checks."""
    upload = form.file("file")
    if upload is None:
        return None
    data = await upload.read()
    name = clean_filename(upload.filename)
    try:
        check_upload(data, name)
    except Problem as exc:
        _file_error(form, exc)
        return None
    return data, name


async def _agreement_form(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    form: Form,
    *,
    status_code: int = 200,
) -> Response[str]:
    partner = await partners.load(db, partner_id, settings)
    t = form.t
    categories = await scopes_repo.list_categories(db)
    return page(
        request,
        "agreements/form",
        status_code=status_code,
        form=form,
        partner=partner,
        kinds=choices(KINDS, lambda k: t(f"agkind_{k}")),
        clauses=choices(ART21_CLAUSES, lambda c: t(f"clause_{c}")),
        categories=[
            (str(c.id), f"{c.name.get(form.lang)} · {t('sensitivity_' + c.sensitivity)}") for c in categories
        ],
        signatory_rows=list(enumerate(SIGNATORY_ROWS)),
    )


@get("/partners/{partner_id:uuid}/agreements/new", guards=[requires_record_keeper], name="ui:new-agreement")
async def new_agreement(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    kind: str | None = None,
) -> Response[str]:
    initial = {"kind": kind if kind in KINDS else "nda", "signed_on": partners.today_utc().isoformat()}
    return await _agreement_form(request, db, settings, partner_id, Form.of(page_lang(request), initial))


def _signatories(form: Form) -> list[dict[str, Any]]:
    found = []
    for i, party in enumerate(SIGNATORY_ROWS):
        name = form.get(f"signatories.{i}.name")
        title = form.get(f"signatories.{i}.title")
        if not name and not title:
            continue
        if not name:
            form.error(f"signatories.{i}.name", form.t("form_required"))
            continue
        found.append({"party": party, "name": name, "title": title or None})
    if {s["party"] for s in found} != {"us", "partner"}:
        form.error("signatories.0.name", form.t("signatories_both_sides"))
    return found


@post(
    "/partners/{partner_id:uuid}/agreements",
    guards=[requires_record_keeper],
    name="ui:create-agreement",
    status_code=303,
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
)
async def create_agreement(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """Record an agreement and, when one is chosen, its signed copy; bad input (the file's
    content included) re-renders the form (400) with nothing written."""
    form = await read_form(request)
    kind = form.get("kind")
    signatories = _signatories(form)
    clauses = form.getlist("clauses")
    if clauses and kind != "dpa":
        form.error("clauses", form.t("clauses_dpa_only"))
    data = form.decode(
        AgreementCreate,
        {
            "kind": kind,
            "title": form.get("title"),
            "reference": form.get("reference"),
            "signed_on": form.get("signed_on"),
            "effective_from": form.get("effective_from"),
            "expires_on": form.get("expires_on"),
            "signatories": signatories,
            "category_ids": form.getlist("category_ids"),
            "clauses": clauses,
            "notes": form.get("notes"),
            "notice_period_days": form.get("notice_period_days"),
        },
    )
    document = await _checked_file(form)
    if data is not None and period_problem(data.effective_from or data.signed_on, data.expires_on):
        form.error("expires_on", form.t("period_end_before_start"))

    async def create(data: AgreementCreate) -> UUID:
        actor = actor_of(request)
        async with db.transaction():
            created = await service.create_agreement(db, actor, partner_id, data, settings)
            if document is not None:
                await service.upload_document(db, actor, partner_id, created.id, *document, settings)
        return created.id

    def refused(exc: Problem) -> None:
        if exc.slug == "partner-closed":
            form.error("_form", form.t("partner_closed"))
            return
        for item in (exc.extra or {}).get("errors", []) if isinstance(exc.extra, dict) else []:
            form.error(str(item.get("field", "")) or "_form", form.t("form_invalid"))
        if not form.errors:
            form.problem(exc)

    return await submit(
        None if form.errors else data,
        create,
        done=lambda created: f"/ui/partners/{partner_id}#agreement-{created}",
        refused=refused,
        again=lambda _: _agreement_form(
            request, db, settings, partner_id, form, status_code=form_status(form)
        ),
    )


@post(
    "/partners/{partner_id:uuid}/agreements/{agreement_id:uuid}/document",
    guards=[requires_record_keeper],
    name="ui:upload-agreement-document",
    status_code=303,
    request_max_body_size=MAX_UPLOAD_BODY_BYTES,
)
async def upload_document(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    agreement_id: UUID,
) -> Response[Any]:
    """Upload or replace the signed copy (the previous one stays stored, its hash in the
    audit trail)."""
    form = await read_form(request)
    document = await _checked_file(form)
    if document is None and not form.errors:
        form.error("file", form.t("form_required"))

    def refused(exc: Problem) -> None:
        if exc.slug == "partner-closed":
            form.error("_form", form.t("partner_closed"))
        else:
            _file_error(form, exc)

    return await submit(
        document,
        lambda document: service.upload_document(
            db, actor_of(request), partner_id, agreement_id, *document, settings
        ),
        done=lambda _: f"/ui/partners/{partner_id}#agreement-{agreement_id}",
        refused=refused,
        again=lambda _: partner_page_response(
            request,
            db,
            settings,
            partner_id,
            status_code=form_status(form),
            forms={f"upload:{agreement_id}": form},
        ),
    )


@post(
    "/partners/{partner_id:uuid}/agreements/{agreement_id:uuid}/terminate",
    guards=[requires_record_keeper],
    name="ui:terminate-agreement",
    status_code=303,
)
async def terminate_agreement(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    agreement_id: UUID,
) -> Response[Any]:
    """Terminate now with a reason; approved scopes it alone backed are suspended."""
    form = await read_form(request)
    data = form.decode(Termination, {"reason": form.get("reason"), "version": form.get("version")})

    def refused(exc: Problem) -> None:
        terminated = exc.slug == "agreement-terminated"
        form.error(
            "_form", form.t("agreement_terminated_already" if terminated else "partner_changed_reload")
        )

    return await submit(
        data,
        lambda data: service.terminate_agreement(
            db, actor_of(request), partner_id, agreement_id, data, settings
        ),
        done=lambda _: f"/ui/partners/{partner_id}#agreement-{agreement_id}",
        refused=refused,
        again=lambda _: partner_page_response(
            request,
            db,
            settings,
            partner_id,
            status_code=form_status(form),
            forms={f"terminate:{agreement_id}": form},
        ),
    )


@get(
    "/partners/{partner_id:uuid}/agreements/{agreement_id:uuid}/document",
    guards=[requires_document_reader],
    name="ui:agreement-document",
)
async def agreement_document(
    db: DbConnection, settings: Settings, partner_id: UUID, agreement_id: UUID
) -> Response[bytes]:
    """The signed copy, always as a download."""
    info, content = await service.download_document(db, partner_id, agreement_id, settings)
    return download(info, content)


PAGES = [new_agreement, create_agreement, upload_document, terminate_agreement, agreement_document]
