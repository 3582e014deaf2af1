"""The partner record's own transaction helpers, shared by every service that changes a
partner or what hangs from it (scopes, agreements, sweeps): today's date, the field
error, the row lock, and the tier recomputed from the scopes.

They sit below ``partners.service`` so the scopes and agreements services can use them
without importing the partner service, which itself calls the scopes service (moving to
offboarding revokes every scope): the imports run one way, with no cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, not_found
from vendor_risk.notify.outbox import emit_event
from vendor_risk.partners import rating
from vendor_risk.partners import repository as repo
from vendor_risk.partners.rules import compute_tier, tier_rank
from vendor_risk.policy import DEFAULT_POLICY, TierPolicy
from vendor_risk.scopes import repository as scopes_repo


def today_utc() -> date:
    """Dates in rules and lists are UTC dates, like every time the API shows."""
    return datetime.now(UTC).date()


def invalid(problems: Sequence[tuple[str, str]]) -> Problem:
    """A 400 listing every bad field, shaped like the validation errors of decoding."""
    return Problem(
        400,
        "validation",
        "; ".join(f"{field}: {message}" for field, message in problems),
        title="Invalid request",
        errors=[{"field": field, "message": message} for field, message in problems],
    )


async def ensure_exists(conn: asyncpg.Connection, partner_id: UUID) -> None:
    """404 unless the partner exists (lists under a partner say so instead of ``[]``)."""
    if await repo.status_of(conn, partner_id) is None:
        raise not_found("partner", partner_id)


async def lock(conn: asyncpg.Connection, partner_id: UUID) -> str:
    """Lock the partner row for this transaction; its status, or 404."""
    status = await repo.status_of(conn, partner_id, lock=True)
    if status is None:
        raise not_found("partner", partner_id)
    return status


# --- tier --------------------------------------------------------------------------------


async def recompute_tier(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    *,
    reason: str,
    policy: TierPolicy = DEFAULT_POLICY.tiers,
) -> None:
    """Recompute the partner's tier from its scopes and criticality with the policy's
    points and thresholds, inside the caller's transaction (with the partner row locked).

    A changed tier is audited and announced (``partner.tier_changed``); a tier that rose
    marks the partner due for reassessment.
    """
    row = await conn.fetchrow(
        "SELECT business_criticality, tier, tier_points, tier_factors FROM partners WHERE id = $1",
        partner_id,
    )
    scopes = await scopes_repo.scope_facts(conn, partner_id)
    result = compute_tier(row["business_criticality"], scopes, policy)
    if result.tier == row["tier"]:
        if result.points != row["tier_points"] or msgspec.to_builtins(result.factors) != msgspec.to_builtins(
            row["tier_factors"]
        ):
            await repo.set_tier_points(conn, partner_id, result)
        return
    rose = tier_rank(result.tier) > tier_rank(row["tier"])
    await repo.set_tier(conn, partner_id, result, rose=rose, reason=f"tier rose to {result.tier}: {reason}")
    change = {
        "partner_id": partner_id,
        "from": row["tier"],
        "to": result.tier,
        "points": result.points,
        "factors": result.factors,
        "reason": reason,
    }
    await audit.record(
        conn,
        actor=actor,
        action="partner.tier_changed",
        entity_type="partner",
        entity_id=partner_id,
        before={"tier": row["tier"], "points": row["tier_points"], "factors": row["tier_factors"]},
        after={"tier": result.tier, "points": result.points, "factors": result.factors},
    )
    await emit_event(conn, "partner.tier_changed", change)
    await rating.recompute(conn, actor, [partner_id], reason=f"tier changed to {result.tier}")
