"""What a partner contact does in self-service: report a security incident (and, beside
it, the other actions). Each is a plain form: CSRF, what was typed kept on error, the
error beside its field, audited, and the staff told through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post

from vendor_risk.agreements import service as agreements_service
from vendor_risk.db import DbConnection
from vendor_risk.documents import MAX_DOCUMENT_BYTES, MAX_UPLOAD_BODY_BYTES, clean_filename, download
from vendor_risk.errors import Problem
from vendor_risk.incidents.pages import from_local, local_input
from vendor_risk.partners import pages as partner_pages
from vendor_risk.partners import service as partners_service
from vendor_risk.partners.models import ContactIn
from vendor_risk.scopes.models import SubProcessorCreate
from vendor_risk.selfservice import certificates, contacts, service
from vendor_risk.selfservice.certificates import CERTIFICATE_KINDS, CertificateUpload
from vendor_risk.selfservice.models import PERSONS_RANGES, IncidentReport, Viewer
from vendor_risk.selfservice.web import scoped_partner, see_other, ss_form, ss_lang, ss_page
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, submit

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

    async def again(exc: Problem | None) -> Response[str]:
        if exc is not None:
            if not (isinstance(exc.extra, dict) and exc.extra.get("errors")):
                raise exc
            for item in exc.extra["errors"]:
                name = str(item.get("field", ""))
                form.error(name, form.t(_REPORT_REFUSALS.get(name, "form_invalid")))
        return await _report_page(request, db, viewer, form, status=400)

    return await submit(
        data,
        lambda data: service.report_incident(db, viewer, data, settings),
        done=lambda _: f"/p?lang={form.lang}&done=incident_reported",
        again=again,
    )


ACTION_PAGES: list[Any] = [report_form, report]


# --- certificates ---------------------------------------------------------------------------------------


def _kind_choices(form: Form) -> list[tuple[str, str]]:
    return [(kind, form.t(f"ss_cert_kind_{kind}")) for kind in CERTIFICATE_KINDS]


def _certificate_page(request: Request[Any, Any, Any], form: Form, *, status: int = 200) -> Response[str]:
    return ss_page(
        request,
        "certificate_new",
        status_code=status,
        form=form,
        kind_choices=_kind_choices(form),
        max_mb=MAX_DOCUMENT_BYTES // 2**20,
    )


@get("/certificates/new", name="ss:certificate-form")
async def certificate_form(request: Request[Any, Any, Any], viewer: Viewer) -> Response[str]:
    """Upload a certificate: kind, issuer, number, scope, dates and the file."""
    scoped_partner(viewer)
    return _certificate_page(request, Form(ss_lang(request)))


@post("/certificates", name="ss:upload-certificate", request_max_body_size=MAX_UPLOAD_BODY_BYTES)
async def upload_certificate(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer
) -> Response[Any]:
    form = await ss_form(request)
    data = form.decode(
        CertificateUpload,
        {
            "kind": form.get("kind"),
            "issuer": form.get("issuer"),
            "number": form.get("number"),
            "scope": form.get("scope"),
            "issued_on": form.get("issued_on"),
            "expires_on": form.get("expires_on"),
        },
    )
    upload = form.file("file")
    content = await upload.read() if upload is not None else b""
    if upload is None:
        form.error("file", form.t("form_required"))
    filename = clean_filename(upload.filename) if upload is not None else ""

    async def again(exc: Problem | None) -> Response[str]:
        if exc is None:
            return _certificate_page(request, form, status=400)
        errors = exc.extra.get("errors") if isinstance(exc.extra, dict) else None
        if not errors:
            raise exc
        for item in errors:
            name = str(item.get("field", ""))
            if name == "file":
                key = {413: "file_too_large", 415: "file_type"}.get(exc.status_code, "file_empty")
            else:
                key = {"expires_on": "ss_cert_expired", "issued_on": "ss_cert_issued_after"}.get(
                    name, "form_invalid"
                )
            form.error(name, form.t(key))
        return _certificate_page(request, form, status=exc.status_code)

    return await submit(
        data if upload is not None else None,
        lambda data: certificates.upload_certificate(
            db,
            service.contact_actor(viewer),
            scoped_partner(viewer),
            data,
            (content, filename),
            settings,
            today=datetime.now(UTC).date(),
        ),
        done=lambda _: f"/p?lang={form.lang}&done=certificate_uploaded#certificates",
        again=again,
    )


@get("/certificates/{certificate_id:uuid}/file", name="ss:certificate-file")
async def certificate_file(db: DbConnection, viewer: Viewer, certificate_id: UUID) -> Response[bytes]:
    """The partner's own certificate file, as uploaded."""
    info, content = await certificates.certificate_file(db, scoped_partner(viewer), certificate_id)
    return download(info, content)


ACTION_PAGES += [certificate_form, upload_certificate, certificate_file]


# --- sub-processors --------------------------------------------------------------------------------------


def _sub_processor_page(request: Request[Any, Any, Any], form: Form, *, status: int = 200) -> Response[str]:
    return ss_page(request, "sub_processor_new", status_code=status, form=form)


@get("/sub-processors/new", name="ss:sub-processor-form")
async def sub_processor_form(request: Request[Any, Any, Any], viewer: Viewer) -> Response[str]:
    """Declare a new sub-processor: it waits for the risk owner's consent (PIPL art. 21)."""
    scoped_partner(viewer)
    return _sub_processor_page(request, Form(ss_lang(request)))


@post("/sub-processors", name="ss:declare-sub-processor")
async def declare_sub_processor(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer
) -> Response[Any]:
    form = await ss_form(request)
    data = form.decode(
        SubProcessorCreate,
        {"name": form.get("name"), "country": form.get("country").upper(), "receives": form.get("receives")},
    )
    if data is None:
        return _sub_processor_page(request, form, status=400)
    await service.declare_sub_processor(db, viewer, data, settings)
    return see_other(f"/p?lang={form.lang}&done=sub_processor_declared#sub-processors")


ACTION_PAGES += [sub_processor_form, declare_sub_processor]


# --- agreements ------------------------------------------------------------------------------------------


@get("/agreements/{agreement_id:uuid}/document", name="ss:agreement-document")
async def agreement_document(
    db: DbConnection, settings: Settings, viewer: Viewer, agreement_id: UUID
) -> Response[bytes]:
    """The signed copy of one of the partner's agreements, where the policy allows it."""
    if not settings.policy.agreements.partner_downloads:
        raise Problem(403, "partner-downloads-off", "the firm does not offer signed copies here")
    info, content = await agreements_service.download_document(
        db, scoped_partner(viewer), agreement_id, settings
    )
    return download(info, content)


ACTION_PAGES += [agreement_document]


# --- contact changes ----------------------------------------------------------------------------------


def _contact_values(partner: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"version": partner.version}
    for i, c in enumerate(partner.contacts):
        values |= {
            f"contacts.{i}.id": c.id,
            f"contacts.{i}.name": c.name,
            f"contacts.{i}.email": c.email,
            f"contacts.{i}.phone": c.phone,
            f"contacts.{i}.role": c.role,
            f"contacts.{i}.locale": c.locale,
            f"contacts.{i}.primary": c.primary,
        }
    return values


async def _contacts_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    viewer: Viewer,
    form: Form,
    *,
    status: int = 200,
) -> Response[str]:
    pending = [c for c in await contacts.list_changes(db, scoped_partner(viewer), 1) if c.status == "pending"]
    return ss_page(
        request,
        "contacts",
        status_code=status,
        form=form,
        contact_rows=range(partner_pages._contact_rows(form)),
        locales=[("zh-CN", "中文"), ("en", "English")],
        pending=pending[0] if pending else None,
    )


@get("/contacts", name="ss:contacts-form")
async def contacts_form(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer
) -> Response[str]:
    """The partner's contacts as a form: a change is proposed, procurement confirms it."""
    partner = await partners_service.load(db, scoped_partner(viewer), settings)
    return await _contacts_page(
        request, db, settings, viewer, Form.of(ss_lang(request), _contact_values(partner))
    )


@post("/contacts", name="ss:propose-contacts")
async def propose_contacts(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, viewer: Viewer
) -> Response[Any]:
    form = await ss_form(request)
    proposed = partner_pages._contacts(form)
    note = form.get("note")
    if len(note) > 2000:
        form.error("note", form.t("form_too_long", max=2000))
    try:
        version = int(form.get("version"))
    except ValueError:
        version = -1
    if not proposed and not form.errors:
        form.error("contacts.0.name", form.t("ss_contacts_keep_one"))
    if form.invalid:
        return await _contacts_page(request, db, settings, viewer, form, status=400)
    partner_id = scoped_partner(viewer)
    try:
        await contacts.propose(
            db,
            service.contact_actor(viewer),
            partner_id,
            [msgspec.convert(c, ContactIn) for c in proposed],
            version,
            note,
            settings,
        )
    except Problem as exc:
        if exc.slug != "stale-version":
            raise
        current = await partners_service.load(db, partner_id, settings)
        return ss_page(
            request,
            "contacts_conflict",
            status_code=409,
            theirs=current.contacts,
            yours=proposed,
            hidden=[
                (name, item)
                for name, value in form.values.items()
                if name != "version"
                for item in (value if isinstance(value, list) else [value])
            ],
            version=current.version,
        )
    return see_other(f"/p?lang={form.lang}&done=contacts_proposed#contacts")


ACTION_PAGES += [contacts_form, propose_contacts]
