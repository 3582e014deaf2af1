"""Reading the audit trail (admin, auditor)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get

from vendor_risk.audit import repository as repo
from vendor_risk.audit.models import AuditEvent
from vendor_risk.auth.guards import requires_role
from vendor_risk.auth.models import Role
from vendor_risk.db import DbConnection
from vendor_risk.pagination import (
    DEFAULT_LIMIT,
    FilterText,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    moment_parameter,
    parse_moment,
)


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
        since: Annotated[str | None, moment_parameter("from")] = None,
        until: Annotated[str | None, moment_parameter("to")] = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """Newest first; every filter is backed by an index."""
        check_limit(limit)
        key = decode_cursor(cursor, int)
        filters = repo.ListFilters(
            entity_type=entity_type,
            entity_id=entity_id,
            actor_id=actor_id,
            action=action,
            since=parse_moment("from", since),
            until=parse_moment("to", until),
        )
        rows = await repo.list_events(db, filters, key[0] if key else None, limit + 1)
        items = rows[:limit]
        next_cursor = encode_cursor(items[-1].seq) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)
