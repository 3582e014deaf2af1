"""The staff pages of the security notices: the library, a notice with its publish form
(the audience previewed before anything is sent), a publication's progress with the
evidence export, and a partner's notices. Every reader may look; the publish form is shown,
and accepted, only for a risk owner (the API's own guard)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Stream

from vendor_risk.auth.guards import requires_reader, requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem, not_found
from vendor_risk.i18n import translator
from vendor_risk.notices import repository as repo
from vendor_risk.notices import service
from vendor_risk.notices.evidence import export_evidence
from vendor_risk.notices.models import AUDIENCES, AudienceIn, PublicationCreate
from vendor_risk.partners.rules import TIERS
from vendor_risk.policy import SERVICE_TYPES
from vendor_risk.reports.routes import send
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import FORM_ERROR, Form, read_form
from vendor_risk.ui.web import allows, page, page_lang, see_other

RECENT: Final = 50
# The form's field that holds the value of each audience.
VALUE_FIELD: Final = {
    "tier": "tier",
    "data_category": "data_category",
    "service_type": "service_type",
    "partner": "partner_id",
}
_MESSAGES: Final = {
    "must be after today": "nt_err_due_after_today",
    "must be within a year": "nt_err_due_within_year",
    "required: this notice asks for acknowledgement": "nt_err_due_required",
    "no partner (not offboarded) has this id": "nt_err_no_partner",
}


def _label(t: Any, lang: str, audience: str, value: str | None, name: str | None) -> str:
    """The audience in words: "高风险级别的合作方", "one partner: 某某公司"…"""
    if audience == "all":
        return str(t("nt_audience_all"))
    if audience == "tier":
        shown = t(f"tier_{value}")
    elif audience == "service_type":
        shown = t(f"service_type_{value}")
    elif audience == "data_category" and name:
        zh, _, en = name.partition("|")
        shown = zh if lang == "zh-CN" else en
    else:
        shown = name or value or ""
    return str(t(f"nt_audience_is_{audience}", value=shown))


@get("/notices", name="ui:notices", guards=[requires_reader])
async def notice_list(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """Every notice (newest version first, older versions listed) and recent publications."""
    versions = await repo.all_versions(db)
    library: dict[str, list[Any]] = {}
    for v in versions:
        library.setdefault(v.key, []).append(v)
    publications = [service.summary_of(r) for r in await repo.list_publications(db, None, RECENT)]
    lang = page_lang(request)
    return page(
        request,
        "notices/index",
        library=list(library.values()),
        publications=publications,
        audience_label=lambda p: _label(
            translator(lang), lang, p.audience, p.audience_value, p.audience_label
        ),
    )


async def _notice_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    key: str,
    version: int,
    *,
    form: Form | None = None,
    preview: Any = None,
    status_code: int = 200,
) -> Response[str]:
    notice = await service.get_version(db, key, version)
    lang = page_lang(request)
    newest = await db.fetchval("SELECT max(version) FROM notice_versions WHERE key = $1", key)
    categories = await db.fetch("SELECT code, name_zh, name_en FROM data_categories ORDER BY name_en")
    partner_name = None
    if form is None:
        asked = request.query_params.get("partner")
        form = Form.of(
            lang,
            {
                "audience": "partner" if asked else "all",
                "partner_id": asked,
                "due_on": (datetime.now(UTC).date() + timedelta(days=settings_due_days(request))).isoformat()
                if notice.ack_required
                else None,
            },
        )
    partner_id = form.get("partner_id")
    if partner_id:
        try:
            partner_name = await db.fetchval("SELECT name FROM partners WHERE id = $1", UUID(partner_id))
        except ValueError:
            partner_name = None
    t = translator(lang)
    return page(
        request,
        "notices/notice",
        status_code=status_code,
        notice=notice,
        newest=newest,
        form=form,
        preview=preview,
        partner_name=partner_name,
        can_publish=await allows(requires_risk_owner, request),
        audiences=[(a, t(f"nt_audience_{a}")) for a in AUDIENCES],
        tiers=[(x, t(f"tier_{x}")) for x in TIERS],
        service_types=[(x, t(f"service_type_{x}")) for x in SERVICE_TYPES],
        categories=[(c["code"], c["name_zh"] if lang == "zh-CN" else c["name_en"]) for c in categories],
        today=datetime.now(UTC).date(),
    )


def settings_due_days(request: Request[Any, Any, Any]) -> int:
    settings: Settings = request.app.state.settings
    return settings.policy.assessments.due_days


@get("/notices/{key:str}/{version:int}", name="ui:notice", guards=[requires_reader])
async def notice_page(
    request: Request[Any, Any, Any], db: DbConnection, key: str, version: int
) -> Response[str]:
    """The notice in the page's language, and (for a risk owner) the publish form;
    ``?partner=<id>`` opens the form for that one partner."""
    return await _notice_page(request, db, key, version)


def _refused(form: Form, exc: Problem, audience: str) -> None:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    errors = extra.get("errors") or []
    for item in errors:
        field = str(item.get("field", ""))
        if field == "audience_value":
            field = VALUE_FIELD.get(audience, "audience")
        message = str(item.get("message", ""))
        key = _MESSAGES.get(message, "form_choose" if field in VALUE_FIELD.values() else "form_invalid")
        form.error(field or FORM_ERROR, form.t(key))
    if not errors:
        form.error(FORM_ERROR, form.t(f"nt_problem_{exc.slug.replace('-', '_')}"))


@post(
    "/notices/{key:str}/{version:int}",
    name="ui:publish-notice",
    guards=[requires_risk_owner],
    status_code=303,
)
async def publish(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, key: str, version: int
) -> Response[Any]:
    """``step=preview`` counts the partners and contacts reached and shows the form again;
    ``step=publish`` sends (and then shows the publication's progress)."""
    form = await read_form(request)
    audience = form.get("audience")
    value_field = VALUE_FIELD.get(audience)
    raw = {
        "audience": audience,
        "audience_value": form.get(value_field) if value_field else None,
        "due_on": form.get("due_on"),
        "message": form.get("message").replace("\r\n", "\n"),
    }
    checked: AudienceIn | None = form.decode(
        AudienceIn, {"audience": raw["audience"], "audience_value": raw["audience_value"]}
    )
    if "audience_value" in form.errors and value_field:
        message = form.errors.pop("audience_value")
        # A partner id that is not one names no partner, as the service says of an unknown id.
        if audience == "partner" and form.get(value_field):
            message = form.t("nt_err_no_partner")
        form.errors[value_field] = message
    preview = None
    if checked is not None:
        try:
            preview = await service.preview_audience(db, checked)
        except Problem as exc:
            if exc.status_code >= 500:
                raise
            _refused(form, exc, audience)
    if form.get("step") != "publish" or form.invalid:
        return await _notice_page(
            request, db, key, version, form=form, preview=preview, status_code=400 if form.invalid else 200
        )
    data: PublicationCreate | None = form.decode(
        PublicationCreate, {"notice_key": key, "notice_version": version, **raw}
    )
    if data is not None:
        try:
            created = await service.publish(db, actor_of(request), data, settings)
        except Problem as exc:
            if exc.status_code == 404 or exc.status_code >= 500:
                raise
            _refused(form, exc, audience)
        else:
            return see_other(f"/ui/notices/publications/{created.id}")
    return await _notice_page(request, db, key, version, form=form, preview=preview, status_code=400)


@get("/notices/publications/{publication_id:uuid}", name="ui:notice-publication", guards=[requires_reader])
async def publication_page(
    request: Request[Any, Any, Any], db: DbConnection, publication_id: UUID
) -> Response[str]:
    """Where a publication stands: per partner and contact, sent, opened, acknowledged by
    whom and when, reminders sent; the evidence as CSV or XLSX."""
    summary = await service.get_publication_summary(db, publication_id)
    recipients = await repo.recipients(db, publication_id)
    lang = page_lang(request)
    return page(
        request,
        "notices/publication",
        summary=summary,
        groups=service.recipients_by_partner(recipients),
        audience=_label(
            translator(lang), lang, summary.audience, summary.audience_value, summary.audience_label
        ),
        overdue=summary.due_on is not None and summary.due_on < datetime.now(UTC).date(),
    )


@get(
    "/notices/publications/{publication_id:uuid}/evidence",
    name="ui:notice-evidence",
    guards=[requires_reader],
)
async def publication_evidence(
    request: Request[Any, Any, Any],
    db: DbConnection,
    publication_id: UUID,
    format: Literal["xlsx", "csv"] = "xlsx",
) -> Stream:
    await service.get_publication_summary(db, publication_id)
    return send(
        await export_evidence(
            request.app.state.db_pool,
            actor_of(request),
            format,
            page_lang(request),
            publication_id=publication_id,
        )
    )


@get("/partners/{partner_id:uuid}/notices", name="ui:partner-notices", guards=[requires_reader])
async def partner_notices(
    request: Request[Any, Any, Any], db: DbConnection, partner_id: UUID
) -> Response[str]:
    """Every notice the partner received, the version, and who acknowledged it when."""
    partner = await db.fetchrow("SELECT id, name FROM partners WHERE id = $1", partner_id)
    if partner is None:
        raise not_found("partner", partner_id)
    notices = await repo.partner_notices(db, partner_id)
    latest = await repo.all_versions(db)
    return page(
        request,
        "notices/partner",
        partner=partner,
        notices=notices,
        library=[v for i, v in enumerate(latest) if i == 0 or latest[i - 1].key != v.key],
        can_publish=await allows(requires_risk_owner, request),
        today=datetime.now(UTC).date(),
    )


@get(
    "/partners/{partner_id:uuid}/notices/evidence",
    name="ui:partner-notice-evidence",
    guards=[requires_reader],
)
async def partner_evidence(
    request: Request[Any, Any, Any],
    db: DbConnection,
    partner_id: UUID,
    format: Literal["xlsx", "csv"] = "xlsx",
) -> Stream:
    if not await db.fetchval("SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1)", partner_id):
        raise not_found("partner", partner_id)
    return send(
        await export_evidence(
            request.app.state.db_pool, actor_of(request), format, page_lang(request), partner_id=partner_id
        )
    )


PAGES = [
    notice_list,
    notice_page,
    publish,
    publication_page,
    publication_evidence,
    partner_notices,
    partner_evidence,
]
