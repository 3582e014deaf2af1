"""The staff dashboard: what needs action today, most urgent first, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import msgspec

from vendor_risk.dashboard import repository as repo
from vendor_risk.dashboard.models import ActionBoard
from vendor_risk.settings import Settings

# The first items of each list; each count covers all of them.
ITEMS = 10


async def action_board(
    conn: asyncpg.Connection, settings: Settings, *, now: datetime | None = None
) -> ActionBoard:
    """Live incidents (those with overdue steps first, then by severity), open critical
    findings (by due date), reviews waiting (oldest first, with the days waited), scopes
    awaiting approval, agreements expired or expiring without renewal, and partners due
    for reassessment that have been assessed before and have nothing out: one query."""
    now = now or datetime.now(UTC)
    today = now.date()
    row = await repo.action_lists(conn, today, settings.agreement_expiring_days, ITEMS, now)
    board = msgspec.convert(
        {**row, "expiring_within_days": settings.agreement_expiring_days}, ActionBoard, strict=False
    )
    for finding in board.findings:
        finding.overdue = finding.due_on is not None and finding.due_on < today
    for review in board.reviews:
        review.days_waiting = (today - review.submitted_at.astimezone(UTC).date()).days
    for scope in board.scopes:
        scope.days_waiting = (today - scope.created_at.astimezone(UTC).date()).days
    for agreement in board.agreements:
        agreement.expired = agreement.expires_on < today
    return board
