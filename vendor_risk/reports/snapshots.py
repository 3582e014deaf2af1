"""Daily portfolio snapshots for the 12-month trends, and the heat map's counts.

``take_snapshot`` computes the portfolio as it stood at the end of a UTC day from what the
tables record (creation, submission, review, resolution and acceptance times), so the same
statement writes today's row and back-fills the month ends of the past year. Today's row is
refreshed on every run; a past day's row, once written, is never changed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import asyncpg
import msgspec

HISTORY_MONTHS: Final = 12
SEVERITIES: Final = ("critical", "high", "medium", "low")
RATINGS: Final = ("critical", "high", "medium", "low", "unrated")
LEVELS: Final = ("low", "medium", "high", "critical")

# $1 the day, $2 the end of the day (timestamptz), $3 whether to count current ratings.
_SNAPSHOT_SQL = """
WITH live AS (
    SELECT p.id, p.residual_rating FROM partners p
    WHERE p.created_at < $2 AND p.status <> 'offboarded'
), unaccepted AS (
    SELECT f.severity, f.due_on FROM findings f
    WHERE f.created_at < $2
      AND (f.resolved_at IS NULL OR f.resolved_at >= $2)
      AND (f.status <> 'resolved' OR f.resolved_at >= $2)
      AND NOT EXISTS (
          SELECT 1 FROM risk_acceptances r
          WHERE r.finding_id = f.id AND r.accepted_at < $2 AND r.until >= $1::date
            AND (r.stale_at IS NULL OR r.stale_at >= $2))
)
SELECT
    (SELECT count(*)::int FROM live) AS partners,
    CASE WHEN $3 THEN (SELECT jsonb_object_agg(coalesce(residual_rating, 'unrated'), n) FROM (
        SELECT residual_rating, count(*) AS n FROM live GROUP BY residual_rating) r) END AS ratings,
    (SELECT round(avg(score)::numeric, 1)::float8 FROM (
        SELECT DISTINCT ON (a.partner_id) a.score FROM assessments a
        WHERE a.status = 'approved' AND a.kind <> 'offboarding' AND a.reviewed_at < $2
          AND a.partner_id IN (SELECT id FROM live)
        ORDER BY a.partner_id, a.reviewed_at DESC) s) AS average_score,
    coalesce((SELECT jsonb_object_agg(severity, n) FROM (
        SELECT severity, count(*) AS n FROM unaccepted GROUP BY severity) x), '{}') AS open_findings,
    (SELECT count(*)::int FROM unaccepted WHERE due_on < $1::date) AS overdue_findings,
    (SELECT count(*)::int FROM assessments a
     WHERE a.sent_at < $2 AND a.due_on < $1::date
       AND (a.submitted_at IS NULL OR a.submitted_at >= $2)
       AND a.status NOT IN ('cancelled', 'expired')) AS overdue_assessments,
    (SELECT count(*)::int FROM assessments a
     WHERE a.sent_at >= $2 - interval '30 days' AND a.sent_at < $2) AS assessments_sent,
    (SELECT count(*)::int FROM assessments a
     WHERE a.submitted_at >= $2 - interval '30 days' AND a.submitted_at < $2) AS assessments_submitted,
    (SELECT count(*)::int FROM assessments a
     WHERE a.status = 'approved' AND a.reviewed_at >= $2 - interval '30 days'
       AND a.reviewed_at < $2) AS assessments_approved
"""


class Snapshot(msgspec.Struct, kw_only=True):
    day: date
    partners: int
    ratings: dict[str, int] | None
    average_score: float | None
    open_findings: dict[str, int]
    overdue_findings: int
    overdue_assessments: int
    assessments_sent: int
    assessments_submitted: int
    assessments_approved: int
    backfilled: bool


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def month_ends(today: date, months: int = HISTORY_MONTHS) -> list[date]:
    """The last day of each of the ``months`` months before today's month, oldest first."""
    ends = []
    first = today.replace(day=1)
    for _ in range(months):
        last = first - timedelta(days=1)
        ends.append(last)
        first = last.replace(day=1)
    return ends[::-1]


async def compute(conn: asyncpg.Connection, day: date, *, current: bool) -> Snapshot:
    row = await conn.fetchrow(_SNAPSHOT_SQL, day, _end_of(day), current)
    values: dict[str, Any] = dict(row)
    return Snapshot(day=day, backfilled=not current, **values)


async def _store(conn: asyncpg.Connection, snapshot: Snapshot, *, replace: bool) -> bool:
    conflict = (
        """DO UPDATE SET partners = excluded.partners, ratings = excluded.ratings,
            average_score = excluded.average_score, open_findings = excluded.open_findings,
            overdue_findings = excluded.overdue_findings,
            overdue_assessments = excluded.overdue_assessments,
            assessments_sent = excluded.assessments_sent,
            assessments_submitted = excluded.assessments_submitted,
            assessments_approved = excluded.assessments_approved,
            backfilled = excluded.backfilled, taken_at = now()"""
        if replace
        else "DO NOTHING"
    )
    done = await conn.fetchval(
        f"""
        INSERT INTO portfolio_snapshots (day, partners, ratings, average_score, open_findings,
            overdue_findings, overdue_assessments, assessments_sent, assessments_submitted,
            assessments_approved, backfilled)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (day) {conflict}
        RETURNING true
        """,
        snapshot.day,
        snapshot.partners,
        snapshot.ratings,
        snapshot.average_score,
        snapshot.open_findings,
        snapshot.overdue_findings,
        snapshot.overdue_assessments,
        snapshot.assessments_sent,
        snapshot.assessments_submitted,
        snapshot.assessments_approved,
        snapshot.backfilled,
    )
    return bool(done)


async def take_snapshots(conn: asyncpg.Connection, today: date) -> int:
    """The worker's sweep: today's snapshot (refreshed if it exists) and the month ends of
    the past year that have none (back-filled from history), and the heat map's recount.
    Idempotent; returns how many snapshot rows it wrote."""
    await recount_heat(conn)
    have = {
        r["day"]
        for r in await conn.fetch(
            "SELECT day FROM portfolio_snapshots WHERE day >= $1", today - timedelta(days=400)
        )
    }
    written = 0
    for day in month_ends(today):
        if day not in have:
            written += await _store(conn, await compute(conn, day, current=False), replace=False)
    written += await _store(conn, await compute(conn, today, current=True), replace=True)
    return written


async def trend(conn: asyncpg.Connection, today: date, months: int = HISTORY_MONTHS) -> list[Snapshot]:
    """One point per month for the last ``months`` months: the month's latest snapshot,
    today's for the running month. Reads at most a year of rows by the primary key."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (date_trunc('month', day)) day, partners, ratings, average_score,
               open_findings, overdue_findings, overdue_assessments, assessments_sent,
               assessments_submitted, assessments_approved, backfilled
        FROM portfolio_snapshots
        WHERE day > $1 AND day <= $2
        ORDER BY date_trunc('month', day), day DESC
        """,
        month_ends(today, months)[0] - timedelta(days=1),
        today,
    )
    return [Snapshot(**dict(r)) for r in rows]


class HeatMap(msgspec.Struct, kw_only=True):
    """Live partners counted by tier × residual rating (``unrated`` without one)."""

    cells: dict[str, dict[str, int]]
    total: int


async def heat_map(conn: asyncpg.Connection) -> HeatMap:
    """The counts that partner writes append to ``partner_heat_counts`` (migration 0160),
    summed: a few dozen rows, however many partners there are."""
    rows = await conn.fetch(
        """
        SELECT tier, rating, sum(n)::int AS n FROM partner_heat_counts
        GROUP BY tier, rating HAVING sum(n) <> 0
        """
    )
    cells = {tier: dict.fromkeys(RATINGS, 0) for tier in LEVELS}
    for r in rows:
        cells[r["tier"]][r["rating"]] = r["n"]
    return HeatMap(cells=cells, total=sum(r["n"] for r in rows))


async def recount_heat(conn: asyncpg.Connection) -> None:
    """Replace the heat map's appended counts by a recount of the partners, in one
    statement: a write committed after its snapshot is neither counted nor deleted, so
    its appended row stays and nothing is counted twice. Recounts run one at a time."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vendor_risk:partner-heat'))")
        await conn.execute(
            """
            WITH gone AS (DELETE FROM partner_heat_counts)
            INSERT INTO partner_heat_counts (tier, rating, n)
            SELECT tier, coalesce(residual_rating, 'unrated'), count(*)
            FROM partners WHERE status <> 'offboarded' GROUP BY 1, 2
            """
        )
