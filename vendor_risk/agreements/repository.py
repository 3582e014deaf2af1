"""SQL for agreements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.agreements.models import Agreement, DocumentVersion, Signatory
from vendor_risk.documents import DocumentInfo
from vendor_risk.partners.rules import (
    AgreementFact,
    agreement_status,
    missing_art21_clauses,
)
from vendor_risk.scopes.models import CategoryRef

AGREEMENT_SELECT = """
SELECT a.id, a.partner_id, a.kind, a.title, a.reference, a.signed_on, a.effective_from,
       a.expires_on, a.signatories, a.clauses, a.notice_period_days, a.notes, a.terminated_at,
       a.termination_reason, a.created_at, a.updated_at, a.version,
       coalesce((
           SELECT jsonb_agg(jsonb_build_object(
                      'id', c.id, 'code', c.code, 'sensitivity', c.sensitivity,
                      'name', jsonb_build_object('zh-CN', c.name_zh, 'en', c.name_en))
                  ORDER BY c.code)
           FROM agreement_categories ac JOIN data_categories c ON c.id = ac.category_id
           WHERE ac.agreement_id = a.id), '[]') AS categories,
       CASE WHEN d.id IS NULL THEN NULL ELSE jsonb_build_object(
           'id', d.id, 'filename', d.filename, 'content_type', d.content_type,
           'size_bytes', d.size_bytes, 'sha256', d.sha256,
           'uploaded_by', d.uploaded_by_label, 'uploaded_at', d.created_at) END AS document
FROM agreements a LEFT JOIN documents d ON d.id = a.document_id
"""


def to_agreement(row: asyncpg.Record, today: date, expiring_within_days: int) -> Agreement:
    """An agreement with its status derived from dates by the rules."""
    values = dict(row)
    values["categories"] = msgspec.convert(values["categories"], list[CategoryRef])
    values["signatories"] = msgspec.convert(values["signatories"], list[Signatory])
    values["document"] = msgspec.convert(values["document"], DocumentInfo) if values["document"] else None
    values["missing_clauses"] = list(missing_art21_clauses(values["kind"], values["clauses"]))
    values["status"] = agreement_status(
        effective_from=values["effective_from"],
        expires_on=values["expires_on"],
        terminated=values["terminated_at"] is not None,
        today=today,
        expiring_within_days=expiring_within_days,
    )
    return Agreement(**values)


async def get_agreement(
    conn: asyncpg.Connection,
    partner_id: UUID,
    agreement_id: UUID,
    today: date,
    expiring_within_days: int,
    *,
    for_update: bool = False,
) -> Agreement | None:
    if for_update:
        await conn.execute("SELECT 1 FROM agreements WHERE id = $1 FOR UPDATE", agreement_id)
    row = await conn.fetchrow(
        AGREEMENT_SELECT + " WHERE a.partner_id = $1 AND a.id = $2", partner_id, agreement_id
    )
    return to_agreement(row, today, expiring_within_days) if row else None


async def list_agreements(
    conn: asyncpg.Connection,
    partner_id: UUID,
    kind: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    today: date,
    expiring_within_days: int,
) -> list[Agreement]:
    rows = await conn.fetch(
        AGREEMENT_SELECT
        + """
        WHERE a.partner_id = $1
          AND ($2::text IS NULL OR a.kind = $2)
          AND ($3::timestamptz IS NULL OR (a.created_at, a.id) < ($3, $4::uuid))
        ORDER BY a.created_at DESC, a.id DESC
        LIMIT $5
        """,
        partner_id,
        kind,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [to_agreement(r, today, expiring_within_days) for r in rows]


_WRITABLE = (
    "title",
    "reference",
    "signed_on",
    "effective_from",
    "expires_on",
    "signatories",
    "clauses",
    "notes",
    "notice_period_days",
)


async def insert_agreement(
    conn: asyncpg.Connection,
    partner_id: UUID,
    kind: str,
    fields: dict[str, Any],
    created_by: UUID | None,
) -> UUID:
    agreement_id: UUID = await conn.fetchval(
        """
        INSERT INTO agreements (partner_id, kind, title, reference, signed_on, effective_from,
                                expires_on, signatories, clauses, notes, notice_period_days,
                                created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        RETURNING id
        """,
        partner_id,
        kind,
        *(fields[name] for name in _WRITABLE),
        created_by,
    )
    return agreement_id


async def update_agreement(conn: asyncpg.Connection, agreement_id: UUID, fields: dict[str, Any]) -> None:
    await conn.execute(
        """
        UPDATE agreements
        SET title = $2, reference = $3, signed_on = $4, effective_from = $5, expires_on = $6,
            signatories = $7, clauses = $8, notes = $9, notice_period_days = $10, updated_at = now(),
            version = version + 1
        WHERE id = $1
        """,
        agreement_id,
        *(fields[name] for name in _WRITABLE),
    )


async def set_categories(conn: asyncpg.Connection, agreement_id: UUID, category_ids: Sequence[UUID]) -> None:
    await conn.execute("DELETE FROM agreement_categories WHERE agreement_id = $1", agreement_id)
    await conn.executemany(
        "INSERT INTO agreement_categories (agreement_id, category_id) VALUES ($1, $2)",
        [(agreement_id, c) for c in dict.fromkeys(category_ids)],
    )


async def terminate(conn: asyncpg.Connection, agreement_id: UUID, reason: str, by: UUID | None) -> None:
    await conn.execute(
        """
        UPDATE agreements
        SET terminated_at = now(), termination_reason = $2, terminated_by = $3,
            updated_at = now(), version = version + 1
        WHERE id = $1
        """,
        agreement_id,
        reason,
        by,
    )


async def attach_document(conn: asyncpg.Connection, agreement_id: UUID, document_id: UUID) -> None:
    """Make the document current and keep it as the agreement's next numbered version
    (the caller holds the partner's lock, so two uploads cannot take one number)."""
    await conn.execute(
        """
        INSERT INTO agreement_documents (agreement_id, version, document_id)
        SELECT $1, coalesce(max(version), 0) + 1, $2 FROM agreement_documents WHERE agreement_id = $1
        """,
        agreement_id,
        document_id,
    )
    await conn.execute(
        """
        UPDATE agreements SET document_id = $2, updated_at = now(), version = version + 1
        WHERE id = $1
        """,
        agreement_id,
        document_id,
    )


async def document_versions(
    conn: asyncpg.Connection, partner_id: UUID, agreement_id: UUID
) -> list[DocumentVersion] | None:
    """Every version of the agreement's signed document, newest first; None if there is no
    such agreement."""
    rows = await conn.fetch(
        """
        SELECT a.id AS agreement, v.version, v.document_id = a.document_id AS current,
               d.id, d.filename, d.content_type, d.size_bytes, d.sha256,
               d.uploaded_by_label AS uploaded_by, d.created_at AS uploaded_at
        FROM agreements a
        LEFT JOIN agreement_documents v ON v.agreement_id = a.id
        LEFT JOIN documents d ON d.id = v.document_id
        WHERE a.partner_id = $1 AND a.id = $2
        ORDER BY v.version DESC
        """,
        partner_id,
        agreement_id,
    )
    if not rows:
        return None
    return [
        DocumentVersion(
            version=r["version"],
            current=bool(r["current"]),
            document=DocumentInfo(**{k: r[k] for k in DocumentInfo.__struct_fields__}),
        )
        for r in rows
        if r["version"] is not None
    ]


async def document_version_id(
    conn: asyncpg.Connection, partner_id: UUID, agreement_id: UUID, version: int
) -> tuple[bool, UUID | None]:
    """Whether the agreement exists, and the document of that version."""
    row = await conn.fetchrow(
        """
        SELECT v.document_id FROM agreements a
        LEFT JOIN agreement_documents v ON v.agreement_id = a.id AND v.version = $3
        WHERE a.partner_id = $1 AND a.id = $2
        """,
        partner_id,
        agreement_id,
        version,
    )
    return (row is not None, row["document_id"] if row else None)


async def document_id_of(
    conn: asyncpg.Connection, partner_id: UUID, agreement_id: UUID
) -> tuple[bool, UUID | None]:
    """Whether the agreement exists, and its current document id."""
    row = await conn.fetchrow(
        "SELECT document_id FROM agreements WHERE partner_id = $1 AND id = $2",
        partner_id,
        agreement_id,
    )
    return (row is not None, row["document_id"] if row else None)


async def agreement_facts(
    conn: asyncpg.Connection, partner_id: UUID, today: date, expiring_within_days: int
) -> list[AgreementFact]:
    """The partner's agreements as the gates see them."""
    rows = await conn.fetch(
        """
        SELECT a.id, a.kind, a.title, a.effective_from, a.expires_on, a.clauses,
               a.terminated_at IS NOT NULL AS terminated,
               ARRAY(SELECT ac.category_id FROM agreement_categories ac
                     WHERE ac.agreement_id = a.id) AS category_ids
        FROM agreements a WHERE a.partner_id = $1
        ORDER BY a.created_at, a.id
        """,
        partner_id,
    )
    return [
        AgreementFact(
            id=r["id"],
            kind=r["kind"],
            title=r["title"],
            status=agreement_status(
                effective_from=r["effective_from"],
                expires_on=r["expires_on"],
                terminated=r["terminated"],
                today=today,
                expiring_within_days=expiring_within_days,
            ),
            category_ids=frozenset(r["category_ids"]),
            missing_clauses=missing_art21_clauses(r["kind"], r["clauses"]),
        )
        for r in rows
    ]
