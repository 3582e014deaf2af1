"""What the reports' API and pages share: exports and documents as downloads, each one
audited (who took which register, in which form, with which filters)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.i18n import translator
from vendor_risk.reports import exports
from vendor_risk.settings import Settings


class Download(msgspec.Struct, kw_only=True):
    """A file to send: its chunks, media type and the Content-Disposition naming it."""

    body: AsyncIterator[bytes]
    media_type: str
    disposition: str


def today_utc(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _plain_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in filters.items() if v not in (None, "", [])}


async def record_download(
    conn: asyncpg.Connection, actor: Actor, what: str, entity_id: str, details: Mapping[str, Any]
) -> None:
    async with conn.transaction():
        await audit.record(
            conn,
            actor=actor,
            action="report.downloaded",
            entity_type=what,
            entity_id=entity_id,
            after=dict(details),
        )


async def export(
    pool: asyncpg.Pool,
    actor: Actor,
    name: str,
    fmt: exports.Format,
    lang: str,
    filters: Mapping[str, Any],
    settings: Settings,
    *,
    now: datetime | None = None,
) -> Download:
    """One register as XLSX (written to a temporary file in constant memory, then streamed)
    or CSV (streamed as read), in ``lang``; the download is audited first."""
    now = now or datetime.now(UTC)
    spec = exports.SPECS[name]
    today = today_utc(now)
    query = exports.build_query(
        spec, {"today": today, "lang": lang, "expiring_days": settings.agreement_expiring_days}, filters
    )
    ascii_name, local_name = exports.file_names(spec.name, translator(lang)(spec.title), now, fmt)
    details = {"export": spec.name, "format": fmt, "lang": lang, "filters": _plain_filters(filters)}
    if fmt == "csv":
        async with pool.acquire() as conn:
            await record_download(conn, actor, "export", spec.name, details)
        body = exports.stream_csv(pool, spec, query, lang, today)
    else:
        async with pool.acquire() as conn:
            written = await exports.write_xlsx(conn, spec, query, lang, today)
            await record_download(conn, actor, "export", spec.name, details | {"rows": written.rows})
        body = exports.stream_file(written.path)
    return Download(
        body=body,
        media_type=exports.MEDIA_TYPES[fmt],
        disposition=exports.content_disposition(ascii_name, local_name),
    )
