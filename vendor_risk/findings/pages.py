"""The findings board: every finding with its partner, severity, title, owner, due date and
status, most severe first; filters by owner, partner, severity, status and overdue, kept in
the URL; a risk owner assigns an owner and a due date, or accepts the risk until a date.

Writes carry the API's own guard (``requires_risk_owner``) and call the findings service;
a refused form shows the board again with the error beside its field and what was typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

from litestar import Request, Response, get, post

from vendor_risk.approvals.service import SecondApprovalRequired
from vendor_risk.auth import repository as users_repo
from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.findings import repository as repo
from vendor_risk.findings import service
from vendor_risk.findings.models import AcceptanceCreate, FindingUpdate, FindingVerify
from vendor_risk.pagination import decode_cursor, encode_cursor
from vendor_risk.partners.service import today_utc
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import FORM_ERROR, Form, conflict_page, form_status, read_form
from vendor_risk.ui.web import allows, page, page_lang, see_other, with_query

PAGE_SIZE: Final = 25
STATUSES: Final = ("open", "remediating", "verifying", "accepted", "resolved")
SEVERITIES: Final = ("critical", "high", "medium", "low")
# finding_severity_weight() in migrations/0050_findings_board.sql.
WEIGHTS: Final = {"critical": 4, "high": 3, "medium": 2, "low": 1}
# Staff a finding may be given to, and whose names the board shows.
MAX_USERS: Final = 500
_FIELD_MESSAGES: Final = {
    "must be an enabled user": "form_choose",
    "must be after today": "fb_err_after_today",
}


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def _refused(form: Form, exc: Problem) -> None:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    errors = extra.get("errors") or []
    for item in errors:
        message = str(item.get("message", ""))
        key = _FIELD_MESSAGES.get(message, "fb_err_within_year" if "within" in message else "form_invalid")
        form.error(str(item.get("field", "")) or FORM_ERROR, form.t(key))
    if not errors:
        form.error(FORM_ERROR, form.t(f"fb_problem_{exc.slug.replace('-', '_')}"))


async def _board(
    request: Request[Any, Any, Any],
    db: DbConnection,
    *,
    form: Form | None = None,
    editing: UUID | None = None,
    panel: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    params = request.query_params
    status = params.get("status") if params.get("status") in STATUSES else None
    severity = params.get("severity") if params.get("severity") in SEVERITIES else None
    owner = _uuid(params.get("owner"))
    partner = _uuid(params.get("partner"))
    overdue = params.get("overdue") == "true"
    after = decode_cursor(params.get("cursor"), int, datetime, UUID)
    today = today_utc()
    rows = await repo.list_findings(
        db,
        repo.ListFilters(
            status=status, severity=severity, owner_id=owner, partner_id=partner, overdue=overdue or None
        ),
        today,
        after,
        PAGE_SIZE + 1,
        severity_first=True,
    )
    items = rows[:PAGE_SIZE]
    kept = {
        "status": status,
        "severity": severity,
        "owner": str(owner) if owner else None,
        "partner": str(partner) if partner else None,
        "overdue": "true" if overdue else None,
    }
    more = None
    if len(rows) > PAGE_SIZE:
        last = items[-1]
        cursor = encode_cursor(WEIGHTS[last.severity], last.created_at, last.id)
        more = with_query("/ui/findings", {**kept, "cursor": cursor})
    users = await users_repo.list_users(db, None, None, MAX_USERS)
    partner_name = None
    if partner is not None:
        partner_name = (
            items[0].partner_name
            if items
            else await db.fetchval("SELECT name FROM partners WHERE id = $1", partner)
        )
    lang = page_lang(request)
    return page(
        request,
        "findings/board",
        status_code=status_code,
        items=items,
        more=more,
        kept=kept,
        filter_partner=partner_name,
        users={u.id: u for u in users},
        owners=[(str(u.id), u.name) for u in users if not u.disabled],
        statuses=STATUSES,
        severities=SEVERITIES,
        can_edit=await allows(requires_risk_owner, request),
        today=today,
        form=form or Form(lang),
        blank_form=Form(lang),
        editing=editing,
        panel=panel,
        back=with_query("/ui/findings", kept),
        clear_partner=with_query("/ui/findings", {**kept, "partner": None}),
        form_of=lambda f: Form.of(lang, {"owner_id": f.owner_id, "due_on": f.due_on}),
    )


@get("/findings", name="ui:findings")
async def finding_board(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """The board: ``?owner=&partner=&severity=&status=&overdue=true``, most severe first."""
    return await _board(request, db)


def _back(form: Form, finding_id: UUID) -> str:
    back = form.get("back")
    target = back if back.startswith("/ui/findings") and not back.startswith("//") else "/ui/findings"
    return f"{target}#f-{finding_id}"


@post("/findings/{finding_id:uuid}/assign", guards=[requires_risk_owner], name="ui:assign", status_code=303)
async def assign(request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID) -> Response[Any]:
    """Give a finding an owner and a due date (both may be cleared); carries ``version``."""
    form = await read_form(request)
    data = form.decode(FindingUpdate, {"version": form.get("version")})
    owner = form.get("owner_id")
    due = form.get("due_on")
    if owner and _uuid(owner) is None:
        form.error("owner_id", form.t("form_choose"))
    checked = form.decode(FindingUpdate, {"version": form.get("version"), "due_on": due}) if due else data
    if data is not None and checked is not None and not form.invalid:
        update = FindingUpdate(
            version=data.version, owner_id=_uuid(owner), due_on=checked.due_on if due else None
        )
        try:
            await service.update_finding(db, actor_of(request), finding_id, update, today_utc())
        except SecondApprovalRequired:
            raise  # 202: the ui error handler shows the pending decision
        except Problem as exc:
            if exc.slug == "stale-version":
                current = await service.load(db, finding_id, today_utc())
                return conflict_page(
                    request,
                    form,
                    # The owner is posted as an id, which is no text to compare: the due
                    # dates are shown side by side, the owner goes again with "keep mine".
                    {"due_on": current.due_on.isoformat() if current.due_on else ""},
                    [("due_on", form.t("fb_due_on"))],
                    action=f"/ui/findings/{finding_id}/assign",
                    back=_back(form, finding_id),
                    version=current.version,
                )
            if exc.status_code == 404 or exc.status_code >= 500:
                raise
            _refused(form, exc)
        else:
            return see_other(_back(form, finding_id))
    return await _board(request, db, form=form, editing=finding_id, panel="assign", status_code=400)


@post("/findings/{finding_id:uuid}/accept", guards=[requires_risk_owner], name="ui:accept", status_code=303)
async def accept_risk(request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID) -> Response[Any]:
    """Accept a finding's risk until a date, with a justification."""
    form = await read_form(request)
    data = form.decode(
        AcceptanceCreate, {"until": form.get("until"), "justification": form.get("justification")}
    )
    if data is not None:
        try:
            await service.accept_risk(db, actor_of(request), finding_id, data, today_utc())
        except SecondApprovalRequired:
            raise  # 202: the ui error handler shows the pending decision
        except Problem as exc:
            if exc.status_code == 404 or exc.status_code >= 500:
                raise
            _refused(form, exc)
        else:
            return see_other(_back(form, finding_id))
    status = 409 if FORM_ERROR in form.errors else 400
    return await _board(request, db, form=form, editing=finding_id, panel="accept", status_code=status)


# The verify form's refusals by the service's message, in the page's language.
_VERIFY_MESSAGES: Final = {"say why the fix is sent back": "rm_err_reopen_note"}


async def _finding_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    finding_id: UUID,
    *,
    form: Form | None = None,
    status_code: int = 200,
) -> Response[str]:
    today = today_utc()
    finding = await service.detail(db, finding_id, today)
    owner = (
        await db.fetchval("SELECT name FROM users WHERE id = $1", finding.owner_id)
        if finding.owner_id
        else None
    )
    return page(
        request,
        "findings/detail",
        status_code=status_code,
        f=finding,
        owner_name=owner,
        can_verify=finding.status == "verifying" and await allows(requires_risk_owner, request),
        form=form or Form(page_lang(request)),
    )


@get("/findings/{finding_id:uuid}", name="ui:finding")
async def finding_page(request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID) -> Response[str]:
    """One finding: its facts, the partner's plan and fix with the proof files, its history,
    and for a risk owner, when it awaits verification, resolve or send back."""
    return await _finding_page(request, db, finding_id)


@post("/findings/{finding_id:uuid}/verify", guards=[requires_risk_owner], name="ui:verify", status_code=303)
async def verify_finding(
    request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID
) -> Response[Any]:
    """Resolve a fix awaiting verification, or send it back with a note; carries ``version``."""
    form = await read_form(request)
    data = form.decode(
        FindingVerify,
        {"version": form.get("version"), "decision": form.get("decision"), "note": form.get("note")},
    )
    if data is not None:
        try:
            await service.verify(db, actor_of(request), finding_id, data, today_utc())
        except Problem as exc:
            if exc.slug == "stale-version":
                current = await service.load(db, finding_id, today_utc())
                return conflict_page(
                    request,
                    form,
                    {"note": current.resolution_note or ""},
                    [("note", form.t("rm_note"))],
                    action=f"/ui/findings/{finding_id}/verify",
                    back=f"/ui/findings/{finding_id}",
                    version=current.version,
                )
            if exc.status_code == 404 or exc.status_code >= 500:
                raise
            extra = exc.extra if isinstance(exc.extra, dict) else {}
            for item in extra.get("errors") or []:
                key = _VERIFY_MESSAGES.get(str(item.get("message", "")), "form_invalid")
                form.error(str(item.get("field", "")) or FORM_ERROR, form.t(key))
            if not extra.get("errors"):
                form.error(FORM_ERROR, form.t("rm_err_not_verifying"))
        else:
            return see_other(f"/ui/findings/{finding_id}#history")
    return await _finding_page(request, db, finding_id, form=form, status_code=form_status(form))


@get("/findings/{finding_id:uuid}/proofs/{document_id:uuid}", name="ui:finding_proof")
async def finding_proof(
    db: DbConnection, settings: Settings, finding_id: UUID, document_id: UUID
) -> Response[bytes]:
    """A proof file of this finding, decrypted, as an attachment."""
    return await service.proof_download(db, settings, finding_id, document_id)


PAGES = [finding_board, assign, accept_risk, finding_page, verify_finding, finding_proof]
