"""Staff pages for data-sharing scopes, sub-processors and impact assessments.

Requesting a scope and recording an impact assessment are pages of their own; approving,
suspending and revoking a scope and deciding on a sub-processor are forms on the partner
page, which a refused post re-renders with the reasons and what was typed. Each write
carries the API route's own guard.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import asyncpg
from litestar import Request, Response, get, post

from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.partners import service as partners
from vendor_risk.partners.labels import Labels
from vendor_risk.partners.pages import partner_page_response
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import SENSITIVITIES, VOLUME_BANDS, ProcessingMethod, period_problem
from vendor_risk.scopes import repository as repo
from vendor_risk.scopes import service
from vendor_risk.scopes.models import (
    ImpactAssessmentCreate,
    Outcome,
    ScopeApproval,
    ScopeCreate,
    ScopeWithdrawal,
    SubProcessorCreate,
    SubProcessorDecision,
    TransferMethod,
    UnlistedClientsUpdate,
)
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, choices, form_status, read_form, submit
from vendor_risk.ui.web import page, page_lang

PROCESSING_METHODS: Final[tuple[ProcessingMethod, ...]] = ("store", "process", "access_remotely", "transmit")
TRANSFER_METHODS: Final[tuple[TransferMethod, ...]] = (
    "api",
    "sftp",
    "https_upload",
    "email",
    "physical_media",
    "remote_access",
    "other",
)
OUTCOMES: Final[tuple[Outcome, ...]] = ("acceptable", "acceptable_with_conditions", "not_acceptable")


def _refused(form: Form, exc: Problem) -> None:
    """A service refusal beside its field in the page language (the service's own words
    are English): its field is named, the catalogue says what is wrong."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    errors = extra.get("errors") or []
    if exc.slug == "validation" and errors:
        for item in errors:
            form.error(str(item.get("field", "")) or "_form", form.t("form_invalid"))
        return
    if exc.slug == "partner-closed":
        form.error("_form", form.t("partner_closed"))
        return
    if exc.slug in ("stale-version", "illegal-transition"):
        form.error("_form", form.t("partner_changed_reload"))
        return
    form.problem(exc)


async def _again(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    key: str,
    form: Form,
) -> Response[str]:
    """The partner page again, this form with what was typed and its errors."""
    return await partner_page_response(
        request, db, settings, partner_id, status_code=form_status(form), forms={key: form}
    )


# --- request a scope ---------------------------------------------------------------------


async def _scope_form(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    form: Form,
    *,
    status_code: int = 200,
) -> Response[str]:
    partner = await partners.load(db, partner_id, settings)
    lang = form.lang
    t = form.t
    categories = await repo.list_categories(db)
    subs = await repo.list_sub_processors(db, partner_id, None, 50)
    order = {s: i for i, s in enumerate(SENSITIVITIES)}
    return page(
        request,
        "scopes/form",
        status_code=status_code,
        form=form,
        partner=partner,
        categories=[
            (
                str(c.id),
                f"{c.name.get(lang)}（{t('sensitivity_' + c.sensitivity)}）"
                if lang == "zh-CN"
                else f"{c.name.get(lang)} ({t('sensitivity_' + c.sensitivity)})",
            )
            for c in sorted(categories, key=lambda c: (-order[c.sensitivity], c.name.get(lang)))
        ],
        methods=choices(PROCESSING_METHODS, lambda m: t(f"method_{m}")),
        transfers=choices(TRANSFER_METHODS, lambda m: t(f"transfer_{m}")),
        volumes=choices(VOLUME_BANDS, lambda v: t(f"volume_{v}")),
        sub_processors=[(str(s.id), f"{s.name} · {s.country}") for s in subs if s.status != "rejected"],
    )


@get("/partners/{partner_id:uuid}/scopes/new", guards=[requires_record_keeper], name="ui:new-scope")
async def new_scope(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[str]:
    form = Form.of(
        page_lang(request),
        {"starts_on": partners.today_utc().isoformat(), "retention_days": 365, "volume_band": "under_1k"},
    )
    return await _scope_form(request, db, settings, partner_id, form)


@post(
    "/partners/{partner_id:uuid}/scopes",
    guards=[requires_record_keeper],
    name="ui:request-scope",
    status_code=303,
)
async def request_scope(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """Request a scope; bad input re-renders the form (400) with nothing written."""
    form = await read_form(request)
    data = form.decode(
        ScopeCreate,
        {
            "category_id": form.get("category_id"),
            "purpose": form.get("purpose"),
            "processing_methods": form.getlist("processing_methods"),
            "transfer_method": form.get("transfer_method"),
            "starts_on": form.get("starts_on"),
            "ends_on": form.get("ends_on"),
            "retention_days": form.get("retention_days"),
            "volume_band": form.get("volume_band"),
            "cross_border": form.checked("cross_border"),
            "sub_processing_allowed": form.checked("sub_processing_allowed"),
            "sub_processor_ids": form.getlist("sub_processor_ids"),
            "unlisted_clients_approx": form.get("unlisted_clients_approx") or None,
        },
    )
    if data is not None and period_problem(data.starts_on, data.ends_on):
        form.error("ends_on", form.t("period_end_before_start"))
        data = None
    return await submit(
        data,
        lambda data: service.request_scope(db, actor_of(request), partner_id, data),
        done=lambda scope: f"/ui/partners/{partner_id}#scope-{scope.id}",
        refused=lambda exc: _refused(form, exc),
        again=lambda _: _scope_form(request, db, settings, partner_id, form, status_code=form_status(form)),
    )


# --- decide on a scope -------------------------------------------------------------------


@post(
    "/partners/{partner_id:uuid}/scopes/{scope_id:uuid}/approve",
    guards=[requires_risk_owner],
    name="ui:approve-scope",
    status_code=303,
)
async def approve_scope(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID, scope_id: UUID
) -> Response[Any]:
    """Approve a scope; a refusal (409) shows the partner page with every unmet condition
    in the page language beside the scope."""
    form = await read_form(request)
    data = form.decode(ScopeApproval, {"note": form.get("note"), "version": form.get("version")})

    async def again(_: Problem | None) -> Response[str]:
        if form.unmet:
            names = {str(c.id): c.name for c in await repo.list_categories(db)}
            form.unmet = Labels(form.lang, names).unmet_items(form.unmet)
        return await _again(request, db, settings, partner_id, f"approve:{scope_id}", form)

    return await submit(
        data,
        lambda data: service.approve_scope(db, actor_of(request), partner_id, scope_id, data, settings),
        done=lambda _: f"/ui/partners/{partner_id}#scope-{scope_id}",
        refused=lambda exc: _refused(form, exc),
        again=again,
    )


@post(
    "/partners/{partner_id:uuid}/scopes/{scope_id:uuid}/unlisted-clients",
    guards=[requires_risk_owner],
    name="ui:scope-unlisted-clients",
    status_code=303,
)
async def set_unlisted_clients(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID, scope_id: UUID
) -> Response[Any]:
    """Set about how many clients' data the scope carries beyond those listed by name
    (empty clears it); bad input or a stale version re-renders the partner page."""
    form = await read_form(request)
    data = form.decode(
        UnlistedClientsUpdate,
        {
            "unlisted_clients_approx": form.get("unlisted_clients_approx") or None,
            "version": form.get("version"),
        },
    )
    return await submit(
        data,
        lambda data: service.set_unlisted_clients(db, actor_of(request), partner_id, scope_id, data),
        done=lambda _: f"/ui/partners/{partner_id}#scope-{scope_id}",
        refused=lambda exc: _refused(form, exc),
        again=lambda _: _again(request, db, settings, partner_id, f"unlisted:{scope_id}", form),
    )


async def _withdraw(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    scope_id: UUID,
    to: str,
) -> Response[Any]:
    form = await read_form(request)
    data = form.decode(ScopeWithdrawal, {"reason": form.get("reason"), "version": form.get("version")})
    # The partner page shows again the withdrawal form that was posted.
    form.values["action"] = to
    return await submit(
        data,
        lambda data: service.withdraw_scope(
            db, actor_of(request), partner_id, scope_id, data, "suspended" if to == "suspend" else "revoked"
        ),
        done=lambda _: f"/ui/partners/{partner_id}#scope-{scope_id}",
        refused=lambda exc: _refused(form, exc),
        again=lambda _: _again(request, db, settings, partner_id, f"withdraw:{scope_id}", form),
    )


@post(
    "/partners/{partner_id:uuid}/scopes/{scope_id:uuid}/suspend",
    guards=[requires_risk_owner],
    name="ui:suspend-scope",
    status_code=303,
)
async def suspend_scope(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID, scope_id: UUID
) -> Response[Any]:
    return await _withdraw(request, db, settings, partner_id, scope_id, "suspend")


@post(
    "/partners/{partner_id:uuid}/scopes/{scope_id:uuid}/revoke",
    guards=[requires_record_keeper],
    name="ui:revoke-scope",
    status_code=303,
)
async def revoke_scope(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID, scope_id: UUID
) -> Response[Any]:
    return await _withdraw(request, db, settings, partner_id, scope_id, "revoke")


# --- sub-processors ----------------------------------------------------------------------


@post(
    "/partners/{partner_id:uuid}/sub-processors",
    guards=[requires_record_keeper],
    name="ui:add-sub-processor",
    status_code=303,
)
async def add_sub_processor(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    form = await read_form(request)
    data = form.decode(
        SubProcessorCreate,
        {"name": form.get("name"), "country": form.get("country").upper(), "receives": form.get("receives")},
    )
    return await submit(
        data,
        lambda data: service.create_sub_processor(db, actor_of(request), partner_id, data),
        done=lambda created: f"/ui/partners/{partner_id}#sp-{created.id}",
        refused=lambda exc: _refused(form, exc),
        again=lambda _: _again(request, db, settings, partner_id, "sub_processor", form),
    )


async def _decide(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    sub_processor_id: UUID,
    *,
    approve: bool,
) -> Response[Any]:
    form = await read_form(request)
    data = form.decode(SubProcessorDecision, {"note": form.get("note"), "version": form.get("version")})
    return await submit(
        data,
        lambda data: service.decide_sub_processor(
            db, actor_of(request), partner_id, sub_processor_id, data, approve=approve
        ),
        done=lambda _: f"/ui/partners/{partner_id}#sp-{sub_processor_id}",
        refused=lambda exc: _refused(form, exc),
        again=lambda _: _again(request, db, settings, partner_id, f"decide:{sub_processor_id}", form),
    )


@post(
    "/partners/{partner_id:uuid}/sub-processors/{sub_processor_id:uuid}/approve",
    guards=[requires_risk_owner],
    name="ui:approve-sub-processor",
    status_code=303,
)
async def approve_sub_processor(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    sub_processor_id: UUID,
) -> Response[Any]:
    return await _decide(request, db, settings, partner_id, sub_processor_id, approve=True)


@post(
    "/partners/{partner_id:uuid}/sub-processors/{sub_processor_id:uuid}/reject",
    guards=[requires_risk_owner],
    name="ui:reject-sub-processor",
    status_code=303,
)
async def reject_sub_processor(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    sub_processor_id: UUID,
) -> Response[Any]:
    return await _decide(request, db, settings, partner_id, sub_processor_id, approve=False)


# --- impact assessments (PIPL art. 55) ---------------------------------------------------


async def _impact_form(
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
    scopes = await repo.list_scopes(db, partner_id, ["requested", "approved", "suspended"], None, 50)
    return page(
        request,
        "scopes/impact_form",
        status_code=status_code,
        form=form,
        partner=partner,
        scopes=[
            (str(s.id), f"{s.category.name.get(form.lang)} · {t('sstatus_' + s.status)}") for s in scopes
        ],
        outcomes=choices(OUTCOMES, lambda o: t(f"outcome_{o}")),
    )


@get(
    "/partners/{partner_id:uuid}/impact-assessments/new",
    guards=[requires_record_keeper],
    name="ui:new-impact-assessment",
)
async def new_impact_assessment(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    scope: UUID | None = None,
) -> Response[str]:
    initial: dict[str, Any] = {"assessed_on": partners.today_utc().isoformat()}
    if scope is not None:
        initial["scope_ids"] = [scope]
    user = request.scope.get("user")
    if user is not None:
        initial["assessor"] = getattr(user, "name", "")
    return await _impact_form(request, db, settings, partner_id, Form.of(page_lang(request), initial))


@post(
    "/partners/{partner_id:uuid}/impact-assessments",
    guards=[requires_record_keeper],
    name="ui:record-impact-assessment",
    status_code=303,
)
async def record_impact_assessment(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID
) -> Response[Any]:
    """Record the assessment; bad input re-renders the form (400) with nothing written."""
    form = await read_form(request)
    data = form.decode(
        ImpactAssessmentCreate,
        {
            name: form.get(name)
            for name in (
                "purpose",
                "necessity",
                "risks",
                "measures",
                "conclusion",
                "outcome",
                "assessor",
                "assessed_on",
            )
        }
        | {"scope_ids": form.getlist("scope_ids")},
    )
    if data is not None and data.assessed_on > partners.today_utc():
        form.error("assessed_on", form.t("date_not_future"))
        data = None
    return await submit(
        data,
        lambda data: service.record_impact_assessment(db, actor_of(request), partner_id, data),
        done=lambda _: f"/ui/partners/{partner_id}#impact-assessments",
        refused=lambda exc: _refused(form, exc),
        again=lambda _: _impact_form(request, db, settings, partner_id, form, status_code=form_status(form)),
    )


PAGES = [
    new_scope,
    request_scope,
    approve_scope,
    suspend_scope,
    revoke_scope,
    set_unlisted_clients,
    add_sub_processor,
    approve_sub_processor,
    reject_sub_processor,
    new_impact_assessment,
    record_impact_assessment,
]
