"""The staff side of self-service on the partner page: the partner's live sessions, and
ending one or all of them (procurement, risk owners and admins; every staff role reads)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request, Response, post

from vendor_risk.auth.guards import requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.selfservice import service
from vendor_risk.ui.web import allows, see_other

requires_session_keeper = requires_role(Role.PROCUREMENT, Role.RISK_OWNER, Role.ADMIN)


async def selfservice_panel(
    request: Request[Any, Any, Any], db: asyncpg.Connection, partner_id: UUID
) -> dict[str, Any]:
    """The partner page's self-service panel: live sessions (one query) and who may end them."""
    return {
        "sessions": await service.list_sessions(db, partner_id),
        "can_revoke": await allows(requires_session_keeper, request),
    }


@post(
    "/partners/{partner_id:uuid}/selfservice/sessions/{session_id:uuid}/revoke",
    guards=[requires_session_keeper],
    name="ui:ss-revoke-session",
    status_code=303,
)
async def revoke_session(
    request: Request[Any, Any, Any], db: DbConnection, partner_id: UUID, session_id: UUID
) -> Response[Any]:
    await service.revoke_sessions(db, actor_of(request), partner_id, session_id)
    return see_other(f"/ui/partners/{partner_id}#selfservice")


@post(
    "/partners/{partner_id:uuid}/selfservice/sessions/revoke",
    guards=[requires_session_keeper],
    name="ui:ss-revoke-sessions",
    status_code=303,
)
async def revoke_all_sessions(
    request: Request[Any, Any, Any], db: DbConnection, partner_id: UUID
) -> Response[Any]:
    await service.revoke_sessions(db, actor_of(request), partner_id)
    return see_other(f"/ui/partners/{partner_id}#selfservice")


STAFF_PAGES = [revoke_session, revoke_all_sessions]
