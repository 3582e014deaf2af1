"""SQL for questionnaire template versions (rows are inserted, never changed)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.questionnaires.models import StoredTemplate, Template, TemplateSummary
from vendor_risk.structs import I18nText

_STORED_COLUMNS = "id, key, version, content_sha256, loaded_at, content::text AS content"


def _summary(row: asyncpg.Record) -> TemplateSummary:
    return TemplateSummary(
        id=row["id"],
        key=row["key"],
        version=row["version"],
        title=I18nText(zh_cn=row["title_zh"], en=row["title_en"]),
        section_count=row["section_count"],
        question_count=row["question_count"],
        content_sha256=row["content_sha256"],
        loaded_at=row["loaded_at"],
    )


def _stored(row: asyncpg.Record) -> StoredTemplate:
    return StoredTemplate(
        id=row["id"],
        key=row["key"],
        version=row["version"],
        content_sha256=row["content_sha256"],
        loaded_at=row["loaded_at"],
        content=msgspec.json.decode(row["content"], type=Template),
    )


async def latest_versions(conn: asyncpg.Connection) -> list[TemplateSummary]:
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (key) id, key, version, title_zh, title_en, section_count,
               question_count, content_sha256, loaded_at
        FROM questionnaire_templates
        ORDER BY key, version DESC
        """
    )
    return [_summary(row) for row in rows]


async def get_version(
    conn: asyncpg.Connection, key: str, version: int | None = None
) -> StoredTemplate | None:
    """The given version of `key`, or its latest when `version` is None."""
    row = await conn.fetchrow(
        f"""
        SELECT {_STORED_COLUMNS} FROM questionnaire_templates
        WHERE key = $1 AND ($2::int IS NULL OR version = $2)
        ORDER BY version DESC LIMIT 1
        """,
        key,
        version,
    )
    return _stored(row) if row else None


async def latest_of(conn: asyncpg.Connection, keys: list[str]) -> dict[str, StoredTemplate]:
    """The latest loaded version of each of ``keys`` that is loaded, in one query."""
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT ON (key) {_STORED_COLUMNS} FROM questionnaire_templates
        WHERE key = ANY($1::text[])
        ORDER BY key, version DESC
        """,
        keys,
    )
    return {row["key"]: _stored(row) for row in rows}


async def versions_of(conn: asyncpg.Connection, key: str) -> dict[int, str]:
    """Version -> content hash, for every loaded version of `key`."""
    rows = await conn.fetch("SELECT version, content_sha256 FROM questionnaire_templates WHERE key = $1", key)
    return {row["version"]: row["content_sha256"] for row in rows}


async def insert_version(conn: asyncpg.Connection, template: Template, sha256: str) -> UUID:
    template_id: UUID = await conn.fetchval(
        """
        INSERT INTO questionnaire_templates
            (key, version, title_zh, title_en, section_count, question_count, content,
             content_sha256)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING id
        """,
        template.key,
        template.version,
        template.title.zh_cn,
        template.title.en,
        len(template.sections),
        len(template.questions()),
        template,
        sha256,
    )
    return template_id
