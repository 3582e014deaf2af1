"""The staff dashboard page (``/ui``): what needs action today, most urgent first."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from vendor_risk.dashboard.service import action_board
from vendor_risk.db import DbConnection
from vendor_risk.settings import Settings
from vendor_risk.ui.web import page


@get("/", name="ui:dashboard")
async def dashboard(request: Request[Any, Any, Any], db: DbConnection, settings: Settings) -> Response[str]:
    """Live incidents and their overdue steps, critical findings, reviews waiting, scopes
    awaiting approval, agreements due, reassessments due; a list with nothing in it is not
    shown. One query."""
    return page(request, "dashboard/index", board=await action_board(db, settings))


PAGES = [dashboard]
