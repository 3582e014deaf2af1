"""What the reports' API and pages share: exports and documents as downloads, each one
audited (who took which register, in which form, with which filters)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.i18n import translator
from vendor_risk.reports import documents, exports, pdf
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


# --- documents ------------------------------------------------------------------------------------

DocumentFormat = Literal["pdf", "html"]


async def _single(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def document(
    conn: asyncpg.Connection,
    actor: Actor,
    kind: Literal["assessment-report", "partner-dossier", "notification-record", "portfolio-report"],
    entity_id: UUID | None,
    lang: str,
    fmt: DocumentFormat,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> Download:
    """One printed document as PDF (or its HTML), in ``lang``; the download is audited."""
    now = now or datetime.now(UTC)
    today = today_utc(now)
    t = translator(lang)
    if kind == "assessment-report" and entity_id is not None:
        context = await documents.assessment_report(conn, entity_id, lang, settings, today)
        template, title, subject = "assessment_report", t("rpt_doc_assessment"), context["partner"].name
    elif kind == "partner-dossier" and entity_id is not None:
        context = await documents.partner_dossier(conn, entity_id, lang, settings, today, now)
        template, title, subject = "dossier", t("rpt_doc_dossier"), context["partner"].name
    elif kind == "notification-record" and entity_id is not None:
        context = await documents.notification_record(conn, entity_id, lang, now)
        template, title, subject = "notification_record", t("rpt_doc_n57"), context["incident"].partner_name
    else:
        context = await documents.portfolio(conn, lang, settings, today)
        template, title, subject = "portfolio", t("rpt_doc_portfolio"), ""
    html = pdf.document_html(template, lang, now, **context)
    await record_download(
        conn, actor, kind, str(entity_id or "portfolio"), {"format": fmt, "lang": lang, "document": kind}
    )
    suffix = f"-{str(entity_id)[:8]}" if entity_id else ""
    ascii_name, local_name = exports.file_names(f"{kind}{suffix}", f"{title}-{subject}".rstrip("-"), now, fmt)
    if fmt == "html":
        return Download(
            body=_single(html.encode()),
            media_type="text/html; charset=utf-8",
            disposition=exports.content_disposition(ascii_name, local_name).replace("attachment", "inline"),
        )
    return Download(
        body=_single(await pdf.to_pdf(html)),
        media_type=pdf.PDF_MEDIA_TYPE,
        disposition=exports.content_disposition(ascii_name, local_name),
    )
