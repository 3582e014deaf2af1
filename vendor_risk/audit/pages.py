"""The audit log page (admin, auditor): events filtered by entity, actor, action and time,
newest first, and a button that walks the hash chain and says whether it is unbroken."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post

from vendor_risk.audit import repository as repo
from vendor_risk.audit.service import verify
from vendor_risk.auth import repository as auth_repo
from vendor_risk.auth.guards import requires_role
from vendor_risk.auth.models import Role
from vendor_risk.db import DbConnection
from vendor_risk.i18n import has_label
from vendor_risk.pagination import decode_cursor, encode_cursor
from vendor_risk.ui.forms import Form
from vendor_risk.ui.web import page, page_lang, with_query

requires_audit_reader = requires_role(Role.ADMIN, Role.AUDITOR)
PAGE_SIZE: Final = 50
# Users offered in the actor filter; a firm has far fewer staff.
MAX_USERS: Final = 1000
LOCAL_ZONE: Final = ZoneInfo("Asia/Shanghai")
ENTITY_TYPES: Final = (
    "partner",
    "agreement",
    "scope",
    "impact_assessment",
    "sub_processor",
    "data_category",
    "assessment",
    "finding",
    "incident",
    "questionnaire_template",
    "webhook",
    "outbox",
    "user",
    "api_key",
)
# Entity types added since, labelled under the walk's catalogue keys.
_LATER_ENTITY_TYPES: Final = (
    "certificate",
    "chat_channel",
    "client",
    "notice_publication",
    "notice_recipient",
    "notice_version",
    "policy",
    "signin",
)
# Each entity type's catalogue key, in the filter's order.
ENTITY_LABELS: Final = {e: "audit_entity_" + e for e in ENTITY_TYPES} | {
    e: "wk_entity_" + e for e in _LATER_ENTITY_TYPES
}


def _local(text: str | None) -> datetime | None:
    """A ``datetime-local`` value in the firm's clock; None when blank or not a time."""
    try:
        parsed = datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_ZONE)


def action_label(t: Any, action: str) -> str | None:
    """The catalogue's label of an audit action, when it has one."""
    key = "audit_action_" + action.replace(".", "_")
    return t(key) if has_label(key) else None


async def _log_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    params: dict[str, Any],
    cursor: str | None,
    *,
    result: dict[str, Any] | None = None,
) -> Response[str]:
    lang = page_lang(request)
    actor: UUID | None = None
    try:
        actor = UUID(params["actor"]) if params.get("actor") else None
    except ValueError:
        actor = None
    filters = repo.ListFilters(
        entity_type=params.get("entity_type") if params.get("entity_type") in ENTITY_LABELS else None,
        entity_id=(params.get("entity_id") or "").strip() or None,
        actor_id=actor,
        action=(params.get("action") or "").strip() or None,
        since=_local(params.get("from")),
        until=_local(params.get("to")),
    )
    key = decode_cursor(cursor, int)
    rows = await repo.list_events(db, filters, key[0] if key else None, PAGE_SIZE + 1)
    items = rows[:PAGE_SIZE]
    more = (
        with_query("/ui/audit", {**params, "cursor": encode_cursor(items[-1].seq)})
        if len(rows) > PAGE_SIZE
        else None
    )
    users = await auth_repo.list_users(db, None, None, MAX_USERS)
    form = Form.of(lang, {k: v for k, v in params.items() if v})
    return page(
        request,
        "audit/log",
        items=items,
        more=more,
        form=form,
        entity_choices=[(e, form.t(key)) for e, key in ENTITY_LABELS.items()],
        actor_choices=[(str(u.id), u.name) for u in users],
        action_label=lambda action: action_label(form.t, action),
        entity_labels=ENTITY_LABELS,
        result=result,
    )


@get("/audit", guards=[requires_audit_reader], name="ui:audit")
async def audit_log(
    request: Request[Any, Any, Any],
    db: DbConnection,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    cursor: str | None = None,
) -> Response[str]:
    """Newest first; the filters stay in the address (``from`` and ``to`` in China time)."""
    params = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "actor": actor,
        "action": action,
        "from": request.query_params.get("from") or since,
        "to": request.query_params.get("to") or until,
    }
    return await _log_page(request, db, params, cursor)


@post("/audit/verify", guards=[requires_audit_reader], name="ui:verify-audit")
async def verify_audit(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """Walk the whole hash chain (what ``vendor-risk audit verify`` does) and show the answer."""
    checked, broken = await verify(db)
    result = {
        "checked": checked,
        "seq": broken.seq if broken else None,
        "reason": broken.reason if broken else "",
    }
    return await _log_page(request, db, {}, None, result=result)


PAGES = [audit_log, verify_audit]
