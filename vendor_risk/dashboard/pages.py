"""The staff dashboard page (``/ui``): what needs action today, most urgent first."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from vendor_risk.audit.checkpoints import latest_verify_failure
from vendor_risk.auth.guards import current_user
from vendor_risk.auth.models import Role
from vendor_risk.dashboard.service import action_board
from vendor_risk.db import DbConnection
from vendor_risk.settings import Settings
from vendor_risk.ui.web import page


@get("/", name="ui:dashboard")
async def dashboard(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[str]:
    """Live incidents and their overdue steps, critical findings, reviews waiting, scopes
    awaiting approval, agreements due, reassessments due; a list with nothing in it is not
    shown. One query; for admins and risk owners a second one: whether the latest nightly
    audit-chain verify failed, shown above everything else."""
    role = current_user(request).role
    failure = await latest_verify_failure(db) if role in (Role.ADMIN, Role.RISK_OWNER) else None
    return page(
        request,
        "dashboard/index",
        board=await action_board(db, settings),
        verify_failure=failure,
        can_read_audit=role in (Role.ADMIN, Role.AUDITOR),
    )


PAGES = [dashboard]
