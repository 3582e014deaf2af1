"""SQL for pending decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.approvals.models import PendingDecision

COLUMNS = """
    d.id, d.rule_id, d.decision, d.entity_type, d.entity_id, d.partner_id, p.name AS partner_name,
    d.payload, d.status, d.first_by, d.first_by_label, d.first_at, d.second_by, d.second_by_label,
    d.second_at, d.created_at, d.version
"""


def _decision(row: asyncpg.Record) -> PendingDecision:
    return msgspec.convert(dict(row), PendingDecision)


async def get(
    conn: asyncpg.Connection, decision_id: UUID, *, for_update: bool = False
) -> PendingDecision | None:
    lock = " FOR UPDATE OF d" if for_update else ""
    row = await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM pending_decisions d JOIN partners p ON p.id = d.partner_id
        WHERE d.id = $1{lock}
        """,
        decision_id,
    )
    return _decision(row) if row else None


async def open_for(conn: asyncpg.Connection, decision: str, entity_id: UUID) -> PendingDecision | None:
    """The pending decision of this kind on this entity, locked for the caller's transaction."""
    row = await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM pending_decisions d JOIN partners p ON p.id = d.partner_id
        WHERE d.decision = $1 AND d.entity_id = $2 AND d.status = 'pending'
        FOR UPDATE OF d
        """,
        decision,
        entity_id,
    )
    return _decision(row) if row else None


async def insert(conn: asyncpg.Connection, fields: dict[str, Any]) -> UUID | None:
    """A new pending decision; None when another first approval of the same decision won."""
    decision_id: UUID | None = await conn.fetchval(
        """
        INSERT INTO pending_decisions (rule_id, decision, entity_type, entity_id, partner_id, payload,
                                       first_by, first_by_label)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (decision, entity_id) WHERE status = 'pending' DO NOTHING
        RETURNING id
        """,
        fields["rule_id"],
        fields["decision"],
        fields["entity_type"],
        fields["entity_id"],
        fields["partner_id"],
        fields["payload"],
        fields["first_by"],
        fields["first_by_label"],
    )
    return decision_id


async def complete(conn: asyncpg.Connection, decision_id: UUID, second_by: UUID, label: str) -> None:
    await conn.execute(
        """
        UPDATE pending_decisions
        SET status = 'completed', second_by = $2, second_by_label = $3, second_at = now(),
            version = version + 1
        WHERE id = $1 AND status = 'pending'
        """,
        decision_id,
        second_by,
        label,
    )


async def list_decisions(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    partner_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[PendingDecision]:
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM pending_decisions d JOIN partners p ON p.id = d.partner_id
        WHERE ($1::text IS NULL OR d.status = $1)
          AND ($2::uuid IS NULL OR d.partner_id = $2)
          AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4::uuid))
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $5
        """,
        status,
        partner_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_decision(r) for r in rows]


async def other_risk_owners(conn: asyncpg.Connection, first_by: UUID) -> list[asyncpg.Record]:
    """Enabled risk owners other than the first approver: who may give the second approval."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT id, email, name, locale FROM users
        WHERE role = 'risk_owner' AND disabled_at IS NULL AND id <> $1
        ORDER BY email
        """,
        first_by,
    )
    return rows
