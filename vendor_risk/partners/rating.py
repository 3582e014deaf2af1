"""The partner's stored residual rating: ``assessments.rules.rate`` over the partner's tier,
the score of its latest approved assessment and its open findings, kept in
``partners.residual_rating`` so lists sort and filter by risk.

The services call ``recompute`` in the transaction of every change to an input (an
assessment approved, a finding opened, resolved, accepted or reopened, a tier changed);
``repair`` is the worker's sweep over every partner, for what time changes (an acceptance
past its date stops counting before the sweep reopens its finding) or a bug missed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Literal
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.assessments.models import Rating
from vendor_risk.assessments.rules import rate
from vendor_risk.audit.models import Actor
from vendor_risk.policy import DEFAULT_POLICY, RatingPolicy

# $1 is today (UTC). One row per partner: its tier, stored rating, the latest approved
# security assessment (NULL columns without one) and its unaccepted findings by severity,
# counted as findings.repository.open_counts counts them.
_INPUTS_SQL = """
SELECT p.id, p.tier, p.residual_rating, ap.id AS assessment_id, ap.score,
       coalesce((
           SELECT jsonb_object_agg(c.severity, c.n) FROM (
               SELECT f.severity, count(*) AS n FROM findings f
               WHERE f.partner_id = p.id
                 AND (f.status IN ('open', 'remediating', 'verifying')
                      OR (f.status = 'accepted' AND NOT EXISTS (
                          SELECT 1 FROM risk_acceptances r
                          WHERE r.finding_id = f.id AND r.stale_at IS NULL AND r.until >= $1::date)))
               GROUP BY f.severity) c), '{}') AS open_findings
FROM partners p
LEFT JOIN LATERAL (
    SELECT a.id, a.score FROM assessments a
    WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind <> 'offboarding'
    ORDER BY a.reviewed_at DESC LIMIT 1
) ap ON true
"""

REPAIR_BATCH: Final = 2000
RATING_ORDER: Final = ("low", "medium", "high", "critical")
# The list's ``rating`` filter: a level, or ``unrated`` (no approved assessment yet).
RatingFilter = Literal["low", "medium", "high", "critical", "unrated"]


def rating_rank(level: str | None) -> int:
    """The SQL function ``rating_rank``: 0 unrated, 1 low … 4 critical."""
    return RATING_ORDER.index(level) + 1 if level in RATING_ORDER else 0


class RatingChange(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: UUID
    before: str | None
    after: str | None
    rating: Rating | None


def _rating_of(row: asyncpg.Record, policy: RatingPolicy = DEFAULT_POLICY.rating) -> Rating | None:
    if row["assessment_id"] is None:
        return None
    counts = {k: int(v) for k, v in (row["open_findings"] or {}).items()}
    return rate(row["tier"], row["score"], counts, policy)


def _changes(
    rows: Sequence[asyncpg.Record], policy: RatingPolicy = DEFAULT_POLICY.rating
) -> list[RatingChange]:
    changes = []
    for row in rows:
        rating = _rating_of(row, policy)
        level = rating.level if rating else None
        if level != row["residual_rating"]:
            changes.append(
                RatingChange(partner_id=row["id"], before=row["residual_rating"], after=level, rating=rating)
            )
    return changes


async def _store(conn: asyncpg.Connection, changes: Sequence[RatingChange], now: datetime) -> None:
    if not changes:
        return
    await conn.execute(
        """
        UPDATE partners p SET residual_rating = u.rating, residual_rated_at = $3
        FROM unnest($1::uuid[], $2::text[]) AS u(id, rating)
        WHERE p.id = u.id
        """,
        [c.partner_id for c in changes],
        [c.after for c in changes],
        now,
    )
    await conn.executemany(
        """
        INSERT INTO partner_ratings (partner_id, rated_at, rating, tier, score, open_findings)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        [
            (
                c.partner_id,
                now,
                c.after,
                c.rating.tier if c.rating else "low",
                c.rating.score if c.rating else None,
                c.rating.open_findings if c.rating else {},
            )
            for c in changes
        ],
    )


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()


async def recompute(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_ids: Collection[UUID],
    *,
    reason: str,
    now: datetime | None = None,
    today: date | None = None,
    policy: RatingPolicy = DEFAULT_POLICY.rating,
) -> list[RatingChange]:
    """Recompute the residual rating of these partners inside the caller's transaction.

    The partner rows are locked first (in id order, so two recomputes cannot deadlock) and
    the inputs read afterwards, so a concurrent change that committed meanwhile is seen.
    Each changed rating is stored, kept in the partner's rating history and audited
    (``partner.rating_changed``) with the steps that led to it. ``today`` (default: the
    UTC date of ``now``) decides which risk acceptances are still live.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("rating.recompute must run inside the change's transaction")
    ids = sorted(set(partner_ids))
    if not ids:
        return []
    now = now or datetime.now(UTC)
    await conn.execute("SELECT 1 FROM partners WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", ids)
    rows = await conn.fetch(f"{_INPUTS_SQL} WHERE p.id = ANY($2::uuid[])", today or _today(now), ids)
    changes = _changes(rows, policy)
    await _store(conn, changes, now)
    for change in changes:
        await audit.record(
            conn,
            actor=actor,
            action="partner.rating_changed",
            entity_type="partner",
            entity_id=change.partner_id,
            before={"residual_rating": change.before},
            after={"residual_rating": change.after, "reason": reason, "rating": change.rating},
        )
    return changes


async def repair(
    conn: asyncpg.Connection,
    actor: Actor,
    *,
    now: datetime | None = None,
    policy: RatingPolicy = DEFAULT_POLICY.rating,
) -> int:
    """The worker's sweep: recompute every partner's rating in batches (each its own
    transaction), store those that differ and audit each batch's changes as one event.
    Idempotent: a second run finds nothing to change. Returns how many changed."""
    now = now or datetime.now(UTC)
    today = _today(now)
    after: UUID | None = None
    changed = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                f"{_INPUTS_SQL} WHERE ($2::uuid IS NULL OR p.id > $2) ORDER BY p.id LIMIT $3",
                today,
                after,
                REPAIR_BATCH,
            )
            if not rows:
                return changed
            after = rows[-1]["id"]
            changes = _changes(rows, policy)
            if changes:
                # Lock only the partners that change, then re-read them, so a concurrent
                # recompute is not overwritten with an older view.
                await conn.execute(
                    "SELECT 1 FROM partners WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
                    [c.partner_id for c in changes],
                )
                fresh = await conn.fetch(
                    f"{_INPUTS_SQL} WHERE p.id = ANY($2::uuid[])", today, [c.partner_id for c in changes]
                )
                changes = _changes(fresh, policy)
                await _store(conn, changes, now)
            if changes:
                summary: list[dict[str, Any]] = [
                    {"partner_id": c.partner_id, "from": c.before, "to": c.after} for c in changes
                ]
                await audit.record(
                    conn,
                    actor=actor,
                    action="partners.ratings_repaired",
                    entity_type="partner",
                    entity_id="*",
                    after={"changes": summary},
                )
                changed += len(changes)
