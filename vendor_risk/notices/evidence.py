"""The acknowledgement evidence export: per contact reached, the partner, the notice and the
exact version, when it was sent and opened, when it was acknowledged and by whom. Written
by the register exports' helpers (CSV UTF-8 with BOM, XLSX in constant memory, formula
neutralisation), for one publication or one partner; the download is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import asyncpg

from vendor_risk.audit.models import Actor
from vendor_risk.i18n import translator
from vendor_risk.reports import exports
from vendor_risk.reports.service import Download, record_download

EVIDENCE = exports.ExportSpec(
    name="notice-acknowledgements",
    title="nt_export_title",
    columns=(
        exports.Column(key="partner", header="nt_col_partner", width=28),
        exports.Column(key="contact_name", header="nt_col_contact", width=16),
        exports.Column(key="email", header="nt_col_email", width=28),
        exports.Column(key="notice_key", header="nt_col_notice", width=28),
        exports.Column(key="title", header="nt_col_title", kind="i18n", width=36),
        exports.Column(key="notice_version", header="nt_col_version", kind="number", width=8),
        exports.Column(key="sent_at", header="nt_col_sent_at", kind="datetime", width=22),
        exports.Column(key="opened_at", header="nt_col_opened_at", kind="datetime", width=22),
        exports.Column(key="due_on", header="nt_col_due_on", kind="date", width=12),
        exports.Column(key="acknowledged_at", header="nt_col_acknowledged_at", kind="datetime", width=22),
        exports.Column(key="acknowledged_name", header="nt_col_acknowledged_by", width=16),
        exports.Column(key="acknowledged_via", header="nt_col_via", kind="label", prefix="nt_via_", width=12),
    ),
    sql="""
        SELECT p.name AS partner, r.contact_name, r.email, v.key AS notice_key,
               jsonb_build_object('zh-CN', v.title_zh, 'en', v.title_en) AS title,
               v.version AS notice_version, r.sent_at, r.opened_at, pb.due_on, r.acknowledged_at,
               r.acknowledged_name, r.acknowledged_via
        FROM notice_recipients r
        JOIN notice_publications pb ON pb.id = r.publication_id
        JOIN notice_versions v ON v.id = pb.notice_version_id
        JOIN partners p ON p.id = r.partner_id
        WHERE {where}
        ORDER BY pb.published_at, p.name, r.partner_id, r.contact_name, r.id
    """,
    filters=(
        exports.Filter(name="publication_id", sql="r.publication_id = {}"),
        exports.Filter(name="partner_id", sql="r.partner_id = {}"),
    ),
)


async def export_evidence(
    pool: asyncpg.Pool,
    actor: Actor,
    fmt: exports.Format,
    lang: str,
    *,
    publication_id: UUID | None = None,
    partner_id: UUID | None = None,
    now: datetime | None = None,
) -> Download:
    now = now or datetime.now(UTC)
    today = now.date()
    filters = {"publication_id": publication_id, "partner_id": partner_id}
    query = exports.build_query(EVIDENCE, {}, filters)
    subject = str(publication_id or partner_id or "all")
    ascii_name, local_name = exports.file_names(
        f"{EVIDENCE.name}-{subject[:8]}", translator(lang)(EVIDENCE.title), now, fmt
    )
    details = {
        "export": EVIDENCE.name,
        "format": fmt,
        "lang": lang,
        "filters": {k: str(v) for k, v in filters.items() if v is not None},
    }
    if fmt == "csv":
        async with pool.acquire() as conn:
            await record_download(conn, actor, "export", EVIDENCE.name, details)
        body = exports.stream_csv(pool, EVIDENCE, query, lang, today)
    else:
        async with pool.acquire() as conn:
            written = await exports.write_xlsx(conn, EVIDENCE, query, lang, today)
            await record_download(conn, actor, "export", EVIDENCE.name, details | {"rows": written.rows})
        body = exports.stream_file(written.path)
    return Download(
        body=body,
        media_type=exports.MEDIA_TYPES[fmt],
        disposition=exports.content_disposition(ascii_name, local_name),
    )


Format = Literal["xlsx", "csv"]
