"""Reading the audit trail (admin, auditor)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import QueryParameter

from vendor_risk.audit.models import AuditEvent
from vendor_risk.auth.guards import requires_role
from vendor_risk.auth.models import Role
from vendor_risk.db import DbConnection
from vendor_risk.pagination import DEFAULT_LIMIT, FilterText, Page, check_limit, decode_cursor, encode_cursor


class AuditController(Controller):
    path = "/api/v1/audit-events"
    tags = ["audit"]
    guards = [requires_role(Role.ADMIN, Role.AUDITOR)]

    @get("/", operation_id="ListAuditEvents")
    async def list_events(
        self,
        db: DbConnection,
        entity_type: FilterText = None,
        entity_id: FilterText = None,
        actor_id: UUID | None = None,
        action: FilterText = None,
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """Newest first; every filter is backed by an index."""
        check_limit(limit)
        key = decode_cursor(cursor, int)
        rows = await db.fetch(
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
            entity_type,
            entity_id,
            actor_id,
            action,
            since,
            until,
            key[0] if key else None,
            limit + 1,
        )
        items = [AuditEvent(**dict(r)) for r in rows[:limit]]
        next_cursor = encode_cursor(items[-1].seq) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)
