"""Spreadsheet (XLSX) and CSV exports of the registers, streamed.

Each export is a fixed SQL statement read through a server-side cursor, a list of columns
(header and label keys from the message catalogue) and an optional row hook that applies a
rule (an agreement's status from its dates). The XLSX writer is XlsxWriter in
``constant_memory`` mode: each row goes to disk as soon as it is written, so the 100k-partner
register never sits in memory; the file is then streamed in chunks and deleted. CSV is
UTF-8 with a BOM (so Excel in China opens it) and is streamed as it is read.

Every text cell that a spreadsheet could take for a formula (it starts with ``= + - @``, a
tab or a carriage return) is prefixed with an apostrophe: a partner called ``=HYPERLINK(…)``
stays text in every program that opens the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import math
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from vendor_risk.i18n import translator
from vendor_risk.partners.rules import agreement_status

FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
BATCH: Final = 2000
CHUNK: Final = 256 * 1024
CHINA: Final = ZoneInfo("Asia/Shanghai")
Format = Literal["xlsx", "csv"]
Kind = Literal["text", "i18n", "date", "datetime", "number", "bool", "label", "labels", "json"]
MEDIA_TYPES: Final = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def neutralise(value: str) -> str:
    """Text that cannot run as a formula (OWASP's CSV injection advice: a leading quote)."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


class Column(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    # The header's catalogue key.
    header: str
    kind: Kind = "text"
    # For labels: the catalogue key is prefix + code.
    prefix: str = ""
    width: int = 16


class Filter(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    # A fixed SQL fragment; ``{}`` becomes the filter's $n parameter.
    sql: str


class ExportSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    # Catalogue key of the title (sheet name and localised file name).
    title: str
    columns: tuple[Column, ...]
    # The statement; ``{where}`` becomes the filters given, joined by AND.
    sql: str
    # Context values that are the statement's first parameters, in order: $1, $2 …
    context: tuple[Literal["today", "lang", "expiring_days"], ...] = ()
    filters: tuple[Filter, ...] = ()
    # A row hook for what a rule decides (never SQL guessing at a rule).
    prepare: Callable[[dict[str, Any], date], dict[str, Any]] | None = None


def build_query(
    spec: ExportSpec, context: Mapping[str, Any], filters: Mapping[str, Any]
) -> tuple[str, list[Any]]:
    """The statement and its parameters for these filters. Only the filters given become
    predicates (from the spec's fixed fragments, never from input), so each reaches the
    planner as a plain predicate its index serves, also in a cached generic plan."""
    params: list[Any] = [context[name] for name in spec.context]
    where = ["true"]
    for item in spec.filters:
        value = filters.get(item.name)
        if value is None or value == [] or value == "":
            continue
        params.append(value)
        where.append(item.sql.replace("{}", f"${len(params)}"))
    return spec.sql.replace("{where}", " AND ".join(where)), params


def stamp(moment: datetime) -> str:
    """A file name's "when": UTC, to the minute, sortable."""
    return moment.astimezone(UTC).strftime("%Y%m%d-%H%MZ")


def content_disposition(ascii_name: str, local_name: str) -> str:
    """An attachment header with an ASCII name for old clients and the localised one (RFC 6266)."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(local_name)}"


_UNSAFE_IN_NAMES = str.maketrans(dict.fromkeys('/\\:*?"<>|\r\n\t', "_"))


def file_names(spec_name: str, title: str, moment: datetime, extension: str) -> tuple[str, str]:
    """The ASCII and the localised file name, each saying what and when."""
    when = stamp(moment)
    return f"{spec_name}-{when}.{extension}", f"{title.translate(_UNSAFE_IN_NAMES)[:120]}-{when}.{extension}"


def _datetime_text(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S +08:00")


Cell = str | float | int | date | None


class Cells:
    """Turns row values into cell values for one language. ``converters`` gives each
    column its conversion once, so a row costs one call per cell: a label is looked up in
    the catalogue once per code, not once per row."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.t = translator(lang)
        self.joiner = "、" if lang == "zh-CN" else ", "

    def label(self, prefix: str, code: object) -> str:
        return self.t(f"{prefix}{code}")

    def value(self, column: Column, raw: object) -> Cell:
        kind = column.kind
        if raw is None:
            return None
        if kind == "label":
            return self.label(column.prefix, raw)
        if kind == "labels" and isinstance(raw, list | tuple):
            return self.joiner.join(self.label(column.prefix, code) for code in raw)
        if kind == "i18n" and isinstance(raw, Mapping):
            return neutralise(str(raw.get(self.lang) or raw.get("en") or ""))
        if kind == "json":
            return neutralise(msgspec.json.encode(raw).decode())
        if isinstance(raw, bool):
            return self.t("rpt_yes") if raw else self.t("rpt_no")
        if isinstance(raw, datetime):
            return _datetime_text(raw)
        if isinstance(raw, date):
            return raw
        if isinstance(raw, int | float):
            return raw
        if isinstance(raw, list | tuple):
            return neutralise(self.joiner.join(str(v) for v in raw))
        return neutralise(str(raw))

    def converter(self, column: Column) -> Callable[[Any], Cell]:
        """``value`` for this column, with the common cases first and labels memoised."""
        generic = functools.partial(self.value, column)
        if column.kind in ("label", "labels"):
            labels: dict[object, str] = {}

            def label(code: object) -> str:
                text = labels.get(code)
                if text is None:
                    text = labels[code] = self.label(column.prefix, code)
                return text

            if column.kind == "label":
                return label
            return lambda raw: self.joiner.join(map(label, raw)) if isinstance(raw, list) else generic(raw)
        if column.kind == "text":
            return lambda raw: neutralise(raw) if type(raw) is str else generic(raw)
        if column.kind == "number":
            return lambda raw: raw if type(raw) in (int, float) else generic(raw)
        if column.kind == "datetime":
            return lambda raw: _datetime_text(raw) if type(raw) is datetime else generic(raw)
        return generic

    def converters(self, columns: Sequence[Column]) -> list[tuple[str, Callable[[Any], Cell]]]:
        return [(c.key, self.converter(c)) for c in columns]

    def headers(self, columns: Sequence[Column]) -> list[str]:
        return [self.t(c.header) for c in columns]


def _cells(converters: Sequence[tuple[str, Callable[[Any], Cell]]], values: Mapping[str, Any]) -> list[Cell]:
    return [None if (raw := values[key]) is None else convert(raw) for key, convert in converters]


async def _rows(
    conn: asyncpg.Connection, spec: ExportSpec, query: tuple[str, list[Any]], today: date
) -> AsyncIterator[list[dict[str, Any]]]:
    """The export's rows in batches, read through a cursor in one snapshot.

    The records are used as they come (a hook gets each as a dict)."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = await conn.cursor(query[0], *query[1])
        # The next batch is asked for before this one is handed on, so the database reads
        # it while the caller converts and writes.
        fetching = asyncio.ensure_future(cursor.fetch(BATCH))
        try:
            while records := await fetching:
                fetching = asyncio.ensure_future(cursor.fetch(BATCH))
                if spec.prepare is None:
                    yield records
                else:
                    yield [spec.prepare(dict(r), today) for r in records]
        finally:
            # A caller that stops early (a client gone) leaves one fetch in flight; it
            # finishes before the transaction ends, as the connection allows one at a time.
            if not fetching.done():
                with contextlib.suppress(Exception):
                    await fetching


class Written(msgspec.Struct, kw_only=True):
    path: str
    rows: int


# Characters that make a text need more than copying into the XML: markup, control
# characters (Excel writes them as _xHHHH_, so a literal _xHHHH_ is escaped too), the two
# non-characters, or a length that may pass Excel's 32,767 UTF-16 units.
_XML_CARE: Final = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f]")
_EXCEL_ESCAPE: Final = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_MAX_TEXT: Final = 32767
# Excel's day 1 is 1900-01-01 and it counts a 29 February 1900 that never was.
_EXCEL_EPOCH: Final = date(1899, 12, 31)


def _xml_text(value: str) -> str:
    """A text as the content of an inline string: XlsxWriter's escaping, done here."""
    if len(value) > _MAX_TEXT // 2 and len(value.encode("utf-16-le")) > 2 * _MAX_TEXT:
        value = value.encode("utf-16-le")[: 2 * _MAX_TEXT].decode("utf-16-le", "ignore")
    if _XML_CARE.search(value) is None:
        return value
    value = _EXCEL_ESCAPE.sub(r"_x005F\1", value)
    value = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)
    value = value.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _string_cell(value: str) -> str:
    """What follows a string cell's reference: its type and text."""
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'" t="inlineStr"><is><t{space}>{_xml_text(value)}</t></is></c>'


class _Sheet:
    """One worksheet of an export: XlsxWriter makes the package (styles, the frozen header,
    column widths, the filter, the properties) and keeps the rows in a file of its own
    (``constant_memory``); the rows' XML is written into that file here.

    XlsxWriter's cell writers cost about 12 µs a cell (an A1 check, a cell tuple, dispatch
    on the cell's class name, three regular expressions on every string), 22 s of the
    100k-partner register's 23. Here each column's conversion is chosen once, a label's
    markup is made once per code, and a cell is one f-string: the markup XlsxWriter writes
    (inline strings with its escaping of control characters, numbers as %.16G, dates as
    serial days in the date format). It reaches into three private parts of XlsxWriter,
    each checked here so that a version without them fails the export tests, not a user's
    file: the worksheet's row file (``fh`` until the book closes), its used range
    (``dim_*``, the sheet's dimension) and a format's style index (``_get_xf_index``)."""

    def __init__(self, path: str, title: str, columns: Sequence[Column], cells: Cells) -> None:
        import xlsxwriter  # spreadsheets are rare: `serve` starts without it
        from xlsxwriter.utility import xl_col_to_name

        self.book = xlsxwriter.Workbook(
            path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
        )
        self.book.set_properties({"title": title, "author": "vendor-risk"})
        self.columns = columns
        # Sheet names are at most 31 characters and exclude []:*?/\.
        self.sheet = self.book.add_worksheet(title[:31])
        header = self.book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True})
        self.date_style = self.book.add_format({"num_format": "yyyy-mm-dd"})._get_xf_index()
        self.sheet.freeze_panes(1, 0)
        for index, column in enumerate(columns):
            self.sheet.set_column(index, index, column.width)
        self.out = self.sheet.fh
        if self.out is not self.sheet.row_data_fh or not hasattr(self.sheet, "dim_rowmax"):
            raise RuntimeError("this XlsxWriter keeps constant-memory rows differently")
        # Per column: where its value is, its conversion, its letter, and for labels the
        # markup of each code's cell once made.
        self.plan: list[tuple[str, Callable[[Any], Cell], str, dict[str, str] | None]] = [
            (key, convert, xl_col_to_name(index), {} if column.kind in ("label", "labels") else None)
            for index, ((key, convert), column) in enumerate(
                zip(cells.converters(columns), columns, strict=True)
            )
        ]
        style = header._get_xf_index()
        self.out.write(
            '<row r="1">'
            + "".join(
                f'<c r="{xl_col_to_name(index)}1" s="{style}{_string_cell(text)}'
                for index, text in enumerate(cells.headers(columns))
            )
            + "</row>"
        )
        self.sheet.dim_rowmin, self.sheet.dim_rowmax = 0, 0
        self.sheet.dim_colmin, self.sheet.dim_colmax = 0, len(columns) - 1
        self.next_row = 1

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        plan, date_style, row = self.plan, self.date_style, self.next_row
        out: list[str] = []
        append = out.append
        for values in rows:
            row += 1
            n = str(row)
            append(f'<row r="{n}">')
            for key, convert, letter, memo in plan:
                raw = values[key]
                if raw is None:
                    continue
                cell = convert(raw)
                if isinstance(cell, str):
                    if memo is None:
                        append(f'<c r="{letter}{n}{_string_cell(cell)}')
                    else:
                        tail = memo.get(cell)
                        if tail is None:
                            tail = memo[cell] = _string_cell(cell)
                        append(f'<c r="{letter}{n}{tail}')
                elif type(cell) is int or (isinstance(cell, float) and math.isfinite(cell)):
                    append(f'<c r="{letter}{n}"><v>{cell:.16G}</v></c>')
                elif isinstance(cell, date) and (serial := _excel_day(cell)) > 0:
                    append(f'<c r="{letter}{n}" s="{date_style}"><v>{serial}</v></c>')
                elif cell is not None:
                    append(f'<c r="{letter}{n}{_string_cell(str(cell))}')
            append("</row>")
        self.out.write("".join(out))
        self.next_row = row
        self.sheet.dim_rowmax = row - 1

    def close(self) -> None:
        if self.next_row > 1:
            self.sheet.autofilter(0, 0, self.next_row - 1, len(self.columns) - 1)
        self.book.close()


def _excel_day(day: date) -> int:
    """A date as Excel's serial day (0 or less before 1900, which Excel cannot show)."""
    serial = (day - _EXCEL_EPOCH).days
    return serial + 1 if serial > 59 else serial


async def write_xlsx(
    conn: asyncpg.Connection, spec: ExportSpec, query: tuple[str, list[Any]], lang: str, today: date
) -> Written:
    """Write the export to a temporary XLSX file; the caller streams and deletes it.

    XlsxWriter's work runs in a thread, batch by batch, so the event loop keeps serving
    while a large register is written; the next batch is read while one is written, so
    the database's work and the writer's overlap."""
    cells = Cells(lang)
    handle, path = tempfile.mkstemp(prefix="vr-export-", suffix=".xlsx")
    os.close(handle)
    try:
        sheet = await asyncio.to_thread(_Sheet, path, cells.t(spec.title), spec.columns, cells)
        count = 0
        writing: asyncio.Future[None] | None = None
        async for rows in _rows(conn, spec, query, today):
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(sheet.write, rows))
            count += len(rows)
        if writing is not None:
            await writing
        await asyncio.to_thread(sheet.close)
    except BaseException:
        os.unlink(path)
        raise
    return Written(path=path, rows=count)


async def stream_file(path: str) -> AsyncIterator[bytes]:
    """A written file in chunks, deleted once sent (or when the client goes away)."""
    try:
        with open(path, "rb") as handle:  # noqa: ASYNC230 - local temp file, chunked reads
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _csv_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


async def stream_csv(
    pool: asyncpg.Pool, spec: ExportSpec, query: tuple[str, list[Any]], lang: str, today: date
) -> AsyncIterator[bytes]:
    """The export as CSV (UTF-8 with BOM, CRLF lines), a batch at a time, on a connection of
    its own held only while the response streams."""
    cells = Cells(lang)
    converters = cells.converters(spec.columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(cells.headers(spec.columns))
    yield ("\ufeff" + buffer.getvalue()).encode()
    async with pool.acquire() as conn:
        async for rows in _rows(conn, spec, query, today):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(
                [c if type(c) is str else _csv_text(c) for c in _cells(converters, values)] for values in rows
            )
            yield buffer.getvalue().encode()


# --- the registers --------------------------------------------------------------------------------

LEGAL_ID_SQL = "coalesce(p.credit_code, p.registration_number)"

PARTNERS = ExportSpec(
    name="partner-register",
    title="rpt_export_partners",
    columns=(
        Column(key="name", header="rpt_col_partner", width=28),
        Column(key="legal_name", header="rpt_col_legal_name", width=36),
        Column(key="legal_id", header="rpt_col_legal_id", width=22),
        Column(key="country", header="rpt_col_country", width=8),
        Column(key="status", header="status", kind="label", prefix="pstatus_", width=10),
        Column(key="tier", header="tier", kind="label", prefix="tier_", width=8),
        Column(key="residual_rating", header="rating", kind="label", prefix="tier_", width=8),
        Column(key="business_criticality", header="criticality", kind="label", prefix="tier_", width=10),
        Column(key="last_assessment_score", header="score", kind="number", width=8),
        Column(key="open_findings", header="open_findings", kind="number", width=10),
        Column(key="owner", header="rpt_col_owner", width=14),
        Column(key="contact_name", header="rpt_col_contact", width=14),
        Column(key="contact_email", header="rpt_col_email", width=28),
        Column(key="contact_phone", header="rpt_col_phone", width=16),
        Column(key="services", header="rpt_col_services", width=24),
        Column(key="website", header="rpt_col_website", width=24),
        Column(key="reassessment_due_at", header="reassessment_due", kind="datetime", width=22),
        Column(key="created_at", header="rpt_col_created_at", kind="datetime", width=22),
    ),
    sql=f"""
        SELECT p.name, p.legal_name, {LEGAL_ID_SQL} AS legal_id, p.country, p.status, p.tier,
               p.residual_rating, p.business_criticality, p.website, p.services,
               p.reassessment_due_at, p.created_at, u.name AS owner,
               c.name AS contact_name, c.email AS contact_email, c.phone AS contact_phone,
               (SELECT a.score FROM assessments a
                WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind <> 'offboarding'
                ORDER BY a.reviewed_at DESC LIMIT 1) AS last_assessment_score,
               (SELECT count(*)::int FROM findings f
                WHERE f.partner_id = p.id
                  AND f.status IN ('open', 'remediating', 'verifying')) AS open_findings
        FROM partners p
        LEFT JOIN users u ON u.id = p.owner_id
        LEFT JOIN LATERAL (
            SELECT c.name, c.email, c.phone FROM partner_contacts c WHERE c.partner_id = p.id
            ORDER BY c.is_primary DESC, c.position, c.created_at LIMIT 1) c ON true
        WHERE {{where}}
        ORDER BY p.created_at DESC, p.id DESC
    """,
    filters=(
        Filter(name="status", sql="p.status = ANY({}::text[])"),
        Filter(name="tier", sql="p.tier = ANY({}::text[])"),
        Filter(name="rating", sql="coalesce(p.residual_rating, 'unrated') = ANY({}::text[])"),
    ),
)


def _agreement_row(row: dict[str, Any], today: date) -> dict[str, Any]:
    row["status"] = agreement_status(
        effective_from=row["effective_from"],
        expires_on=row["expires_on"],
        terminated=row["terminated_at"] is not None,
        today=today,
        expiring_within_days=row.pop("expiring_days"),
    )
    return row


AGREEMENTS = ExportSpec(
    name="agreements-register",
    title="rpt_export_agreements",
    columns=(
        Column(key="partner", header="rpt_col_partner", width=28),
        Column(key="legal_id", header="rpt_col_legal_id", width=22),
        Column(key="kind", header="kind", kind="label", prefix="rpt_agkind_", width=16),
        Column(key="title", header="rpt_col_title", width=30),
        Column(key="reference", header="rpt_col_reference", width=16),
        Column(key="status", header="status", kind="label", prefix="agstatus_", width=10),
        Column(key="signed_on", header="rpt_col_signed_on", kind="date", width=12),
        Column(key="effective_from", header="rpt_col_effective_from", kind="date", width=12),
        Column(key="expires_on", header="rpt_col_expires_on", kind="date", width=12),
        Column(key="categories", header="rpt_col_categories", width=30),
        Column(key="signatories", header="rpt_col_signatories", width=24),
        Column(key="sha256", header="rpt_col_document_sha256", width=20),
    ),
    sql=f"""
        SELECT p.name AS partner, {LEGAL_ID_SQL} AS legal_id, a.kind, a.title, a.reference,
               a.signed_on, a.effective_from, a.expires_on, a.terminated_at, $1::int AS expiring_days,
               (SELECT array_agg(CASE WHEN $2 = 'zh-CN' THEN c.name_zh ELSE c.name_en END ORDER BY c.code)
                FROM agreement_categories ac JOIN data_categories c ON c.id = ac.category_id
                WHERE ac.agreement_id = a.id) AS categories,
               (SELECT array_agg(s ->> 'name') FROM jsonb_array_elements(a.signatories) s) AS signatories,
               d.sha256
        FROM agreements a
        JOIN partners p ON p.id = a.partner_id
        LEFT JOIN documents d ON d.id = a.document_id
        WHERE {{where}}
        ORDER BY p.name, a.kind, a.effective_from DESC, a.id
    """,
    context=("expiring_days", "lang"),
    filters=(Filter(name="kind", sql="a.kind = ANY({}::text[])"),),
    prepare=_agreement_row,
)

FINDINGS = ExportSpec(
    name="findings-tracker",
    title="rpt_export_findings",
    columns=(
        Column(key="partner", header="rpt_col_partner", width=28),
        Column(key="severity", header="severity", kind="label", prefix="severity_", width=8),
        Column(key="title", header="rpt_col_title", kind="i18n", width=36),
        Column(key="status", header="status", kind="label", prefix="fstatus_", width=10),
        Column(key="source", header="rpt_col_source", kind="label", prefix="rpt_source_", width=10),
        Column(key="question", header="question", width=22),
        Column(key="owner", header="rpt_col_owner", width=14),
        Column(key="due_on", header="rpt_col_due", kind="date", width=12),
        Column(key="overdue", header="overdue", kind="bool", width=8),
        Column(key="accepted_until", header="rpt_col_accepted_until", kind="date", width=12),
        Column(key="remediation_plan", header="rpt_col_remediation_plan", width=30),
        Column(key="partner_plan", header="partner_plan", width=30),
        Column(key="created_at", header="rpt_col_created_at", kind="datetime", width=22),
        Column(key="resolved_at", header="rpt_col_resolved_at", kind="datetime", width=22),
    ),
    sql="""
        SELECT p.name AS partner, f.severity, f.title, f.status, f.source,
               CASE WHEN f.question_id IS NULL THEN NULL
                    ELSE f.template_key || ' / ' || f.question_id END AS question,
               u.name AS owner, f.due_on,
               coalesce(f.status IN ('open', 'remediating') AND f.due_on < $1::date, false) AS overdue,
               (SELECT r.until FROM risk_acceptances r
                WHERE r.finding_id = f.id AND r.stale_at IS NULL AND r.until >= $1::date
                ORDER BY r.accepted_at DESC LIMIT 1) AS accepted_until,
               f.remediation_plan, f.partner_plan, f.created_at, f.resolved_at
        FROM findings f
        JOIN partners p ON p.id = f.partner_id
        LEFT JOIN users u ON u.id = f.owner_id
        WHERE {where}
        ORDER BY f.created_at DESC, f.id DESC
    """,
    context=("today",),
    filters=(
        Filter(name="status", sql="f.status = ANY({}::text[])"),
        Filter(name="severity", sql="f.severity = ANY({}::text[])"),
    ),
)

PROCESSING_REGISTER = ExportSpec(
    name="entrusted-processing-register",
    title="rpt_export_register",
    columns=(
        Column(key="partner", header="rpt_col_partner", width=28),
        Column(key="legal_id", header="rpt_col_legal_id", width=22),
        Column(key="category", header="rpt_col_category", width=20),
        Column(
            key="sensitivity", header="rpt_col_sensitivity", kind="label", prefix="sensitivity_", width=12
        ),
        Column(key="purpose", header="rpt_col_purpose", width=30),
        Column(
            key="processing_methods", header="rpt_col_processing", kind="labels", prefix="rpt_pm_", width=22
        ),
        Column(key="transfer_method", header="rpt_col_transfer", kind="label", prefix="rpt_tm_", width=14),
        Column(key="starts_on", header="rpt_col_starts_on", kind="date", width=12),
        Column(key="ends_on", header="rpt_col_ends_on", kind="date", width=12),
        Column(key="retention_days", header="rpt_col_retention_days", kind="number", width=10),
        Column(key="cross_border", header="cross_border", kind="bool", width=8),
        Column(key="sub_processing_allowed", header="sub_processing", kind="bool", width=8),
        Column(key="sub_processors", header="rpt_col_sub_processors", width=24),
        Column(key="dpa", header="rpt_col_dpa", width=26),
        Column(key="dpa_expires_on", header="rpt_col_dpa_expires_on", kind="date", width=12),
        Column(key="impact_assessed_on", header="rpt_col_impact_assessed_on", kind="date", width=12),
        Column(key="status", header="status", kind="label", prefix="sstatus_", width=10),
    ),
    # What is or may be entrusted: scopes neither revoked nor expired.
    sql=f"""
        SELECT p.name AS partner, {LEGAL_ID_SQL} AS legal_id,
               CASE WHEN $1 = 'zh-CN' THEN c.name_zh ELSE c.name_en END AS category, c.sensitivity,
               s.purpose, s.processing_methods, s.transfer_method, s.starts_on, s.ends_on,
               s.retention_days, s.cross_border, s.sub_processing_allowed, s.status,
               (SELECT array_agg(sp.name || ' (' || sp.country || ')' ORDER BY sp.name)
                FROM scope_sub_processors ssp JOIN sub_processors sp ON sp.id = ssp.sub_processor_id
                WHERE ssp.scope_id = s.id) AS sub_processors,
               dpa.title AS dpa, dpa.expires_on AS dpa_expires_on,
               (SELECT max(ia.assessed_on) FROM impact_assessment_scopes ias
                JOIN impact_assessments ia ON ia.id = ias.impact_assessment_id
                WHERE ias.scope_id = s.id) AS impact_assessed_on
        FROM scopes s
        JOIN partners p ON p.id = s.partner_id
        JOIN data_categories c ON c.id = s.category_id
        LEFT JOIN LATERAL (
            SELECT a.title, a.expires_on FROM agreements a
            JOIN agreement_categories ac ON ac.agreement_id = a.id AND ac.category_id = s.category_id
            WHERE a.partner_id = s.partner_id AND a.kind = 'dpa' AND a.terminated_at IS NULL
            ORDER BY a.expires_on DESC NULLS FIRST, a.effective_from DESC LIMIT 1) dpa ON true
        WHERE s.status IN ('requested', 'approved', 'suspended') AND {{where}}
        ORDER BY p.name, p.id, c.code, s.created_at
    """,
    context=("lang",),
)

AUDIT = ExportSpec(
    name="audit-extract",
    title="rpt_export_audit",
    columns=(
        Column(key="seq", header="rpt_col_seq", kind="number", width=8),
        Column(key="occurred_at", header="rpt_col_occurred_at", kind="datetime", width=24),
        Column(key="actor_label", header="rpt_col_actor", width=24),
        Column(key="action", header="rpt_col_action", width=24),
        Column(key="entity_type", header="rpt_col_entity_type", width=12),
        Column(key="entity_id", header="rpt_col_entity_id", width=38),
        Column(key="before", header="before", kind="json", width=40),
        Column(key="after", header="after", kind="json", width=40),
        Column(key="hash", header="rpt_col_hash", width=20),
    ),
    sql="""
        SELECT seq, occurred_at, actor_label, action, entity_type, entity_id, before, after, hash
        FROM audit_events WHERE {where} ORDER BY seq
    """,
    filters=(
        Filter(name="from", sql="occurred_at >= {}::timestamptz"),
        Filter(name="to", sql="occurred_at < {}::timestamptz"),
        Filter(name="entity_type", sql="entity_type = {}"),
        Filter(name="entity_id", sql="entity_id = {}"),
    ),
)

SPECS: Final = {s.name: s for s in (PARTNERS, AGREEMENTS, FINDINGS, PROCESSING_REGISTER, AUDIT)}
