"""Staff pages of the client register (``/ui/clients``) and of the clients an incident
affects (``/ui/incidents/{id}/clients``: the list, its CSV, and filling the art. 57
record's counts). Risk owners keep the register; auditors read it; nobody else sees it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any, Final, Literal
from uuid import UUID

from litestar import Request, Response, get, post

from vendor_risk.auth.guards import requires_client_reader, requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.clients import imports, service
from vendor_risk.clients import repository as repo
from vendor_risk.clients.models import Client, ClientCreate, ClientUpdate
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.i18n import translator
from vendor_risk.pagination import decode_cursor, encode_cursor
from vendor_risk.reports.exports import MEDIA_TYPES, Format, content_disposition, file_names
from vendor_risk.reports.imports import MAX_IMPORT_BYTES
from vendor_risk.ui.forms import Form, conflict_page, form_status, read_form
from vendor_risk.ui.web import allows, page, page_lang, see_other, with_query

PAGE_SIZE: Final = 50
Lang = Literal["zh-CN", "en"] | None
KINDS: Final = ("person", "company")
FIELDS: Final = ("name", "kind", "contact_name", "contact_email", "contact_phone")


def _data(form: Form) -> dict[str, Any]:
    return {
        "name": form.get("name"),
        "kind": form.get("kind"),
        "contact_name": form.get("contact_name"),
        "contact_email": form.get("contact_email") or None,
        "contact_phone": form.get("contact_phone") or None,
        "scope_ids": form.getlist("scope_ids"),
    }


async def _form_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    form: Form,
    *,
    client: Client | None = None,
    status_code: int = 200,
) -> Response[str]:
    t = form.t
    return page(
        request,
        "clients/form",
        status_code=status_code,
        form=form,
        client=client,
        action=f"/ui/clients/{client.id}" if client else "/ui/clients",
        kinds=[(k, t(f"rm_client_kind_{k}")) for k in KINDS],
        scopes=await repo.scope_choices(db, page_lang(request)),
    )


@get("/clients", guards=[requires_client_reader], name="ui:clients")
async def client_list(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """The register by name, 50 a page."""
    after = decode_cursor(request.query_params.get("cursor"), str, UUID)
    rows = await repo.list_clients(db, (after[0], after[1]) if after else None, PAGE_SIZE + 1)
    items = rows[:PAGE_SIZE]
    more = None
    if len(rows) > PAGE_SIZE:
        more = with_query("/ui/clients", {"cursor": encode_cursor(items[-1].name.lower(), items[-1].id)})
    return page(
        request, "clients/list", items=items, more=more, can_edit=await allows(requires_risk_owner, request)
    )


@get("/clients/new", guards=[requires_risk_owner], name="ui:new-client")
async def new_client(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    return await _form_page(request, db, Form.of(page_lang(request), {"kind": "person"}))


@post("/clients", guards=[requires_risk_owner], name="ui:create-client", status_code=303)
async def create_client(request: Request[Any, Any, Any], db: DbConnection) -> Response[Any]:
    form = await read_form(request)
    data = form.decode(ClientCreate, _data(form))
    if data is not None:
        try:
            await service.create_client(db, actor_of(request), data)
        except Problem as exc:
            if exc.status_code >= 500:
                raise
            form.problem(exc)
        else:
            return see_other("/ui/clients")
    return await _form_page(request, db, form, status_code=form_status(form))


@get("/clients/{client_id:uuid}/edit", guards=[requires_risk_owner], name="ui:edit-client")
async def edit_client(request: Request[Any, Any, Any], db: DbConnection, client_id: UUID) -> Response[str]:
    client = await service.load(db, client_id)
    values = {name: getattr(client, name) for name in FIELDS}
    values |= {"scope_ids": [str(s) for s in client.scope_ids], "version": client.version}
    return await _form_page(request, db, Form.of(page_lang(request), values), client=client)


@post("/clients/{client_id:uuid}", guards=[requires_risk_owner], name="ui:update-client", status_code=303)
async def update_client(request: Request[Any, Any, Any], db: DbConnection, client_id: UUID) -> Response[Any]:
    form = await read_form(request)
    data = form.decode(ClientUpdate, {**_data(form), "version": form.get("version")})
    if data is not None:
        try:
            await service.update_client(db, actor_of(request), client_id, data)
        except Problem as exc:
            if exc.slug == "stale-version":
                current = await service.load(db, client_id)
                return conflict_page(
                    request,
                    form,
                    {name: getattr(current, name) for name in FIELDS},
                    [(name, form.t(f"rm_client_{name}")) for name in FIELDS],
                    action=f"/ui/clients/{client_id}",
                    back=f"/ui/clients/{client_id}/edit",
                    version=current.version,
                )
            if exc.status_code == 404 or exc.status_code >= 500:
                raise
            form.problem(exc)
        else:
            return see_other("/ui/clients")
    client = await service.load(db, client_id)
    return await _form_page(request, db, form, client=client, status_code=form_status(form))


@get("/incidents/{incident_id:uuid}/clients", guards=[requires_client_reader], name="ui:incident-clients")
async def incident_clients(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[str]:
    """The clients the incident affects, how many, and the button that fills the record."""
    found = await service.affected(db, incident_id, page_lang(request))
    return page(
        request,
        "clients/affected",
        a=found,
        done=request.query_params.get("done") == "filled",
        can_fill=await allows(requires_risk_owner, request),
    )


@get(
    "/incidents/{incident_id:uuid}/clients.csv",
    guards=[requires_client_reader],
    name="ui:incident-clients-csv",
)
async def incident_clients_csv(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[bytes]:
    """The notification list: one row per client affected, with its contact."""
    lang = page_lang(request)
    found = await service.affected(db, incident_id, lang)
    t = Form(lang).t
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*(t(f"rm_client_{n}") for n in FIELDS), t("rm_client_categories")])
    for c in found.clients:
        kind = t(f"rm_client_kind_{c.kind}")
        categories = t("rm_list_sep").join(c.categories)
        writer.writerow([c.name, kind, c.contact_name, c.contact_email, c.contact_phone, categories])
    return Response(
        ("\ufeff" + out.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="incident-{incident_id}-clients.csv"',
            "Cache-Control": "no-store",
        },
    )


@get(
    "/incidents/{incident_id:uuid}/clients/letters.pdf",
    guards=[requires_client_reader],
    name="ui:incident-clients-letters",
)
async def incident_letters(db: DbConnection, incident_id: UUID) -> Response[bytes]:
    """The notice letters to the clients affected, Chinese and English, in one PDF."""
    return Response(
        await service.notice_letters(db, incident_id),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="incident-{incident_id}-notices.pdf"',
            "Cache-Control": "no-store",
        },
    )


@post(
    "/incidents/{incident_id:uuid}/clients/fill",
    guards=[requires_risk_owner],
    name="ui:incident-clients-fill",
    status_code=303,
)
async def fill_counts(request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID) -> Response[Any]:
    """Fill the art. 57 record's count and "who they are" from the affected clients."""
    await read_form(request)
    await service.fill_record_counts(db, actor_of(request), incident_id, page_lang(request))
    return see_other(f"/ui/incidents/{incident_id}/clients?done=filled")


# --- import -----------------------------------------------------------------------------


@get("/clients/import", guards=[requires_risk_owner], name="ui:clients-import")
async def import_page(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "clients/import", report=None, error=None)


@get("/clients/import/template", guards=[requires_risk_owner], name="ui:clients-import-template")
async def import_template(
    request: Request[Any, Any, Any], format: Format = "xlsx", file_lang: Lang = None
) -> Response[bytes]:
    """The register's import template, XLSX (drop-downs, a help sheet) or CSV, in either language."""
    lang = file_lang or page_lang(request)
    ascii_name, local_name = file_names(
        f"client-import-template-{lang}", translator(lang)("cl_imp_template"), datetime.now(UTC), format
    )
    return Response(
        imports.template(format, lang),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": content_disposition(ascii_name, local_name),
            "Cache-Control": "no-store",
        },
    )


@post(
    "/clients/import",
    guards=[requires_risk_owner],
    name="ui:clients-import-upload",
    request_max_body_size=MAX_IMPORT_BYTES + 64 * 1024,
)
async def import_upload(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """Check (or, with the import button, import) the uploaded register; the result lists
    every row error by row and column, or what was (or would be) created and updated."""
    form = await request.form()
    upload = form.get("file")
    dry_run = form.get("action") != "import"
    if upload is None or isinstance(upload, str):
        message = translator(page_lang(request))("rpt_imp_empty")
        return page(request, "clients/import", status_code=400, report=None, error=message)
    content = await upload.read()
    try:
        report = await imports.run_import(
            db, actor_of(request), content, upload.filename or "", page_lang(request), dry_run=dry_run
        )
    except Problem as exc:
        return page(request, "clients/import", status_code=exc.status_code, report=None, error=exc.detail)
    return page(
        request, "clients/import", status_code=422 if report.errors else 200, report=report, error=None
    )


PAGES = [
    import_page,
    import_template,
    import_upload,
    client_list,
    new_client,
    create_client,
    edit_client,
    update_client,
    incident_clients,
    incident_clients_csv,
    incident_letters,
    fill_counts,
]
