"""Staff pages of incidents: the list; an incident with its steps (complete or skip with a
note and evidence), the PIPL art. 57 notification record as a form with its export, and
closing; the form that opens an incident from a partner page with a playbook, and that
page's incidents panel (``incidents_panel``, rendered by ``templates/partners/_incidents.html``).

Every write carries its API route's own guard and calls the same service function; a
refusal is shown in the page language from the catalogue, keyed by the problem's stable
type or condition code, beside the field it names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, get_args
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Request, Response, get, post

from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.auth.models import Role
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.i18n import translator
from vendor_risk.incidents import repository as repo
from vendor_risk.incidents import service
from vendor_risk.incidents.loader import library
from vendor_risk.incidents.models import (
    IncidentClose,
    IncidentCreate,
    IncidentDetail,
    IncidentDismiss,
    IncidentStatus,
    IncidentUpdate,
    NotificationRecord,
    NotificationRecordUpdate,
    StepComplete,
    StepSkip,
)
from vendor_risk.incidents.playbook import SEVERITIES
from vendor_risk.incidents.routes import kick_incident_work, requires_reporter, requires_step_owner
from vendor_risk.pagination import created_after, paged
from vendor_risk.partners import service as partners
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import FORM_ERROR, Form, conflict_page, read_form, submit
from vendor_risk.ui.web import allows, page, page_lang, signed_in, with_query

T = TypeVar("T")

PAGE_SIZE: Final = 25
# The partner page shows its newest incidents; the list page has them all.
PANEL_ITEMS: Final = 10
# Times are typed and shown in the firm's clock, as every staff page shows them.
LOCAL_ZONE: Final = ZoneInfo("Asia/Shanghai")
STATUSES: Final = get_args(IncidentStatus)
STEP_FIELDS: Final = ("note", "evidence", "reason")
# The art. 57 record's fields in the order of the form (and of the export).
RECORD_TEXTS: Final = (
    "affected_persons",
    "cause",
    "possible_harm",
    "remedial_measures",
    "individual_measures",
    "contact",
    "authority_name",
    "authority_notified_how",
    "persons_notified_how",
    "persons_not_notified_reason",
)
RECORD_TIMES: Final = ("authority_notified_at", "persons_notified_at")
RECORD_FORM_FIELDS: Final = (
    "categories",
    "persons_affected_approx",
    "affected_persons",
    "cause",
    "possible_harm",
    "remedial_measures",
    "individual_measures",
    "contact",
    "authority_name",
    "authority_notified_at",
    "authority_notified_how",
    "persons_notified_at",
    "persons_notified_how",
    "persons_not_notified_reason",
)


def local_input(moment: datetime | None) -> str:
    """A stored time as a ``datetime-local`` control's value, in the firm's clock."""
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M") if moment else ""


def from_local(text: str) -> str:
    """A ``datetime-local`` value (the firm's clock) as an ISO time with its offset; what
    is not one is passed on as typed, so decoding names the field."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_ZONE)
    return parsed.isoformat()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- refusals in the page language -----------------------------------------------------------


def _joined(lang: str, items: Sequence[str]) -> str:
    return ("、" if lang == "zh-CN" else ", ").join(items)


def _step_list(detail: IncidentDetail, lang: str) -> Callable[[Sequence[str]], str]:
    titles = {s.id: s.title.get(lang) for s in detail.steps}
    return lambda ids: _joined(lang, [titles.get(i, i) for i in ids])


def _field_list(t: Callable[..., str], lang: str) -> Callable[[Sequence[str]], str]:
    return lambda names: _joined(lang, [t("art57_" + name) for name in names])


# The fields the incident services refuse, and the catalogue's words for each.
_FIELD_REFUSALS: Final = {
    "detected_at": "inc_detected_future",
    "severity": "inc_severity_not_for_playbook",
    "playbook": "form_choose",
    "affected_categories": "form_choose",
    "categories": "form_choose",
}


def _field_refusals(form: Form, exc: Problem) -> None:
    """A service's 400 naming fields, each beside its field in the page language."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    for item in extra.get("errors", []):
        name = str(item.get("field", ""))
        form.error(name or FORM_ERROR, form.t(_FIELD_REFUSALS.get(name, "form_invalid")))


def _refusal(form: Form, exc: Problem, detail: IncidentDetail) -> None:
    """Record a service refusal on ``form`` in the page language: beside the field it
    names, or above the form keyed by the problem's stable type."""
    t = form.t
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    steps = _step_list(detail, form.lang)
    if exc.slug == "notification-record-incomplete":
        missing = _field_list(t, form.lang)(extra.get("missing", []))
        form.error(FORM_ERROR, t("inc_refused_record_incomplete", fields=missing))
    elif exc.slug == "steps-open":
        form.error(FORM_ERROR, t("inc_refused_steps_open", steps=steps(extra["open_steps"])))
    elif exc.slug == "step-blocked":
        form.error(FORM_ERROR, t("inc_refused_step_blocked", steps=steps(extra["unmet"])))
    elif exc.slug == "step-finished":
        form.error(FORM_ERROR, t("inc_refused_step_finished"))
    elif exc.slug == "incident-state":
        form.error(
            FORM_ERROR, t("inc_refused_state", status=t("istatus_" + str(extra.get("current_status"))))
        )
    elif exc.slug == "validation" and extra.get("errors"):
        _field_refusals(form, exc)
    else:
        raise exc


# --- the list -------------------------------------------------------------------------------


@get("/incidents", name="ui:incidents")
async def incident_list(
    request: Request[Any, Any, Any],
    db: DbConnection,
    status: str | None = None,
    severity: str | None = None,
    overdue: bool | None = None,
    partner: UUID | None = None,
    cursor: str | None = None,
) -> Response[str]:
    """Newest first, filtered by status, severity, partner and overdue steps (kept in the
    address)."""
    status = status if status in STATUSES else None
    severity = severity if severity in SEVERITIES else None
    filters = repo.ListFilters(
        statuses=[status] if status else None,
        severities=[severity] if severity else None,
        partner_id=partner,
        overdue=overdue or None,
    )
    rows = await repo.list_incidents(db, filters, datetime.now(UTC), created_after(cursor), PAGE_SIZE + 1)
    listed = paged(rows, PAGE_SIZE)
    params = {
        "status": status,
        "severity": severity,
        "partner": partner,
        "overdue": "true" if overdue else None,
    }
    more = (
        with_query("/ui/incidents", {**params, "cursor": listed.next_cursor}) if listed.next_cursor else None
    )
    return page(
        request,
        "incidents/list",
        items=listed.items,
        more=more,
        status=status or "",
        severity=severity or "",
        overdue=bool(overdue),
        partner=partner or "",
        statuses=STATUSES,
        severities=SEVERITIES,
    )


# --- one incident ---------------------------------------------------------------------------


def record_values(record: NotificationRecord) -> dict[str, Any]:
    """The record as form values (times in the firm's clock)."""
    values: dict[str, Any] = {name: getattr(record, name) for name in RECORD_TEXTS}
    values["categories"] = record.categories
    values["persons_affected_approx"] = record.persons_affected_approx
    values |= {name: local_input(getattr(record, name)) for name in RECORD_TIMES}
    return values


async def _incident_page(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    incident_id: UUID,
    *,
    detail: IncidentDetail | None = None,
    status_code: int = 200,
    step_form: tuple[str, Form] | None = None,
    record_form: Form | None = None,
    close_form: Form | None = None,
    decide_form: Form | None = None,
    update_form: Form | None = None,
    mark_record: bool = False,
) -> Response[str]:
    lang = page_lang(request)
    detail = detail or await service.load_detail(db, incident_id)
    record = await service.notification_record(db, detail)
    missing = await service.notification_record_missing(db, detail)
    categories = await scopes_repo.list_categories(db)
    if record_form is None:
        record_form = Form.of(lang, {**record_values(record), "version": record.version})
        # A close refused for the record marks each missing field of the record beside it.
        for name in missing if mark_record else ():
            record_form.error(name, record_form.t("inc_art57_required", field=record_form.t("art57_" + name)))
    candidates = {c.code for c in detail.candidate_categories}
    names = {c.code: c.name.get(lang) for c in categories}
    user = signed_in(request)
    can_decide = await allows(requires_risk_owner, request)
    runs_any = can_decide
    runs_own = await allows(requires_step_owner, request)
    return page(
        request,
        "incidents/detail",
        status_code=status_code,
        i=detail,
        record=record,
        missing=missing,
        step_list=_step_list(detail, lang),
        field_list=_field_list(translator(lang), lang),
        category_list=lambda codes: _joined(lang, [names.get(c, c) for c in codes]),
        blank=Form(lang),
        # Candidates (the partner's scopes) first, then every other category.
        category_choices=[
            (c.code, c.name.get(lang))
            for c in sorted(categories, key=lambda c: (c.code not in candidates, c.code))
        ],
        step_form=step_form,
        record_form=record_form,
        close_form=close_form or Form(lang),
        decide_form=decide_form or Form(lang),
        update_form=update_form
        or Form.of(
            lang,
            {
                "version": detail.version,
                "title": detail.title,
                "description": detail.description,
                "affected_categories": detail.affected_categories,
            },
        ),
        can_decide=can_decide,
        # The service's own rule: a risk owner runs any step, another role its own steps.
        # The service's own rule: a risk owner runs any step, another role its own steps.
        runs_steps=[s.id for s in detail.steps if runs_any or (runs_own and s.owner_role == user.role.value)],
        live=detail.status in ("suspected", "open"),
    )


@get("/incidents/{incident_id:uuid}", name="ui:incident")
async def incident_page(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[str]:
    """Steps with deadlines, actions and their forms; the art. 57 record; closing; the timeline."""
    return await _incident_page(request, db, incident_id)


async def _decide(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    incident_id: UUID,
    form: Form,
    data: T | None,
    act: Callable[[T], Awaitable[object]],
    *,
    shown: dict[str, Any],
    done: str,
    kick: bool = False,
    stale: Callable[[IncidentDetail], Awaitable[Response[str]]] | None = None,
) -> Response[Any]:
    """One of the incident page's forms posted: ``data`` (None when a field is bad) goes to
    the service (``act``, then the incident's queued work is kicked when ``kick``) and the
    browser to ``done``; a refusal re-renders the incident page with the form (``shown``,
    the page's keyword for it) keeping what was typed and the refusal beside its field, in
    the page language; a stale version gets ``stale``'s conflict page."""

    async def run(value: T) -> None:
        await act(value)
        if kick:
            await kick_incident_work(request)

    async def again(exc: Problem | None) -> Response[str]:
        if exc is None:
            return await _incident_page(request, db, incident_id, status_code=400, **shown)
        if exc.status_code == 404:
            raise exc
        detail = await service.load_detail(db, incident_id)
        if stale is not None and exc.slug == "stale-version":
            return await stale(detail)
        _refusal(form, exc, detail)
        return await _incident_page(
            request,
            db,
            incident_id,
            detail=detail,
            status_code=exc.status_code,
            # A close refused for the record marks each missing field of the record.
            mark_record=exc.slug == "notification-record-incomplete",
            **shown,
        )

    return await submit(data, run, done=lambda _: done, again=again)


async def _finish(
    request: Request[Any, Any, Any], db: asyncpg.Connection, incident_id: UUID, step_id: str, *, skip: bool
) -> Response[Any]:
    form = await read_form(request)
    # Each step's controls are named for the step (``note:contain``): one page, many forms.
    data: StepComplete | StepSkip | None
    if skip:
        data = form.decode(StepSkip, {"reason": form.get(f"reason:{step_id}")})
    else:
        data = form.decode(
            StepComplete,
            {"note": form.get(f"note:{step_id}"), "evidence": _lines(form.get(f"evidence:{step_id}"))},
        )
    form.errors = {(f"{k}:{step_id}" if k in STEP_FIELDS else k): v for k, v in form.errors.items()}

    # Any: typed as the union, mypy would solve _decide's type variable to their common base.
    async def finish(data: Any) -> None:
        if isinstance(data, StepSkip):
            await service.skip_step(db, signed_in(request), incident_id, step_id, data)
        else:
            await service.complete_step(db, signed_in(request), incident_id, step_id, data)

    return await _decide(
        request,
        db,
        incident_id,
        form,
        data,
        finish,
        shown={"step_form": (step_id, form)},
        done=f"/ui/incidents/{incident_id}#step-{step_id}",
        kick=True,
    )


@post(
    "/incidents/{incident_id:uuid}/steps/{step_id:str}/complete",
    guards=[requires_step_owner],
    name="ui:complete-step",
    status_code=303,
)
async def complete_step(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, step_id: str
) -> Response[Any]:
    """Complete a step with a note and evidence (one reference per line)."""
    return await _finish(request, db, incident_id, step_id, skip=False)


@post(
    "/incidents/{incident_id:uuid}/steps/{step_id:str}/skip",
    guards=[requires_risk_owner],
    name="ui:skip-step",
    status_code=303,
)
async def skip_step(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, step_id: str
) -> Response[Any]:
    """Skip a step that does not apply, with the reason."""
    return await _finish(request, db, incident_id, step_id, skip=True)


@post("/incidents/{incident_id:uuid}/confirm", guards=[requires_risk_owner], name="ui:confirm-incident")
async def confirm_incident(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[Any]:
    """A risk owner confirms a suspected incident: it opens and its containment runs."""
    form = await read_form(request)
    return await _decide(
        request,
        db,
        incident_id,
        form,
        True,  # nothing to decode: confirming takes no fields
        lambda _: service.confirm_incident(db, signed_in(request), incident_id),
        shown={"decide_form": form},
        done=f"/ui/incidents/{incident_id}",
        kick=True,
    )


@post("/incidents/{incident_id:uuid}/dismiss", guards=[requires_risk_owner], name="ui:dismiss-incident")
async def dismiss_incident(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[Any]:
    """A risk owner dismisses a suspected incident that was not one, saying why."""
    form = await read_form(request)
    return await _decide(
        request,
        db,
        incident_id,
        form,
        form.decode(IncidentDismiss, {"reason": form.get("reason")}),
        lambda data: service.dismiss_incident(db, signed_in(request), incident_id, data),
        shown={"decide_form": form},
        done=f"/ui/incidents/{incident_id}",
    )


def record_labels(t: Any) -> list[tuple[str, str]]:
    return [(name, t("art57_" + name)) for name in RECORD_FORM_FIELDS]


@post(
    "/incidents/{incident_id:uuid}/notification-record",
    guards=[requires_risk_owner],
    name="ui:save-notification-record",
)
async def save_notification_record(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[Any]:
    """Save the art. 57 record whole, with the version read; a stale one gets the
    side-by-side conflict page."""
    form = await read_form(request)
    values: dict[str, Any] = {name: form.get(name) for name in RECORD_TEXTS}
    values |= {name: from_local(form.get(name)) if form.get(name) else "" for name in RECORD_TIMES}
    values |= {
        "version": form.get("version"),
        "categories": form.getlist("categories"),
        "persons_affected_approx": form.get("persons_affected_approx"),
    }
    # Blank texts are empty strings in the record, not "not given".
    data = form.decode(NotificationRecordUpdate, values)

    async def conflict(detail: IncidentDetail) -> Response[str]:
        current = await service.notification_record(db, detail)
        return conflict_page(
            request,
            form,
            record_values(current),
            record_labels(form.t),
            action=f"/ui/incidents/{incident_id}/notification-record",
            back=f"/ui/incidents/{incident_id}#record",
            version=current.version,
        )

    return await _decide(
        request,
        db,
        incident_id,
        form,
        data,
        lambda data: service.save_notification_record(db, signed_in(request), incident_id, data),
        shown={"record_form": form},
        done=f"/ui/incidents/{incident_id}#record",
        stale=conflict,
    )


@post("/incidents/{incident_id:uuid}/update", guards=[requires_risk_owner], name="ui:update-incident")
async def update_incident(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[Any]:
    """Correct the title or description, or name the affected categories as the impact
    assessment establishes them, with the version read (a stale one: the conflict page)."""
    form = await read_form(request)
    data = form.decode(
        IncidentUpdate,
        {
            "version": form.get("version"),
            "title": form.get("title"),
            "description": form.get("description"),
            "affected_categories": form.getlist("affected_categories"),
        },
    )
    if not form.get("title"):
        # The API may leave the title out; the form always shows it, so blank is an error.
        form.error("title", form.t("form_required"))
        data = None
    if data is not None:
        # Only what changed: unticking every box names none affected (decoding drops an
        # empty list as "not given"), and an unchanged field is not an update.
        current = await service.load(db, incident_id)
        typed: dict[str, Any] = {
            "title": data.title,
            "description": form.get("description"),
            "affected_categories": form.getlist("affected_categories"),
        }
        changed = {k: v for k, v in typed.items() if v != getattr(current, k)}
        data = msgspec.convert({"version": data.version, **changed}, IncidentUpdate)

    async def conflict(detail: IncidentDetail) -> Response[str]:
        t = form.t
        return conflict_page(
            request,
            form,
            {
                "title": detail.title,
                "description": detail.description,
                "affected_categories": detail.affected_categories,
            },
            [
                ("title", t("inc_title")),
                ("description", t("inc_description")),
                ("affected_categories", t("inc_affected_categories")),
            ],
            action=f"/ui/incidents/{incident_id}/update",
            back=f"/ui/incidents/{incident_id}",
            version=detail.version,
        )

    return await _decide(
        request,
        db,
        incident_id,
        form,
        data,
        lambda data: service.update_incident(db, signed_in(request), incident_id, data),
        shown={"update_form": form},
        done=f"/ui/incidents/{incident_id}#categories",
        stale=conflict,
    )


@get("/incidents/{incident_id:uuid}/notification-record/export", name="ui:export-notification-record")
async def export_notification_record(
    db: DbConnection, incident_id: UUID, lang: str = "zh-CN"
) -> Response[str]:
    """The art. 57 record as a Markdown document for the authority, in ``lang``."""
    lang = lang if lang in ("zh-CN", "en") else "zh-CN"
    text = await service.export_notification_record(db, incident_id, lang)
    return Response(
        text,
        media_type="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="incident-{incident_id}-art57-{lang}.md"'},
    )


@post("/incidents/{incident_id:uuid}/close", guards=[requires_risk_owner], name="ui:close-incident")
async def close_incident(
    request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
) -> Response[Any]:
    """Close the incident; refused, naming each open step and each missing art. 57 field."""
    form = await read_form(request)
    return await _decide(
        request,
        db,
        incident_id,
        form,
        form.decode(IncidentClose, {"note": form.get("note")}),
        lambda data: service.close_incident(db, signed_in(request), incident_id, data),
        shown={"close_form": form},
        done=f"/ui/incidents/{incident_id}",
        kick=True,
    )


# --- opening one from a partner page ------------------------------------------------------------


def _open_defaults(lang: str) -> Form:
    return Form.of(
        lang,
        {"playbook": "partner-data-leak", "severity": "high", "detected_at": local_input(datetime.now(UTC))},
    )


def _playbook_choices(lang: str) -> list[tuple[str, str]]:
    return [(p.key, p.title.get(lang)) for p in library().values()]


def _severity_choices(t: Any) -> list[tuple[str, str]]:
    return [(s, t("severity_" + s)) for s in SEVERITIES]


async def incidents_panel(
    request: Request[Any, Any, Any], db: asyncpg.Connection, partner_id: UUID
) -> dict[str, Any]:
    """The partner page's incidents panel (``templates/partners/_incidents.html``, context
    ``incidents``): the newest incidents and, for who may open one, the form choosing the
    playbook (it leads to the full form). One query."""
    lang = page_lang(request)
    items = await repo.list_incidents(
        db, repo.ListFilters(partner_id=partner_id), datetime.now(UTC), None, PANEL_ITEMS + 1
    )
    return {
        "partner_id": partner_id,
        "recent": items[:PANEL_ITEMS],
        "more": len(items) > PANEL_ITEMS,
        "can_open": await allows(requires_reporter, request),
        "only_suspected": signed_in(request).role == Role.PROCUREMENT,
        "form": _open_defaults(lang),
        "playbooks": _playbook_choices(lang),
    }


async def _open_page(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    form: Form,
    *,
    status_code: int = 200,
) -> Response[str]:
    lang = page_lang(request)
    partner = await partners.load(db, partner_id, settings)
    scopes = await scopes_repo.list_scopes(
        db, partner_id, service.SHARED_SCOPE_STATUSES, None, service.MAX_SCOPES
    )
    received = {s.category.code: s.category.name.get(lang) for s in scopes}
    return page(
        request,
        "incidents/open",
        status_code=status_code,
        partner=partner,
        form=form,
        playbooks=_playbook_choices(lang),
        severities=_severity_choices(form.t),
        categories=sorted(received.items(), key=lambda item: item[0]),
        only_suspected=signed_in(request).role == Role.PROCUREMENT,
    )


@get("/partners/{partner_id:uuid}/incidents/new", guards=[requires_reporter], name="ui:new-incident")
async def new_incident(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    playbook: str | None = None,
) -> Response[str]:
    """The form that opens an incident for the partner, with the playbooks (the one the
    partner page chose selected) and the categories the partner receives (what may have
    leaked)."""
    form = _open_defaults(page_lang(request))
    if playbook is not None and playbook in library():
        form.values["playbook"] = playbook
    return await _open_page(request, db, settings, partner_id, form)


@post("/partners/{partner_id:uuid}/incidents", guards=[requires_reporter], name="ui:open-incident")
async def open_incident(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """Open an incident from a playbook (procurement reports it as suspected); its
    containment is queued at once and the browser goes to the incident."""
    form = await read_form(request)
    suspected = form.checked("suspected") or signed_in(request).role == Role.PROCUREMENT
    data = form.decode(
        IncidentCreate,
        {
            "title": form.get("title"),
            "severity": form.get("severity"),
            "detected_at": from_local(form.get("detected_at")) if form.get("detected_at") else "",
            "playbook": form.get("playbook"),
            "affected_categories": form.getlist("affected_categories"),
            "description": form.get("description"),
            "suspected": suspected,
        },
    )

    async def again(exc: Problem | None) -> Response[str]:
        if exc is not None:
            if exc.status_code in (403, 404) or not (isinstance(exc.extra, dict) and exc.extra.get("errors")):
                raise exc
            _field_refusals(form, exc)
        status_code = exc.status_code if exc is not None else 400
        return await _open_page(request, db, settings, partner_id, form, status_code=status_code)

    async def opening(data: IncidentCreate) -> UUID:
        opened = await service.open_incident(db, signed_in(request), partner_id, data, settings)
        await kick_incident_work(request)
        return opened.id

    return await submit(data, opening, done=lambda opened: f"/ui/incidents/{opened}", again=again)


PAGES = [
    incident_list,
    incident_page,
    complete_step,
    skip_step,
    confirm_incident,
    dismiss_incident,
    save_notification_record,
    export_notification_record,
    close_incident,
    update_incident,
    new_incident,
    open_incident,
]
