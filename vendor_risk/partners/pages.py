"""Staff pages of the partner registry: the list, create and edit, the partner page with
its lifecycle buttons, and the credit code check the form asks as you type.

Every page calls ``partners.service`` (never the HTTP API) and every write carries the
API route's own guard, so a page never allows more than the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request, Response, get, post

from vendor_risk.agreements.panel import agreement_panel
from vendor_risk.approvals.service import SecondApprovalRequired
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments.routes import requires_sender
from vendor_risk.auth.guards import current_user, requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.findings import repository as findings_repo
from vendor_risk.incidents.pages import incidents_panel
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.pagination import FilterText, decode_cursor, encode_cursor
from vendor_risk.partners import repository as repo
from vendor_risk.partners import service
from vendor_risk.partners.labels import Labels
from vendor_risk.partners.models import ContactIn, Partner, PartnerCreate, PartnerUpdate, Transition
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import (
    CRITICALITIES,
    PARTNER_TRANSITIONS,
    TIERS,
    TRANSITION_ROLES,
    credit_code_issue,
    legal_id_issues,
    normalize_credit_code,
    transition_gate,
)
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.scopes.panel import scope_panel
from vendor_risk.selfservice.staff import selfservice_panel
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, choices, conflict_page, form_status, read_form
from vendor_risk.ui.web import allows, page, page_lang, see_other, with_query

PAGE_SIZE: Final = 25
# The partner page shows the newest of each list; the full lists are in the API.
DETAIL_ITEMS: Final = 50
# Contact rows on the form: the partner's own plus this many blank ones (no script needed
# to add one; save and edit again for more).
BLANK_CONTACTS: Final = 1
MAX_CONTACTS: Final = 50
# Free-text filters refuse control characters as the API does (400 naming the parameter).
Query = FilterText
SORT_LABELS: Final = {
    "created": "sort_newest",
    "name": "sort_name",
    "tier": "sort_tier",
    "rating": "sort_rating",
    "reassessment": "sort_reassessment",
}
RATINGS: Final = (*TIERS, "unrated")
CONTACT_FIELDS: Final = ("name", "email", "phone", "role", "locale")


# --- the list ----------------------------------------------------------------------------


@get("/partners", name="ui:partners")
async def partner_list(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    q: Query = None,
    status: str | None = None,
    tier: str | None = None,
    attention: bool | None = None,
    rating: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
) -> Response[str]:
    """Search, filters and sort, all in the address (a list can be bookmarked and shared);
    one query per page, whatever the number of partners."""
    status = status if status in PARTNER_TRANSITIONS else None
    tier = tier if tier in TIERS else None
    rating = rating if rating in RATINGS else None
    order: repo.PartnerSort = sort if sort in repo.PARTNER_SORTS else "created"  # type: ignore[assignment]
    after = decode_cursor(cursor, *repo.SORTS[order].types)
    filters = repo.ListFilters(
        statuses=[status] if status else None,
        tiers=[tier] if tier else None,
        q=q.strip() if q and q.strip() else None,
        needs_attention=attention or None,
        ratings=[rating] if rating else None,
    )
    rows = await repo.list_partners(
        db,
        filters,
        after,
        PAGE_SIZE + 1,
        service.today_utc(),
        settings.agreement_expiring_days,
        sort=order,
    )
    items = rows[:PAGE_SIZE]
    params = {
        "q": q,
        "status": status,
        "tier": tier,
        "attention": "true" if attention else None,
        "rating": rating,
        "sort": None if order == "created" else order,
    }
    more = None
    if len(rows) > PAGE_SIZE:
        more = with_query(
            "/ui/partners", {**params, "cursor": encode_cursor(*repo.sort_key(items[-1], order))}
        )
    return page(
        request,
        "partners/list",
        items=items,
        more=more,
        q=q or "",
        status=status or "",
        tier=tier or "",
        rating=rating or "",
        ratings=RATINGS,
        attention=bool(attention),
        sort=order,
        sorts=[
            (code, key, with_query("/ui/partners", {**params, "sort": code}))
            for code, key in SORT_LABELS.items()
        ],
        statuses=list(PARTNER_TRANSITIONS),
        tiers=TIERS,
        can_create=await allows(requires_record_keeper, request),
    )


# --- create and edit ---------------------------------------------------------------------


def _credit_code_error(form: Form, raw: str) -> str | None:
    """The check the form runs as you type and on submit, in the page language."""
    issue = credit_code_issue(normalize_credit_code(raw))
    return form.t(issue[0], **issue[1]) if issue else None


def _initial(partner: Partner) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": partner.name,
        "legal_name": partner.legal_name,
        "credit_code": partner.credit_code,
        "registration_number": partner.registration_number,
        "country": partner.country,
        "website": partner.website,
        "domain": partner.domain,
        "services": "\n".join(partner.services),
        "business_criticality": partner.business_criticality,
        "owner_id": partner.owner_id,
        "version": partner.version,
    }
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


def _contact_rows(form: Form) -> int:
    """How many contact rows the form shows: those typed or stored, plus blank ones."""
    used = {
        int(name.split(".")[1])
        for name in form.values
        if name.startswith("contacts.") and name.split(".")[1].isdigit()
    }
    return min(MAX_CONTACTS, (max(used) + 1 if used else 0) + BLANK_CONTACTS)


def _contacts(form: Form) -> list[dict[str, Any]]:
    """The contact rows as ContactIn values; a row left blank is no contact. Each bad
    field gets its error as ``contacts.{i}.{field}``."""
    found: list[dict[str, Any]] = []
    for i in range(_contact_rows(form)):
        prefix = f"contacts.{i}."
        data: dict[str, Any] = {f: form.get(prefix + f) for f in CONTACT_FIELDS}
        if not any(data[f] for f in ("name", "email", "phone", "role")):
            continue
        data["primary"] = form.checked(prefix + "primary")
        if form.get(prefix + "id"):
            data["id"] = form.get(prefix + "id")
        data["locale"] = data["locale"] or "zh-CN"
        row = Form(form.lang)
        contact = row.decode(ContactIn, data)
        for name, message in row.errors.items():
            form.error(prefix + name, message)
        if contact is not None:
            found.append(msgspec.to_builtins(contact))
    if found and not any(c["primary"] for c in found):
        form.error("contacts.0.primary", form.t("contacts_primary_missing"))
    emails = [str(c["email"]).lower() for c in found]
    if len(set(emails)) != len(emails):
        form.error("contacts.0.email", form.t("contacts_email_twice"))
    return found


def _partner_data(form: Form) -> dict[str, Any]:
    """The posted partner fields as the service's Struct expects them, with the checks the
    rules make (legal ids) said in the page language beside their fields."""
    country = form.get("country").upper() or "CN"
    credit_code = normalize_credit_code(form.get("credit_code")) or None
    data: dict[str, Any] = {
        "name": form.get("name"),
        "legal_name": form.get("legal_name"),
        "credit_code": credit_code,
        "registration_number": form.get("registration_number") or None,
        "country": country,
        "website": form.get("website") or None,
        "domain": form.get("domain") or None,
        "services": [
            line.strip() for line in str(form.values.get("services", "")).splitlines() if line.strip()
        ],
        "business_criticality": form.get("business_criticality"),
        "owner_id": form.get("owner_id") or None,
        "contacts": _contacts(form),
    }
    for field, key, params in legal_id_issues(
        country=country, credit_code=credit_code, registration_number=data["registration_number"]
    ):
        form.error(field, form.t(key, **params))
    return data


def _service_refusal(form: Form, exc: Problem) -> None:
    """A refusal of the partner service beside its field, in the page language."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    if exc.slug == "duplicate-partner":
        field = (extra.get("errors") or [{}])[0].get("field", "credit_code")
        form.error(field, form.t("partner_duplicate", name=extra.get("existing_partner_name", "")))
        return
    if exc.slug == "validation":
        for item in extra.get("errors") or []:
            field = str(item.get("field", ""))
            form.error(field, form.t("form_choose") if field == "owner_id" else form.t("form_invalid"))
        if form.errors:
            return
    form.problem(exc)


async def _form_page(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    form: Form,
    *,
    partner: Partner | None = None,
    status_code: int = 200,
    history: list[Any] | None = None,
) -> Response[str]:
    owners = await repo.risk_owner_choices(db)
    t = form.t
    return page(
        request,
        "partners/form",
        status_code=status_code,
        form=form,
        partner=partner,
        action=f"/ui/partners/{partner.id}/edit" if partner else "/ui/partners",
        contact_rows=range(_contact_rows(form)),
        criticalities=choices(CRITICALITIES, lambda c: t(f"tier_{c}")),
        owners=[(str(i), name) for i, name in owners],
        locales=[("zh-CN", "中文"), ("en", "English")],
        history=history or [],
    )


@get("/partners/new", guards=[requires_record_keeper], name="ui:new-partner")
async def new_partner(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    form = Form.of(page_lang(request), {"country": "CN", "business_criticality": "medium"})
    return await _form_page(request, db, form)


@post("/partners", guards=[requires_record_keeper], name="ui:create-partner", status_code=303)
async def create_partner(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[Any]:
    """Register a partner; bad input re-renders the form (400) with each error beside its
    field and nothing written."""
    form = await read_form(request)
    data = _partner_data(form)
    data["confirm_history"] = form.checked("confirm_history")
    created = form.decode(PartnerCreate, data)
    history: list[Any] = []
    if created is not None and not form.errors:
        try:
            partner = await service.create_partner(db, actor_of(request), created, settings)
        except SecondApprovalRequired:
            raise  # 202: the ui error handler shows the pending decision
        except Problem as exc:
            if exc.slug != "partner-history":
                _service_refusal(form, exc)
            else:
                # A former partner held this legal id: its history, and a box to go on.
                raw = exc.extra.get("history", []) if isinstance(exc.extra, dict) else []
                history = msgspec.convert(raw, list[repo.FormerPartner])
                form.error("confirm_history", form.t("rm_history_confirm_needed"))
        else:
            return see_other(f"/ui/partners/{partner.id}")
    status = 409 if history else form_status(form)
    return await _form_page(request, db, form, status_code=status, history=history)


@get("/partners/check-credit-code", name="ui:check-credit-code")
async def check_credit_code(request: Request[Any, Any, Any], credit_code: Query = None) -> Response[str]:
    """The form's check as you type (htmx swaps this fragment in beside the field)."""
    form = Form(page_lang(request))
    raw = credit_code or ""
    error = _credit_code_error(form, raw) if raw.strip() else None
    return page(request, "partners/_credit_code", form=form, error=error, given=bool(raw.strip()))


@get("/partners/{partner_id:uuid}/edit", guards=[requires_record_keeper], name="ui:edit-partner")
async def edit_partner(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[str]:
    partner = await service.load(db, partner_id, settings)
    return await _form_page(request, db, Form.of(page_lang(request), _initial(partner)), partner=partner)


CONFLICT_FIELDS: Final = ("name", "legal_name", "credit_code", "registration_number", "country", "website")


@post(
    "/partners/{partner_id:uuid}/edit",
    guards=[requires_record_keeper],
    name="ui:update-partner",
    status_code=303,
)
async def update_partner(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """Save the edit form (with the version it was read at); a stale one shows both
    versions side by side."""
    form = await read_form(request)
    partner = await service.load(db, partner_id, settings)
    data = _partner_data(form)
    data["version"] = form.get("version")
    changes = form.decode(PartnerUpdate, data)
    if changes is not None and not form.errors:
        try:
            await service.update_partner(db, actor_of(request), partner_id, changes, settings)
        except SecondApprovalRequired:
            raise  # 202: the ui error handler shows the pending decision
        except Problem as exc:
            if exc.slug == "stale-version":
                current = await service.load(db, partner_id, settings)
                return conflict_page(
                    request,
                    form,
                    _initial(current),
                    [(name, form.t(f"partner_{name}")) for name in CONFLICT_FIELDS],
                    action=f"/ui/partners/{partner_id}/edit",
                    back=f"/ui/partners/{partner_id}",
                    version=current.version,
                )
            _service_refusal(form, exc)
        else:
            return see_other(f"/ui/partners/{partner_id}")
    return await _form_page(request, db, form, partner=partner, status_code=form_status(form))


# --- the partner page and its lifecycle ---------------------------------------------------


def _moves(
    request: Request[Any, Any, Any], partner: Partner, facts: Any, labels: Labels, posted: Form
) -> list[dict[str, Any]]:
    """One button per move allowed from the current status that the user's role may make,
    each with the conditions it still misses."""
    role = current_user(request).role.value
    moves = []
    for target in PARTNER_TRANSITIONS[partner.status]:
        if role not in TRANSITION_ROLES.get(target, frozenset()):
            continue
        unmet = transition_gate(facts, target)
        form = posted if posted.get("to") == target else Form(labels.lang)
        moves.append({"to": target, "unmet": [labels.unmet(u) for u in unmet], "form": form})
    order = list(PARTNER_TRANSITIONS)
    return sorted(moves, key=lambda m: order.index(m["to"]))


async def partner_page_response(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    *,
    status_code: int = 200,
    forms: Mapping[str, Form] | None = None,
) -> Response[str]:
    """The partner page: facts, tier with its factors, lifecycle buttons, agreements,
    scopes (approval reasons shown before the button), impact assessments, sub-processors,
    assessments, findings and incidents. A fixed number of queries whatever the rows.

    ``forms`` re-renders one of its forms with what was typed and its errors (a refused
    post), keyed by the form's name."""
    partner = await service.load(db, partner_id, settings)
    today = service.today_utc()
    lang = page_lang(request)
    categories = await scopes_repo.list_categories(db)
    labels = Labels(lang, {str(c.id): c.name for c in categories})
    facts = await service.lifecycle_facts(db, partner, today, settings)
    agreements = await agreement_panel(request, db, settings, partner, today, labels, forms or {})
    scopes = await scope_panel(request, db, settings, partner, facts, labels, forms or {})
    assessment_list = await assessments_repo.list_assessments(
        db, assessments_repo.ListFilters(partner_id=partner_id), today, None, DETAIL_ITEMS
    )
    finding_list = await findings_repo.list_findings(
        db, findings_repo.ListFilters(partner_id=partner_id), today, None, DETAIL_ITEMS
    )
    transition_form = (forms or {}).get("transition") or Form(lang)
    return page(
        request,
        "partners/detail",
        status_code=status_code,
        partner=partner,
        L=labels,
        moves=_moves(request, partner, facts, labels, transition_form)
        if partner.status != "offboarded"
        else [],
        transition_form=transition_form,
        agreements=agreements,
        scopes=scopes,
        assessments=assessment_list,
        findings=finding_list,
        incidents=await incidents_panel(request, db, partner_id),
        selfservice=await selfservice_panel(request, db, partner_id, forms),
        offboarding=await service.offboarding_progress(db, partner_id),
        can_edit=partner.status != "offboarded" and await allows(requires_record_keeper, request),
        can_decide=await allows(requires_risk_owner, request),
        can_send=partner.status not in {"offboarding", "offboarded"}
        and await allows(requires_sender, request),
    )


@get("/partners/{partner_id:uuid}", name="ui:partner")
async def partner_page(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[str]:
    return await partner_page_response(request, db, settings, partner_id)


@post(
    "/partners/{partner_id:uuid}/transitions",
    guards=[requires_record_keeper],
    name="ui:transition-partner",
    status_code=303,
)
async def transition_partner(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """Move the partner; a refusal shows the partner page with the unmet conditions in the
    page language and the reason kept."""
    form = await read_form(request)
    target = form.get("to")
    allowed = TRANSITION_ROLES.get(target, frozenset())  # type: ignore[call-overload]
    if current_user(request).role.value not in allowed:
        raise Problem(403, "forbidden", f"moving a partner to {target} needs another role")
    data = form.decode(
        Transition, {"to": target, "reason": form.get("reason"), "version": form.get("version")}
    )
    if data is not None:
        try:
            await service.transition(db, actor_of(request), partner_id, data, settings)
        except SecondApprovalRequired:
            raise  # 202: the ui error handler shows the pending decision
        except Problem as exc:
            if exc.slug == "stale-version":
                form.error("_form", form.t("partner_changed_reload"))
            else:
                form.problem(exc)
                lang = page_lang(request)
                form.unmet = Labels(lang, await _category_names(db)).unmet_items(form.unmet)
        else:
            # Offboarding emails the attestation: deliver it now, not at the next sweep.
            await kick_outbox(request.app.state.redis)
            return see_other(f"/ui/partners/{partner_id}#lifecycle")
    return await partner_page_response(
        request, db, settings, partner_id, status_code=form_status(form), forms={"transition": form}
    )


async def _category_names(db: asyncpg.Connection) -> dict[str, Any]:
    return {str(c.id): c.name for c in await scopes_repo.list_categories(db)}


PAGES = [
    partner_list,
    new_partner,
    create_partner,
    check_credit_code,
    edit_partner,
    update_partner,
    partner_page,
    transition_partner,
]

__all__ = ["PAGES", "partner_page_response"]
