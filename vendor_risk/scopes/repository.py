"""SQL for data categories, scopes, sub-processors and impact assessments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.partners.rules import (
    ImpactAssessmentFact,
    ScopeFact,
    SubProcessorFact,
)
from vendor_risk.scopes.models import (
    DataCategory,
    ImpactAssessment,
    Scope,
    SubProcessor,
)
from vendor_risk.structs import I18nText

# --- data categories ---------------------------------------------------------------------

CATEGORY_COLUMNS = """
    id, code, sensitivity, builtin, version,
    jsonb_build_object('zh-CN', name_zh, 'en', name_en) AS name,
    jsonb_build_object('zh-CN', description_zh, 'en', description_en) AS description
"""


def to_category(row: asyncpg.Record) -> DataCategory:
    return msgspec.convert(dict(row), DataCategory)


async def list_categories(conn: asyncpg.Connection) -> list[DataCategory]:
    rows = await conn.fetch(f"SELECT {CATEGORY_COLUMNS} FROM data_categories ORDER BY code")
    return [to_category(r) for r in rows]


async def get_category(
    conn: asyncpg.Connection, category_id: UUID, *, for_update: bool = False
) -> DataCategory | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {CATEGORY_COLUMNS} FROM data_categories WHERE id = $1{lock}", category_id
    )
    return to_category(row) if row else None


async def existing_category_ids(conn: asyncpg.Connection, ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch("SELECT id FROM data_categories WHERE id = ANY($1::uuid[])", list(ids))
    return {r["id"] for r in rows}


async def insert_category(
    conn: asyncpg.Connection, code: str, name: I18nText, description: I18nText, sensitivity: str
) -> DataCategory:
    row = await conn.fetchrow(
        f"""
        INSERT INTO data_categories
            (code, name_zh, name_en, description_zh, description_en, sensitivity)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING {CATEGORY_COLUMNS}
        """,
        code,
        name.zh_cn,
        name.en,
        description.zh_cn,
        description.en,
        sensitivity,
    )
    return to_category(row)


async def update_category(
    conn: asyncpg.Connection,
    category_id: UUID,
    name: I18nText,
    description: I18nText,
    sensitivity: str,
) -> DataCategory:
    row = await conn.fetchrow(
        f"""
        UPDATE data_categories
        SET name_zh = $2, name_en = $3, description_zh = $4, description_en = $5,
            sensitivity = $6, version = version + 1
        WHERE id = $1
        RETURNING {CATEGORY_COLUMNS}
        """,
        category_id,
        name.zh_cn,
        name.en,
        description.zh_cn,
        description.en,
        sensitivity,
    )
    return to_category(row)


async def category_in_use(conn: asyncpg.Connection, category_id: UUID) -> bool:
    used: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM scopes WHERE category_id = $1)
            OR EXISTS (SELECT 1 FROM agreement_categories WHERE category_id = $1)
        """,
        category_id,
    )
    return used


async def delete_category(conn: asyncpg.Connection, category_id: UUID) -> None:
    await conn.execute("DELETE FROM data_categories WHERE id = $1", category_id)


# --- sub-processors ----------------------------------------------------------------------

SUB_PROCESSOR_COLUMNS = """
    id, partner_id, name, country, receives, status, decision_note, decided_at,
    created_at, version
"""


def to_sub_processor(row: asyncpg.Record) -> SubProcessor:
    return SubProcessor(**dict(row))


async def insert_sub_processor(
    conn: asyncpg.Connection,
    partner_id: UUID,
    name: str,
    country: str,
    receives: str,
    created_by: UUID | None,
) -> SubProcessor:
    row = await conn.fetchrow(
        f"""
        INSERT INTO sub_processors (partner_id, name, country, receives, created_by)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING {SUB_PROCESSOR_COLUMNS}
        """,
        partner_id,
        name,
        country,
        receives,
        created_by,
    )
    return to_sub_processor(row)


async def get_sub_processor(
    conn: asyncpg.Connection, partner_id: UUID, sub_processor_id: UUID, *, for_update: bool = False
) -> SubProcessor | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {SUB_PROCESSOR_COLUMNS} FROM sub_processors WHERE partner_id = $1 AND id = $2{lock}",
        partner_id,
        sub_processor_id,
    )
    return to_sub_processor(row) if row else None


async def list_sub_processors(
    conn: asyncpg.Connection, partner_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[SubProcessor]:
    rows = await conn.fetch(
        f"""
        SELECT {SUB_PROCESSOR_COLUMNS} FROM sub_processors
        WHERE partner_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
        ORDER BY created_at, id
        LIMIT $4
        """,
        partner_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [to_sub_processor(r) for r in rows]


async def partner_sub_processor_ids(
    conn: asyncpg.Connection, partner_id: UUID, ids: Sequence[UUID]
) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT id FROM sub_processors WHERE partner_id = $1 AND id = ANY($2::uuid[])",
        partner_id,
        list(ids),
    )
    return {r["id"] for r in rows}


async def decide_sub_processor(
    conn: asyncpg.Connection, sub_processor_id: UUID, status: str, note: str | None, by: UUID | None
) -> SubProcessor:
    row = await conn.fetchrow(
        f"""
        UPDATE sub_processors
        SET status = $2, decision_note = $3, decided_by = $4, decided_at = now(),
            version = version + 1
        WHERE id = $1
        RETURNING {SUB_PROCESSOR_COLUMNS}
        """,
        sub_processor_id,
        status,
        note,
        by,
    )
    return to_sub_processor(row)


# --- scopes ------------------------------------------------------------------------------

SCOPE_SELECT = """
SELECT s.id, s.partner_id, s.purpose, s.processing_methods, s.transfer_method, s.starts_on,
       s.ends_on, s.retention_days, s.volume_band, s.cross_border, s.sub_processing_allowed,
       s.status, s.status_reason, s.decided_by, s.decided_at, s.created_at, s.updated_at,
       s.version, s.unlisted_clients_approx,
       jsonb_build_object(
           'id', c.id, 'code', c.code, 'sensitivity', c.sensitivity,
           'name', jsonb_build_object('zh-CN', c.name_zh, 'en', c.name_en)) AS category,
       coalesce((
           SELECT jsonb_agg(jsonb_build_object(
                      'id', sp.id, 'name', sp.name, 'country', sp.country, 'status', sp.status)
                  ORDER BY sp.name, sp.id)
           FROM scope_sub_processors ssp JOIN sub_processors sp ON sp.id = ssp.sub_processor_id
           WHERE ssp.scope_id = s.id), '[]') AS sub_processors
FROM scopes s JOIN data_categories c ON c.id = s.category_id
"""


def to_scope(row: asyncpg.Record) -> Scope:
    return msgspec.convert(dict(row), Scope)


async def get_scope(
    conn: asyncpg.Connection, partner_id: UUID, scope_id: UUID, *, for_update: bool = False
) -> Scope | None:
    if for_update:
        await conn.execute("SELECT 1 FROM scopes WHERE id = $1 FOR UPDATE", scope_id)
    row = await conn.fetchrow(SCOPE_SELECT + " WHERE s.partner_id = $1 AND s.id = $2", partner_id, scope_id)
    return to_scope(row) if row else None


async def list_scopes(
    conn: asyncpg.Connection,
    partner_id: UUID,
    statuses: Sequence[str] | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Scope]:
    rows = await conn.fetch(
        SCOPE_SELECT
        + """
        WHERE s.partner_id = $1
          AND ($2::text[] IS NULL OR s.status = ANY($2))
          AND ($3::timestamptz IS NULL OR (s.created_at, s.id) > ($3, $4::uuid))
        ORDER BY s.created_at, s.id
        LIMIT $5
        """,
        partner_id,
        list(statuses) if statuses else None,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [to_scope(r) for r in rows]


async def insert_scope(
    conn: asyncpg.Connection, partner_id: UUID, fields: dict[str, Any], created_by: UUID | None
) -> UUID:
    scope_id: UUID = await conn.fetchval(
        """
        INSERT INTO scopes (partner_id, category_id, purpose, processing_methods,
                            transfer_method, starts_on, ends_on, retention_days, volume_band,
                            cross_border, sub_processing_allowed, created_by, unlisted_clients_approx)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        RETURNING id
        """,
        partner_id,
        fields["category_id"],
        fields["purpose"],
        fields["processing_methods"],
        fields["transfer_method"],
        fields["starts_on"],
        fields["ends_on"],
        fields["retention_days"],
        fields["volume_band"],
        fields["cross_border"],
        fields["sub_processing_allowed"],
        created_by,
        fields["unlisted_clients_approx"],
    )
    return scope_id


async def set_unlisted_clients(conn: asyncpg.Connection, scope_id: UUID, count: int | None) -> None:
    await conn.execute(
        "UPDATE scopes SET unlisted_clients_approx = $2, updated_at = now(), version = version + 1"
        " WHERE id = $1",
        scope_id,
        count,
    )


async def add_scope_sub_processors(
    conn: asyncpg.Connection, scope_id: UUID, sub_processor_ids: Sequence[UUID]
) -> None:
    await conn.executemany(
        "INSERT INTO scope_sub_processors (scope_id, sub_processor_id) VALUES ($1, $2)",
        [(scope_id, sp) for sp in sub_processor_ids],
    )


async def set_scope_status(
    conn: asyncpg.Connection, scope_id: UUID, status: str, reason: str | None, by: UUID | None
) -> None:
    await conn.execute(
        """
        UPDATE scopes
        SET status = $2, status_reason = $3, decided_by = $4, decided_at = now(),
            updated_at = now(), version = version + 1
        WHERE id = $1
        """,
        scope_id,
        status,
        reason,
        by,
    )


async def live_scope_ids(conn: asyncpg.Connection, partner_id: UUID) -> list[UUID]:
    """Scopes still requested, approved or suspended, locked for the caller's change."""
    rows = await conn.fetch(
        """
        SELECT id FROM scopes
        WHERE partner_id = $1 AND status IN ('requested', 'approved', 'suspended')
        ORDER BY created_at, id
        FOR UPDATE
        """,
        partner_id,
    )
    return [r["id"] for r in rows]


async def approved_scope_ids(conn: asyncpg.Connection, partner_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        """
        SELECT id FROM scopes WHERE partner_id = $1 AND status = 'approved'
        ORDER BY created_at, id FOR UPDATE
        """,
        partner_id,
    )
    return [r["id"] for r in rows]


async def scope_facts(
    conn: asyncpg.Connection, partner_id: UUID, scope_id: UUID | None = None
) -> list[ScopeFact]:
    """What tiering and the gates need about the partner's scopes (or one of them)."""
    rows = await conn.fetch(
        """
        SELECT s.id, s.status, s.category_id, c.name_en AS category_name, c.sensitivity,
               s.volume_band, s.processing_methods, s.cross_border, s.sub_processing_allowed,
               EXISTS (SELECT 1 FROM scope_sub_processors x WHERE x.scope_id = s.id)
                   AS has_sub_processors,
               s.starts_on, s.ends_on
        FROM scopes s JOIN data_categories c ON c.id = s.category_id
        WHERE s.partner_id = $1 AND ($2::uuid IS NULL OR s.id = $2)
        ORDER BY s.created_at, s.id
        """,
        partner_id,
        scope_id,
    )
    return [msgspec.convert(dict(r), ScopeFact) for r in rows]


async def scope_sub_processor_facts(conn: asyncpg.Connection, scope_id: UUID) -> list[SubProcessorFact]:
    rows = await conn.fetch(
        """
        SELECT sp.id, sp.name, sp.country, sp.status = 'approved' AS approved
        FROM scope_sub_processors x JOIN sub_processors sp ON sp.id = x.sub_processor_id
        WHERE x.scope_id = $1
        ORDER BY sp.name, sp.id
        """,
        scope_id,
    )
    return [SubProcessorFact(**dict(r)) for r in rows]


async def sub_processor_facts_by_scope(
    conn: asyncpg.Connection, scope_ids: Sequence[UUID]
) -> dict[UUID, list[SubProcessorFact]]:
    """``scope_sub_processor_facts`` for many scopes in one query (a page's previews)."""
    rows = await conn.fetch(
        """
        SELECT x.scope_id, sp.id, sp.name, sp.country, sp.status = 'approved' AS approved
        FROM scope_sub_processors x JOIN sub_processors sp ON sp.id = x.sub_processor_id
        WHERE x.scope_id = ANY($1::uuid[])
        ORDER BY sp.name, sp.id
        """,
        list(scope_ids),
    )
    found: dict[UUID, list[SubProcessorFact]] = {}
    for r in rows:
        values = dict(r)
        found.setdefault(values.pop("scope_id"), []).append(SubProcessorFact(**values))
    return found


# --- impact assessments ------------------------------------------------------------------

IMPACT_ASSESSMENT_COLUMNS = """
    ia.id, ia.partner_id, ia.purpose, ia.necessity, ia.risks, ia.measures, ia.conclusion,
    ia.outcome, ia.assessor, ia.assessed_on, ia.retain_until, ia.created_at,
    ARRAY(SELECT x.scope_id FROM impact_assessment_scopes x
          WHERE x.impact_assessment_id = ia.id ORDER BY x.scope_id) AS scope_ids
"""


async def insert_impact_assessment(
    conn: asyncpg.Connection, partner_id: UUID, fields: dict[str, Any], created_by: UUID | None
) -> ImpactAssessment:
    ia_id: UUID = await conn.fetchval(
        """
        INSERT INTO impact_assessments (partner_id, purpose, necessity, risks, measures,
                                        conclusion, outcome, assessor, assessed_on,
                                        retain_until, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING id
        """,
        partner_id,
        fields["purpose"],
        fields["necessity"],
        fields["risks"],
        fields["measures"],
        fields["conclusion"],
        fields["outcome"],
        fields["assessor"],
        fields["assessed_on"],
        fields["retain_until"],
        created_by,
    )
    await conn.executemany(
        "INSERT INTO impact_assessment_scopes (impact_assessment_id, scope_id) VALUES ($1, $2)",
        [(ia_id, s) for s in fields["scope_ids"]],
    )
    found = await get_impact_assessment(conn, partner_id, ia_id)
    assert found is not None  # noqa: S101 - inserted just above, in this transaction
    return found


async def get_impact_assessment(
    conn: asyncpg.Connection, partner_id: UUID, ia_id: UUID
) -> ImpactAssessment | None:
    row = await conn.fetchrow(
        f"SELECT {IMPACT_ASSESSMENT_COLUMNS} FROM impact_assessments ia "
        "WHERE ia.partner_id = $1 AND ia.id = $2",
        partner_id,
        ia_id,
    )
    return ImpactAssessment(**dict(row)) if row else None


async def list_impact_assessments(
    conn: asyncpg.Connection, partner_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[ImpactAssessment]:
    rows = await conn.fetch(
        f"""
        SELECT {IMPACT_ASSESSMENT_COLUMNS} FROM impact_assessments ia
        WHERE ia.partner_id = $1
          AND ($2::timestamptz IS NULL OR (ia.created_at, ia.id) < ($2, $3::uuid))
        ORDER BY ia.created_at DESC, ia.id DESC
        LIMIT $4
        """,
        partner_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [ImpactAssessment(**dict(r)) for r in rows]


async def impact_assessment_facts(conn: asyncpg.Connection, scope_id: UUID) -> list[ImpactAssessmentFact]:
    rows = await conn.fetch(
        """
        SELECT ia.id, ia.assessed_on, ia.outcome
        FROM impact_assessment_scopes x JOIN impact_assessments ia ON ia.id = x.impact_assessment_id
        WHERE x.scope_id = $1
        ORDER BY ia.assessed_on, ia.created_at
        """,
        scope_id,
    )
    return [ImpactAssessmentFact(**dict(r)) for r in rows]


async def impact_assessment_facts_by_scope(
    conn: asyncpg.Connection, scope_ids: Sequence[UUID]
) -> dict[UUID, list[ImpactAssessmentFact]]:
    """``impact_assessment_facts`` for many scopes in one query (a page's previews)."""
    rows = await conn.fetch(
        """
        SELECT x.scope_id, ia.id, ia.assessed_on, ia.outcome
        FROM impact_assessment_scopes x JOIN impact_assessments ia ON ia.id = x.impact_assessment_id
        WHERE x.scope_id = ANY($1::uuid[])
        ORDER BY ia.assessed_on, ia.created_at
        """,
        list(scope_ids),
    )
    found: dict[UUID, list[ImpactAssessmentFact]] = {}
    for r in rows:
        values = dict(r)
        found.setdefault(values.pop("scope_id"), []).append(ImpactAssessmentFact(**values))
    return found


async def partner_scope_ids(conn: asyncpg.Connection, partner_id: UUID, ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT id FROM scopes WHERE partner_id = $1 AND id = ANY($2::uuid[])",
        partner_id,
        list(ids),
    )
    return {r["id"] for r in rows}


async def requested_by(conn: asyncpg.Connection, scope_id: UUID) -> UUID | None:
    """Who requested the scope (the request a two-person rule's approvers may not own)."""
    user_id: UUID | None = await conn.fetchval("SELECT created_by FROM scopes WHERE id = $1", scope_id)
    return user_id
