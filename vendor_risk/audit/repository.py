"""SQL for reading the audit trail (the API's list and the audit log page)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.audit.models import AuditEvent


class ListFilters(msgspec.Struct, kw_only=True):
    entity_type: str | None = None
    entity_id: str | None = None
    actor_id: UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    conn: asyncpg.Connection, filters: ListFilters, before_seq: int | None, limit: int
) -> list[AuditEvent]:
    """Newest first; every filter is backed by an index."""
    rows = await conn.fetch(
        """
        SELECT * FROM audit_events
        WHERE ($1::text IS NULL OR entity_type = $1)
          AND ($2::text IS NULL OR entity_id = $2)
          AND ($3::uuid IS NULL OR actor_id = $3)
          AND ($4::text IS NULL OR action = $4)
          AND ($5::timestamptz IS NULL OR occurred_at >= $5)
          AND ($6::timestamptz IS NULL OR occurred_at < $6)
          AND ($7::bigint IS NULL OR seq < $7)
        ORDER BY seq DESC
        LIMIT $8
        """,
        filters.entity_type,
        filters.entity_id,
        filters.actor_id,
        filters.action,
        filters.since,
        filters.until,
        before_seq,
        limit,
    )
    return [AuditEvent(**dict(r)) for r in rows]
