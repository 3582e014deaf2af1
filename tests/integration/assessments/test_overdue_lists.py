"""The overdue lists read from two indexes (migration 0220): the items the daily sweep
noted past due, and the others. Whichever holds an item, and however late the notes are,
the list shows exactly the open items due before the caller's today, newest first, and
pages through them by cursor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from tests.integration.assessments.conftest import NewPartner, Send
from vendor_risk import sweeps
from vendor_risk.assessments import repository as assessments
from vendor_risk.findings import repository as findings

# The caller's today; each test reads only its own rows (by partner or by id), changes
# them in a transaction it rolls back, and dates them around this day.
TODAY = datetime.now(UTC).date()
NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)


async def _finding(
    db: asyncpg.Connection, partner_id: str, days_old: int, due_in: int, *, status: str = "open"
) -> UUID:
    return await findings.insert_finding(
        db,
        {
            "partner_id": UUID(partner_id),
            "source": "manual",
            "severity": "high",
            "title": {"zh-CN": "未加密", "en": "Not encrypted"},
            "status": status,
            "due_on": TODAY + timedelta(days=due_in),
            "created_at": NOON - timedelta(days=days_old),
        },
    )


async def _note(db: asyncpg.Connection, table: str, *ids: UUID) -> None:
    """As the sweep of a later day would have noted them (table from a fixed pair)."""
    assert table in {"findings", "assessments"}
    await db.execute(f"UPDATE {table} SET due_passed = true WHERE id = ANY($1::uuid[])", list(ids))


async def _pages(list_page: Any, key: Any) -> list[UUID]:
    """Every row of a list, one a page, by its cursor."""
    ids: list[UUID] = []
    after = None
    while rows := await list_page(after):
        ids.append(rows[0].id)
        after = key(rows[0])
    return ids


async def test_overdue_findings_whichever_index_holds_them(
    new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    tx = db.transaction()
    await tx.start()
    try:
        noted = await _finding(db, partner["id"], days_old=30, due_in=-10)
        fallen_due = await _finding(db, partner["id"], days_old=20, due_in=-2)
        noted_early = await _finding(db, partner["id"], days_old=5, due_in=0)
        not_due = await _finding(db, partner["id"], days_old=1, due_in=30)
        resolved = await _finding(db, partner["id"], days_old=25, due_in=-5, status="resolved")
        postponed = await _finding(db, partner["id"], days_old=15, due_in=-6)
        brought_forward = await _finding(db, partner["id"], days_old=3, due_in=10)
        # Noted by sweeps: one due today for this caller (a sweep of a later day), one
        # whose due date then moves on, which clears its note.
        await _note(db, "findings", noted, noted_early, postponed)
        await db.execute(
            "UPDATE findings SET due_on = $2 WHERE id = $1", postponed, TODAY + timedelta(days=9)
        )
        await db.execute(
            "UPDATE findings SET due_on = $2 WHERE id = $1", brought_forward, TODAY - timedelta(days=1)
        )
        notes = dict(
            await db.fetch("SELECT id, due_passed FROM findings WHERE partner_id = $1", UUID(partner["id"]))
        )
        assert (notes[postponed], notes[brought_forward], notes[noted]) == (False, False, True)

        def overdue(value: bool | None) -> findings.ListFilters:
            return findings.ListFilters(partner_id=UUID(partner["id"]), overdue=value)

        expected = [brought_forward, fallen_due, noted]
        rows = await findings.list_findings(db, overdue(True), TODAY, None, 50)
        assert [r.id for r in rows] == expected
        assert all(r.overdue for r in rows)
        paged = await _pages(
            lambda after: findings.list_findings(db, overdue(True), TODAY, after, 1),
            lambda row: (row.created_at, row.id),
        )
        assert paged == expected
        # The board's order (most severe first; all of these are high) reads the same way.
        board = await findings.list_findings(db, overdue(True), TODAY, None, 50, severity_first=True)
        assert [r.id for r in board] == expected
        rest = await findings.list_findings(db, overdue(False), TODAY, None, 50)
        assert {r.id for r in rest} == {noted_early, not_due, resolved, postponed}
        # With the other filters too, and for a caller whose today is earlier.
        critical = findings.ListFilters(partner_id=UUID(partner["id"]), overdue=True, severity="critical")
        assert await findings.list_findings(db, critical, TODAY, None, 50) == []
        earlier = await findings.list_findings(db, overdue(True), TODAY - timedelta(days=5), None, 50)
        assert [r.id for r in earlier] == [noted]

        # The sweep notes what fell due; the list does not change.
        assert await sweeps.note_due_passed(db, TODAY) >= 2
        notes = dict(
            await db.fetch("SELECT id, due_passed FROM findings WHERE partner_id = $1", UUID(partner["id"]))
        )
        assert (notes[fallen_due], notes[brought_forward], notes[not_due]) == (True, True, False)
        assert [r.id for r in await findings.list_findings(db, overdue(True), TODAY, None, 50)] == expected
    finally:
        await tx.rollback()


async def test_overdue_assessments_whichever_index_holds_them(
    new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = [(await send((await new_partner())["id"]))["assessment"]["id"] for _ in range(4)]
    noted, fallen_due, noted_early, postponed = (UUID(i) for i in sent)
    tx = db.transaction()
    await tx.start()
    try:
        for days_old, due_in, assessment in (
            (40, -10, noted),
            (30, -2, fallen_due),
            (20, 0, noted_early),
            (10, -6, postponed),
        ):
            await db.execute(
                "UPDATE assessments SET sent_at = $2, due_on = $3 WHERE id = $1",
                assessment,
                NOON - timedelta(days=days_old),
                TODAY + timedelta(days=due_in),
            )
        await _note(db, "assessments", noted, noted_early, postponed)
        await db.execute(
            "UPDATE assessments SET due_on = $2 WHERE id = $1", postponed, TODAY + timedelta(days=9)
        )
        mine = {noted, fallen_due, noted_early, postponed}

        async def listed(filters: assessments.ListFilters, today: date = TODAY) -> list[UUID]:
            rows = await assessments.list_assessments(db, filters, today, None, 200)
            assert all(r.overdue for r in rows) or filters.overdue is not True
            return [r.id for r in rows if r.id in mine]

        assert await listed(assessments.ListFilters(overdue=True)) == [fallen_due, noted]
        assert set(await listed(assessments.ListFilters(overdue=False))) == {noted_early, postponed}
        assert await listed(assessments.ListFilters(overdue=True), TODAY - timedelta(days=5)) == [noted]
        assert await listed(assessments.ListFilters(overdue=True, kind="triggered")) == []
        await sweeps.note_due_passed(db, TODAY)
        assert await listed(assessments.ListFilters(overdue=True)) == [fallen_due, noted]
    finally:
        await tx.rollback()
