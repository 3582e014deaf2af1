"""SQL for findings and risk acceptances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.findings.models import Finding, FindingDetail, RiskAcceptance
from vendor_risk.pagination import Params, page_first, sql_limit

# `$1` is today (UTC) wherever these appear.
ACCEPTANCE_COLUMNS = """
    r.id, r.finding_id, r.until, r.justification, r.accepted_by, r.accepted_by_label,
    r.accepted_at, r.stale_at, r.stale_reason, (r.until < $1::date) AS expired
"""
# A live acceptance: not stale and not past its date.
LIVE_ACCEPTANCE_SQL = "(r.stale_at IS NULL AND r.until >= $1::date)"
# Open or remediating past its due date (NULL without a due date); the list reads it from
# findings_due_passed_idx and findings_due_pending_idx (migration 0220).
DUE_STATUSES_SQL = "'open', 'remediating'"
OVERDUE_SQL = f"(f.status IN ({DUE_STATUSES_SQL}) AND f.due_on < $1::date)"

FINDING_COLUMNS = f"""
    f.id, f.partner_id, p.name AS partner_name, f.assessment_id, f.source,
    f.template_key AS questionnaire, f.question_id, f.section_id, f.severity, f.title,
    f.description, f.remediation, f.refs AS "references", f.answer, f.status, f.owner_id,
    f.due_on, coalesce({OVERDUE_SQL}, false) AS overdue,
    f.remediation_plan, f.partner_plan, f.partner_planned_on, f.partner_responded_at,
    f.partner_fix_note, f.partner_fixed_at, f.resolution_note, f.resolved_at,
    (SELECT to_jsonb(x) FROM (
        SELECT {ACCEPTANCE_COLUMNS} FROM risk_acceptances r
        WHERE r.finding_id = f.id AND {LIVE_ACCEPTANCE_SQL}
        ORDER BY r.accepted_at DESC LIMIT 1) x) AS acceptance,
    f.created_at, f.updated_at, f.version
"""


def to_finding(row: asyncpg.Record) -> Finding:
    return msgspec.convert(dict(row), Finding)


async def get_finding(
    conn: asyncpg.Connection, finding_id: UUID, today: date, *, for_update: bool = False
) -> Finding | None:
    if for_update:
        await conn.execute("SELECT 1 FROM findings WHERE id = $1 FOR UPDATE", finding_id)
    row = await conn.fetchrow(
        f"SELECT {FINDING_COLUMNS} FROM findings f JOIN partners p ON p.id = f.partner_id WHERE f.id = $2",
        today,
        finding_id,
    )
    return to_finding(row) if row else None


async def get_detail(conn: asyncpg.Connection, finding_id: UUID, today: date) -> FindingDetail | None:
    row = await conn.fetchrow(
        f"""
        SELECT {FINDING_COLUMNS},
               coalesce((SELECT jsonb_agg(to_jsonb(x) ORDER BY x.accepted_at DESC) FROM (
                   SELECT {ACCEPTANCE_COLUMNS} FROM risk_acceptances r WHERE r.finding_id = f.id) x),
                   '[]') AS acceptances,
               coalesce((SELECT jsonb_agg(to_jsonb(e) - 'id' ORDER BY e.at, e.id) FROM (
                   SELECT e.id, e.at, e.actor_label, e.side, e.kind, e.status, e.note
                   FROM finding_events e WHERE e.finding_id = f.id) e), '[]') AS history,
               coalesce((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.uploaded_at, d.id) FROM (
                   SELECT d.id, d.filename, d.content_type, d.size_bytes, d.sha256,
                          d.uploaded_by_label AS uploaded_by, d.created_at AS uploaded_at
                   FROM finding_proofs fp JOIN documents d ON d.id = fp.document_id
                   WHERE fp.finding_id = f.id) d), '[]') AS proofs
        FROM findings f JOIN partners p ON p.id = f.partner_id WHERE f.id = $2
        """,
        today,
        finding_id,
    )
    return msgspec.convert(dict(row), FindingDetail) if row else None


class ListFilters(msgspec.Struct, kw_only=True):
    partner_id: UUID | None = None
    assessment_id: UUID | None = None
    status: str | None = None
    severity: str | None = None
    owner_id: UUID | None = None
    overdue: bool | None = None


# The board's order: most severe first, then newest (findings_board_*_idx).
SEVERITY_WEIGHT_SQL = "finding_severity_weight(f.severity)"


async def list_findings(
    conn: asyncpg.Connection,
    filters: ListFilters,
    today: date,
    after: Sequence[Any] | None,
    limit: int,
    *,
    severity_first: bool = False,
) -> list[Finding]:
    """Newest first by (created_at, id), or with ``severity_first`` most severe first by
    (severity weight, created_at, id), ``after`` then being such a triple. ``assessment_id``
    matches the assessment that raised a finding or raised it again.

    The WHERE clause is assembled from fixed fragments (never from input) so each filter
    reaches the planner as a plain predicate its index can serve.
    """
    param = Params(today)
    where: list[str] = []

    if filters.partner_id is not None:
        where.append(f"f.partner_id = {param(filters.partner_id)}")
    if filters.assessment_id is not None:
        assessment = param(filters.assessment_id)
        where.append(f"(f.assessment_id = {assessment} OR f.last_assessment_id = {assessment})")
    if filters.status is not None:
        where.append(f"f.status = {param(filters.status)}")
    if filters.severity is not None:
        where.append(f"f.severity = {param(filters.severity)}")
    if filters.owner_id is not None:
        where.append(f"f.owner_id = {param(filters.owner_id)}")
    if filters.overdue is False:
        where.append(f"NOT coalesce({OVERDUE_SQL}, false)")
    order = "f.created_at DESC, f.id DESC"
    if severity_first:
        order = f"{SEVERITY_WEIGHT_SQL} DESC, {order}"
        if after is not None:
            where.append(
                f"({SEVERITY_WEIGHT_SQL}, f.created_at, f.id)"
                f" < ({param(after[0])}::int, {param(after[1])}, {param(after[2])}::uuid)"
            )
    elif after is not None:
        where.append(f"(f.created_at, f.id) < ({param(after[0])}, {param(after[1])}::uuid)")
    conditions, count = " AND ".join(where) or "true", sql_limit(limit)
    # The overdue ones (OVERDUE_SQL) from the two indexes of migration 0220.
    overdue_of = DUE_STATUSES_SQL if filters.overdue else None
    page = page_first("findings f", conditions, order, count, overdue_of=overdue_of)
    rows = await conn.fetch(
        f"""
        SELECT {FINDING_COLUMNS}
        FROM ({page}) f JOIN partners p ON p.id = f.partner_id
        ORDER BY {order}
        """,
        *param.values,
    )
    return [to_finding(r) for r in rows]


async def insert_finding(conn: asyncpg.Connection, fields: Mapping[str, Any]) -> UUID:
    columns = list(fields)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    finding_id: UUID = await conn.fetchval(
        f"INSERT INTO findings ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *fields.values(),
    )
    return finding_id


async def update_finding(conn: asyncpg.Connection, finding_id: UUID, changes: Mapping[str, Any]) -> None:
    # Column names come from a fixed allow-list in the service, never from the request.
    assignments = "".join(f", {column} = ${i}" for i, column in enumerate(changes, start=2))
    await conn.execute(
        f"UPDATE findings SET updated_at = now(), version = version + 1{assignments} WHERE id = $1",
        finding_id,
        *changes.values(),
    )


class LiveRuleFinding(msgspec.Struct, kw_only=True):
    id: UUID
    questionnaire: str
    question_id: str
    answer: Any
    status: str
    accepted: bool


async def live_rule_findings(
    conn: asyncpg.Connection, partner_id: UUID, today: date
) -> list[LiveRuleFinding]:
    """The partner's live rule findings (open, remediating, verifying or accepted), locked
    for this transaction."""
    rows = await conn.fetch(
        f"""
        SELECT f.id, f.template_key AS questionnaire, f.question_id, f.answer, f.status,
               EXISTS (SELECT 1 FROM risk_acceptances r
                       WHERE r.finding_id = f.id AND {LIVE_ACCEPTANCE_SQL}) AS accepted
        FROM findings f
        WHERE f.partner_id = $2 AND f.source = 'rule'
          AND f.status IN ('open', 'remediating', 'verifying', 'accepted')
        ORDER BY f.created_at
        FOR UPDATE OF f
        """,
        today,
        partner_id,
    )
    return [msgspec.convert(dict(r), LiveRuleFinding) for r in rows]


async def insert_acceptance(
    conn: asyncpg.Connection,
    finding_id: UUID,
    until: date,
    justification: str,
    accepted_by: UUID | None,
    accepted_by_label: str,
    today: date,
) -> RiskAcceptance:
    row = await conn.fetchrow(
        f"""
        WITH r AS (
            INSERT INTO risk_acceptances (finding_id, until, justification, accepted_by, accepted_by_label)
            VALUES ($2, $3, $4, $5, $6) RETURNING *
        )
        SELECT {ACCEPTANCE_COLUMNS} FROM r
        """,
        today,
        finding_id,
        until,
        justification,
        accepted_by,
        accepted_by_label,
    )
    return msgspec.convert(dict(row), RiskAcceptance)


async def stale_acceptances(conn: asyncpg.Connection, finding_ids: Sequence[UUID], reason: str) -> list[UUID]:
    """Mark every live acceptance of these findings stale; the ids of the findings touched."""
    rows = await conn.fetch(
        """
        UPDATE risk_acceptances SET stale_at = now(), stale_reason = $2
        WHERE finding_id = ANY($1::uuid[]) AND stale_at IS NULL
        RETURNING finding_id
        """,
        list(finding_ids),
        reason,
    )
    return [r["finding_id"] for r in rows]


async def lapse_expired(conn: asyncpg.Connection, today: date) -> list[UUID]:
    """Mark acceptances past their date stale and reopen their findings; the findings' ids."""
    rows = await conn.fetch(
        """
        WITH lapsed AS (
            UPDATE risk_acceptances SET stale_at = now(), stale_reason = 'expired'
            WHERE stale_at IS NULL AND until < $1
            RETURNING finding_id
        )
        UPDATE findings f SET status = 'open', updated_at = now(), version = version + 1
        FROM (SELECT DISTINCT finding_id FROM lapsed) l
        WHERE f.id = l.finding_id AND f.status = 'accepted'
        RETURNING f.id
        """,
        today,
    )
    return [r["id"] for r in rows]


class PortalFinding(msgspec.Struct, kw_only=True):
    id: UUID
    questionnaire: str | None
    question_id: str | None
    severity: str
    status: str
    title: Any
    remediation: Any
    references: Any
    due_on: date | None
    partner_plan: str | None
    partner_planned_on: date | None
    partner_responded_at: datetime | None
    partner_fix_note: str | None
    partner_fixed_at: datetime | None
    # The reviewer's note when it sent a fix back (the latest reopening), shown to the partner.
    sent_back_note: str | None
    proofs: list[str]
    version: int


async def partner_open_findings(conn: asyncpg.Connection, partner_id: UUID) -> list[PortalFinding]:
    """What the partner sees: its findings to remediate (open, remediating) and those
    awaiting our verification, most severe first; only this partner's (the predicate)."""
    rows = await conn.fetch(
        """
        SELECT f.id, f.template_key AS questionnaire, f.question_id, f.severity, f.status, f.title,
               f.remediation, f.refs AS "references", f.due_on, f.partner_plan, f.partner_planned_on,
               f.partner_responded_at, f.partner_fix_note, f.partner_fixed_at, f.version,
               (SELECT e.note FROM finding_events e WHERE e.finding_id = f.id AND e.kind = 'reopened'
                ORDER BY e.at DESC, e.id DESC LIMIT 1) AS sent_back_note,
               coalesce((SELECT array_agg(d.filename ORDER BY d.created_at, d.id)
                         FROM finding_proofs fp JOIN documents d ON d.id = fp.document_id
                         WHERE fp.finding_id = f.id), '{}') AS proofs
        FROM findings f
        WHERE f.partner_id = $1 AND f.status IN ('open', 'remediating', 'verifying')
        ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low'], f.severity), f.created_at, f.id
        """,
        partner_id,
    )
    return [msgspec.convert(dict(r), PortalFinding) for r in rows]


async def add_events(
    conn: asyncpg.Connection,
    events: Sequence[tuple[UUID, str, str, str]],
    *,
    actor_id: UUID | None,
    actor_label: str,
    side: str,
    note: str | None = None,
) -> None:
    """Append ``(finding id, kind, status after, note or "")`` lines to findings' history
    in one statement; an empty note falls back to ``note``."""
    if not events:
        return
    await conn.executemany(
        """
        INSERT INTO finding_events (finding_id, kind, status, note, actor_id, actor_label, side)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        [(f, kind, status, n or note, actor_id, actor_label, side) for f, kind, status, n in events],
    )


async def add_proof(conn: asyncpg.Connection, finding_id: UUID, document_id: UUID) -> None:
    await conn.execute(
        "INSERT INTO finding_proofs (finding_id, document_id) VALUES ($1, $2)", finding_id, document_id
    )


async def proof_of(conn: asyncpg.Connection, finding_id: UUID, document_id: UUID) -> bool:
    """Whether the document is a proof of this finding (downloads go through this check)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM finding_proofs WHERE finding_id = $1 AND document_id = $2)",
        finding_id,
        document_id,
    )
    return found


async def open_counts(conn: asyncpg.Connection, partner_id: UUID, today: date) -> dict[str, int]:
    """Findings by severity that carry risk nobody accepted: open, remediating, or accepted
    with an acceptance that lapsed before the sweep reopened it."""
    rows = await conn.fetch(
        f"""
        SELECT f.severity, count(*) AS n FROM findings f
        WHERE f.partner_id = $2
          AND (f.status IN ('open', 'remediating', 'verifying')
               OR (f.status = 'accepted' AND NOT EXISTS (
                   SELECT 1 FROM risk_acceptances r WHERE r.finding_id = f.id AND {LIVE_ACCEPTANCE_SQL})))
        GROUP BY f.severity
        """,
        today,
        partner_id,
    )
    return {r["severity"]: r["n"] for r in rows}


async def created_by(conn: asyncpg.Connection, finding_id: UUID) -> UUID | None:
    """Who raised the finding by hand (None for rule findings)."""
    user_id: UUID | None = await conn.fetchval("SELECT created_by FROM findings WHERE id = $1", finding_id)
    return user_id
