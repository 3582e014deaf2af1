"""SQL of the security notices: versions (inserted, never changed), publications, their
recipients and reminders. Lists are one query each, counts included."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from vendor_risk.notices.models import Notice, NoticeVersion, PartnerNotice, Recipient
from vendor_risk.structs import I18nText

_VERSION_COLUMNS = """
    v.id, v.key, v.version, v.kind, v.ack_required, v.title_zh, v.title_en, v.body_zh,
    v.body_en, v.html_zh, v.html_en, v.content_sha256, v.loaded_at
"""


def version_of(row: asyncpg.Record) -> NoticeVersion:
    return NoticeVersion(
        id=row["id"],
        key=row["key"],
        version=row["version"],
        kind=row["kind"],
        ack_required=row["ack_required"],
        title=I18nText(zh_cn=row["title_zh"], en=row["title_en"]),
        body=I18nText(zh_cn=row["body_zh"], en=row["body_en"]),
        html=I18nText(zh_cn=row["html_zh"], en=row["html_en"]),
        content_sha256=row["content_sha256"],
        loaded_at=row["loaded_at"],
    )


async def versions_of(conn: asyncpg.Connection, key: str) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, content_sha256 FROM notice_versions WHERE key = $1", key)
    return {row["version"]: row["content_sha256"] for row in rows}


async def insert_version(conn: asyncpg.Connection, notice: Notice, html: I18nText, sha256: str) -> UUID:
    version_id: UUID = await conn.fetchval(
        """
        INSERT INTO notice_versions (key, version, kind, ack_required, title_zh, title_en,
                                     body_zh, body_en, html_zh, html_en, content_sha256)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING id
        """,
        notice.key,
        notice.version,
        notice.kind,
        notice.ack_required,
        notice.title.zh_cn,
        notice.title.en,
        notice.body.zh_cn,
        notice.body.en,
        html.zh_cn,
        html.en,
        sha256,
    )
    return version_id


async def all_versions(conn: asyncpg.Connection) -> list[NoticeVersion]:
    rows = await conn.fetch(
        f"SELECT {_VERSION_COLUMNS} FROM notice_versions v ORDER BY v.key, v.version DESC"
    )
    return [version_of(r) for r in rows]


async def get_version(conn: asyncpg.Connection, key: str, version: int | None) -> NoticeVersion | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_VERSION_COLUMNS} FROM notice_versions v
        WHERE v.key = $1 AND ($2::int IS NULL OR v.version = $2)
        ORDER BY v.version DESC LIMIT 1
        """,
        key,
        version,
    )
    return version_of(row) if row else None


# The audience: active partners (any partner but an offboarded one when it is named), each
# with its contacts. Every branch is a predicate an index serves: partners' status, tier and
# service types, scopes by category.
AUDIENCE_SQL = """
    SELECT p.id AS partner_id, p.name AS partner_name, c.id AS contact_id, c.name AS contact_name,
           c.email, c.locale
    FROM partners p
    LEFT JOIN partner_contacts c ON c.partner_id = p.id
    WHERE CASE $1::text
        WHEN 'partner' THEN p.id = $3 AND p.status <> 'offboarded'
        ELSE p.status = 'active' AND CASE $1::text
            WHEN 'all' THEN true
            WHEN 'tier' THEN p.tier = $2
            WHEN 'service_type' THEN p.service_types @> ARRAY[$2::text]
            WHEN 'data_category' THEN EXISTS (
                SELECT 1 FROM scopes s JOIN data_categories d ON d.id = s.category_id
                WHERE s.partner_id = p.id AND s.status = 'approved' AND d.code = $2)
            ELSE false END
        END
    ORDER BY p.name, p.id, c.position, c.created_at
"""


async def audience(conn: asyncpg.Connection, kind: str, value: str | None) -> list[asyncpg.Record]:
    # The partner's id goes as a uuid of its own, so its branch is a primary-key lookup.
    partner_id = UUID(value) if kind == "partner" and value else None
    rows: list[asyncpg.Record] = await conn.fetch(AUDIENCE_SQL, kind, value, partner_id)
    return rows


async def insert_publication(
    conn: asyncpg.Connection,
    *,
    version_id: UUID,
    audience: str,
    audience_value: str | None,
    due_on: Any,
    message: str,
    published_by: UUID | None,
    now: datetime,
    partner_count: int,
    contact_count: int,
) -> UUID:
    publication_id: UUID = await conn.fetchval(
        """
        INSERT INTO notice_publications (notice_version_id, audience, audience_value, due_on,
            message, published_by, published_at, partner_count, contact_count)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
        """,
        version_id,
        audience,
        audience_value,
        due_on,
        message,
        published_by,
        now,
        partner_count,
        contact_count,
    )
    return publication_id


async def insert_recipients(
    conn: asyncpg.Connection,
    publication_id: UUID,
    rows: Sequence[tuple[UUID, UUID, str, str, str, bytes]],
    expires_at: datetime,
    now: datetime,
) -> list[UUID]:
    """One statement for every recipient: (partner, contact, name, email, locale, token hash)."""
    records = await conn.fetch(
        """
        INSERT INTO notice_recipients (publication_id, partner_id, contact_id, contact_name, email,
                                       locale, token_hash, expires_at, sent_at)
        SELECT $1, r.partner_id, r.contact_id, r.contact_name, r.email, r.locale, r.token_hash, $8, $9
        FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::bytea[])
             WITH ORDINALITY AS r (partner_id, contact_id, contact_name, email, locale, token_hash, n)
        ORDER BY r.n
        RETURNING id
        """,
        publication_id,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
        expires_at,
        now,
    )
    return [r["id"] for r in records]


PUBLICATION_COLUMNS = """
    pb.id, v.key AS notice_key, v.version AS notice_version, v.kind, v.ack_required,
    v.title_zh, v.title_en, pb.audience, pb.audience_value,
    CASE pb.audience
        WHEN 'partner' THEN (SELECT name FROM partners WHERE id = pb.audience_value::uuid)
        WHEN 'data_category' THEN (SELECT name_zh || '|' || name_en FROM data_categories
                                   WHERE code = pb.audience_value)
    END AS audience_name,
    pb.due_on, pb.message, pb.published_at, u.name AS published_by, pb.partner_count,
    pb.contact_count,
    (SELECT count(DISTINCT r.partner_id)::int FROM notice_recipients r
     WHERE r.publication_id = pb.id AND r.acknowledged_at IS NOT NULL) AS partners_acknowledged,
    (SELECT count(*)::int FROM notice_recipients r
     WHERE r.publication_id = pb.id AND r.acknowledged_at IS NOT NULL) AS contacts_acknowledged
"""
PUBLICATION_JOINS = """
    FROM notice_publications pb
    JOIN notice_versions v ON v.id = pb.notice_version_id
    LEFT JOIN users u ON u.id = pb.published_by
"""


async def list_publications(
    conn: asyncpg.Connection, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT {PUBLICATION_COLUMNS} {PUBLICATION_JOINS}
        WHERE ($1::timestamptz IS NULL OR (pb.published_at, pb.id) < ($1, $2::uuid))
        ORDER BY pb.published_at DESC, pb.id DESC
        LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return rows


async def get_publication(conn: asyncpg.Connection, publication_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PUBLICATION_COLUMNS} {PUBLICATION_JOINS} WHERE pb.id = $1", publication_id
    )


async def recipients(conn: asyncpg.Connection, publication_id: UUID) -> list[Recipient]:
    rows = await conn.fetch(
        """
        SELECT r.id, r.partner_id, p.name AS partner_name, r.contact_name, r.email, r.locale,
               r.sent_at, r.opened_at, r.acknowledged_at, r.acknowledged_name, r.acknowledged_via,
               (SELECT count(*)::int FROM notice_reminders m WHERE m.recipient_id = r.id) AS reminders
        FROM notice_recipients r JOIN partners p ON p.id = r.partner_id
        WHERE r.publication_id = $1
        ORDER BY p.name, r.partner_id, r.sent_at, r.contact_name
        """,
        publication_id,
    )
    return [Recipient(**dict(r)) for r in rows]


async def partner_notices(conn: asyncpg.Connection, partner_id: UUID) -> list[PartnerNotice]:
    """Per publication the partner was reached by: the first acknowledgement of any of its
    contacts (a partner has acknowledged when one of them has)."""
    rows = await conn.fetch(
        """
        SELECT pb.id AS publication_id, v.key AS notice_key, v.version AS notice_version, v.kind,
               v.ack_required, v.title_zh, v.title_en, pb.due_on, min(r.sent_at) AS sent_at,
               count(*)::int AS contacts,
               min(r.acknowledged_at) AS acknowledged_at,
               (array_agg(r.acknowledged_name ORDER BY r.acknowledged_at)
                    FILTER (WHERE r.acknowledged_at IS NOT NULL))[1] AS acknowledged_name
        FROM notice_recipients r
        JOIN notice_publications pb ON pb.id = r.publication_id
        JOIN notice_versions v ON v.id = pb.notice_version_id
        WHERE r.partner_id = $1
        GROUP BY pb.id, v.id
        ORDER BY min(r.sent_at) DESC, pb.id DESC
        """,
        partner_id,
    )
    return [
        PartnerNotice(
            title=I18nText(zh_cn=r["title_zh"], en=r["title_en"]),
            **{k: v for k, v in r.items() if k not in ("title_zh", "title_en")},
        )
        for r in rows
    ]


LINK_COLUMNS = """
    r.id, r.publication_id, r.partner_id, p.name AS partner_name, r.contact_name, r.email,
    r.locale, r.expires_at, r.opened_at, r.acknowledged_at, r.acknowledged_name, pb.due_on,
    v.id AS version_id, u.name AS sender_name, u.email AS sender_email, p.status AS partner_status
"""
LINK_JOINS = """
    FROM notice_recipients r
    JOIN partners p ON p.id = r.partner_id
    JOIN notice_publications pb ON pb.id = r.publication_id
    JOIN notice_versions v ON v.id = pb.notice_version_id
    LEFT JOIN users u ON u.id = pb.published_by
"""


async def find_link(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {LINK_COLUMNS} {LINK_JOINS} WHERE r.token_hash = $1", token_hash)


async def get_version_by_id(conn: asyncpg.Connection, version_id: UUID) -> NoticeVersion:
    row = await conn.fetchrow(f"SELECT {_VERSION_COLUMNS} FROM notice_versions v WHERE v.id = $1", version_id)
    if row is None:  # a recipient's version is never deleted (a trigger refuses it)
        raise LookupError(version_id)
    return version_of(row)
