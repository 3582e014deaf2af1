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


# Every filter is "$n IS NULL OR …" on purpose: PostgreSQL then plans each call for the
# values given. A cached generic plan, costed for an average entity type or action, walks
# the whole trail backwards for a rare one (the 2,000 webhook events among 1M: 3.6 ms
# instead of 0.4 ms at 100k partners).
_FILTERS = """
    ($1::text IS NULL OR entity_type = $1)
    AND ($2::text IS NULL OR entity_id = $2)
    AND ($3::uuid IS NULL OR actor_id = $3)
    AND ($4::text IS NULL OR action = $4)
    AND ($5::timestamptz IS NULL OR occurred_at >= $5)
    AND ($6::timestamptz IS NULL OR occurred_at < $6)
    AND ($7::bigint IS NULL OR seq < $7)
"""


async def list_events(
    conn: asyncpg.Connection, filters: ListFilters, before_seq: int | None, limit: int
) -> list[AuditEvent]:
    """Newest first; every filter is backed by an index.

    A time window is read from ``audit_events_time_seq_idx`` alone (it carries ``seq``):
    the window's events are put in ``seq`` order from the index, and only the page's rows
    are fetched. Sorting the whole rows read every event of the window: 685 for one day at
    100k partners where 68 at 10k.
    """
    if filters.since is None and filters.until is None:
        sql = f"SELECT * FROM audit_events WHERE {_FILTERS} ORDER BY seq DESC LIMIT $8"
    else:
        sql = f"""
            SELECT e.* FROM (
                SELECT seq FROM audit_events WHERE {_FILTERS} ORDER BY seq DESC LIMIT $8
            ) page JOIN audit_events e USING (seq)
            ORDER BY e.seq DESC
        """
    rows = await conn.fetch(
        sql,
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
