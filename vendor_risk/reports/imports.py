"""Bulk import of partners with their primary contact and an agreement's metadata, from the
firm's existing spreadsheet (XLSX) or CSV.

The file is checked before it is parsed: its size, and for XLSX the zip's entries (count,
total uncompressed size, compression ratio) so a decompression bomb is refused without
being inflated. The header row must be the template's, in either language. Every row is
validated in full and every problem is reported with its row, column and a message in the
user's language; a dry run stops there. The import writes all rows in one transaction
with set-based statements (a 10,000-row file is a handful of statements), is idempotent on
the legal id (a partner already registered with that credit code, or country and
registration number, is updated; a contact or agreement already there is not added
twice) and is audited as one event listing what it created and updated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem
from vendor_risk.i18n import LANGUAGES, translator
from vendor_risk.partners.rules import compute_tier, credit_code_problem, normalize_credit_code

MAX_IMPORT_BYTES: Final = 20 * 2**20
MAX_ROWS: Final = 20_000
# An XLSX is a zip: refuse one that would inflate past this, or whose parts compress
# better than any spreadsheet does, before reading a byte of XML.
MAX_UNZIPPED_BYTES: Final = 200 * 2**20
MAX_RATIO: Final = 200
MAX_ENTRIES: Final = 1000
EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEBSITE: Final = re.compile(r"^https?://[^\s/]+\S*$")
COUNTRY: Final = re.compile(r"^[A-Z]{2}$")
LEVELS: Final = ("low", "medium", "high", "critical")
KINDS: Final = ("nda", "dpa", "msa", "sla")
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportColumn(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    header: str
    required: bool = False
    # Choices: codes whose labels (prefix + code) are accepted too, in either language.
    choices: tuple[str, ...] = ()
    prefix: str = ""
    width: int = 18


COLUMNS: Final = (
    ImportColumn(key="name", header="rpt_col_partner", required=True, width=24),
    ImportColumn(key="legal_name", header="rpt_col_legal_name", required=True, width=32),
    ImportColumn(key="credit_code", header="rpt_imp_credit_code", width=22),
    ImportColumn(key="registration_number", header="rpt_imp_registration_number", width=20),
    ImportColumn(key="country", header="rpt_col_country", width=10),
    ImportColumn(key="website", header="rpt_col_website", width=24),
    ImportColumn(key="services", header="rpt_col_services", width=24),
    ImportColumn(
        key="business_criticality",
        header="criticality",
        required=True,
        choices=LEVELS,
        prefix="tier_",
        width=12,
    ),
    ImportColumn(key="contact_name", header="rpt_col_contact", required=True, width=14),
    ImportColumn(key="contact_email", header="rpt_col_email", required=True, width=26),
    ImportColumn(key="contact_phone", header="rpt_col_phone", width=16),
    ImportColumn(key="contact_role", header="rpt_role", width=14),
    ImportColumn(key="agreement_kind", header="rpt_imp_agreement_kind", choices=KINDS, prefix="rpt_agkind_"),
    ImportColumn(key="agreement_title", header="rpt_imp_agreement_title", width=24),
    ImportColumn(key="agreement_signed_on", header="rpt_col_signed_on", width=12),
    ImportColumn(key="agreement_effective_from", header="rpt_col_effective_from", width=12),
    ImportColumn(key="agreement_expires_on", header="rpt_col_expires_on", width=12),
)
AGREEMENT_KEYS: Final = ("agreement_kind", "agreement_title", "agreement_signed_on")


class RowError(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    column: str
    message: str


class PlannedRow(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    action: Literal["create", "update"]
    name: str
    legal_id: str
    partner_id: UUID | None = None


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import did, or (dry run) would do: every row error, and each row's action."""

    dry_run: bool
    rows: int
    errors: list[RowError]
    created: int
    updated: int
    items: list[PlannedRow]
    sha256: str


class Parsed(msgspec.Struct, kw_only=True):
    row: int
    values: dict[str, Any]


# --- the template ----------------------------------------------------------------------------------


def template_xlsx(lang: str) -> bytes:
    """The partner import template: the header row, one example row, drop-down lists for
    the choices, and a sheet explaining each column."""
    t = translator(lang)
    example = {
        "name": "云账房" if lang == "zh-CN" else "Cloud Ledger",
        "legal_name": "北京云账房网络科技有限公司",
        "credit_code": "91110108MA01C2XJ5R",
        "country": "CN",
        "website": "https://www.example.com",
        "services": "云记账, 报税" if lang == "zh-CN" else "cloud accounting, tax filing",
        "business_criticality": t("tier_high"),
        "contact_name": "李雷",
        "contact_email": "li.lei@example.com",
        "agreement_kind": t("rpt_agkind_nda"),
        "agreement_title": "保密协议" if lang == "zh-CN" else "NDA",
        "agreement_signed_on": "2025-01-10",
    }
    return sheet_template(lang, COLUMNS, example, "rpt_imp_help_")


def sheet_template(
    lang: str, columns: Sequence[ImportColumn], example: Mapping[str, str], help_prefix: str
) -> bytes:
    """An import template for ``columns``: the header row (required columns marked), one
    example row, drop-down lists for the choices, and a sheet explaining each column (the
    catalogue's ``help_prefix + key``). Every cell is written as a string: a value that
    looks like a formula stays text."""
    t = translator(lang)
    import xlsxwriter  # spreadsheets are rare: `serve` starts without it

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet(t("rpt_imp_sheet"))
    bold = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE8D5", "border": 1})
    sheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, column.width)
        sheet.write_string(0, index, t(column.header), required if column.required else bold)
        if column.choices:
            sheet.data_validation(
                1,
                index,
                MAX_ROWS,
                index,
                {"validate": "list", "source": [t(column.prefix + c) for c in column.choices]},
            )
    for index, column in enumerate(columns):
        if column.key in example:
            sheet.write_string(1, index, example[column.key])
    notes = book.add_worksheet(t("rpt_imp_notes_sheet"))
    notes.set_column(0, 0, 28)
    notes.set_column(1, 1, 90)
    for index, column in enumerate(columns):
        notes.write_string(index, 0, t(column.header), required if column.required else bold)
        notes.write_string(index, 1, t(help_prefix + column.key))
    book.close()
    return buffer.getvalue()


def template_csv(lang: str, columns: Sequence[ImportColumn] = COLUMNS) -> bytes:
    t = translator(lang)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([t(c.header) for c in columns])
    return ("\ufeff" + out.getvalue()).encode()


# --- reading ------------------------------------------------------------------------------------------


def _refuse(t: Any, slug: str, key: str, status: int = 400, **values: object) -> Problem:
    return Problem(status, slug, t(key, **values), errors=[{"field": "file", "message": t(key, **values)}])


def _check_zip(content: bytes, t: Any) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise _refuse(t, "import-unreadable", "rpt_imp_unreadable") from None
    with archive:
        entries = archive.infolist()
        total = sum(e.file_size for e in entries)
        ratios = [e.file_size / max(1, e.compress_size) for e in entries if e.file_size > 2**20]
        if len(entries) > MAX_ENTRIES or total > MAX_UNZIPPED_BYTES or any(r > MAX_RATIO for r in ratios):
            raise _refuse(t, "import-bomb", "rpt_imp_bomb")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_xlsx(content: bytes) -> Iterator[list[str]]:
    import openpyxl  # spreadsheets are rare: `serve` starts without it

    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in row]
    finally:
        book.close()


def _rows_csv(content: bytes) -> Iterator[list[str]]:
    # Excel in China saves CSV as GB18030 unless told UTF-8; accept both.
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("gb18030")
    for row in csv.reader(io.StringIO(text, newline="")):
        yield [v.strip() for v in row]


def read_rows(
    content: bytes,
    filename: str,
    lang: str,
    columns: Sequence[ImportColumn] = COLUMNS,
    wrong_template: str = "rpt_imp_wrong_template",
) -> tuple[list[Parsed], str]:
    """The data rows keyed by ``columns``, and the file's SHA-256; a wrong or hostile file
    is a problem naming why, before anything is written."""
    t = translator(lang)
    if len(content) > MAX_IMPORT_BYTES:
        raise _refuse(t, "import-too-large", "rpt_imp_too_large", 413, mb=MAX_IMPORT_BYTES // 2**20)
    if not content.strip():
        raise _refuse(t, "import-empty", "rpt_imp_empty")
    is_xlsx = content[:4] == b"PK\x03\x04"
    if is_xlsx:
        _check_zip(content, t)
    elif filename.lower().endswith((".xlsx", ".xls")):
        raise _refuse(t, "import-unreadable", "rpt_imp_unreadable")
    try:
        rows = _rows_xlsx(content) if is_xlsx else _rows_csv(content)
        header = next(rows, [])
        known = {}
        for column in columns:
            for name in [column.key] + [translator(lg)(column.header) for lg in LANGUAGES]:
                known[name.strip().lower()] = column.key
        positions = {known[h.strip().lower()]: i for i, h in enumerate(header) if h.strip().lower() in known}
        missing = [c for c in columns if c.required and c.key not in positions]
        if missing:
            names = ("、" if lang == "zh-CN" else ", ").join(t(c.header) for c in missing)
            raise _refuse(t, "import-wrong-template", wrong_template, columns=names)
        parsed: list[Parsed] = []
        for number, row in enumerate(rows, start=2):
            if not any(row):
                continue
            if len(parsed) >= MAX_ROWS:
                raise _refuse(t, "import-too-many-rows", "rpt_imp_too_many_rows", rows=MAX_ROWS)
            values = {key: row[i] if i < len(row) else "" for key, i in positions.items()}
            parsed.append(Parsed(row=number, values=values))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        # Not a spreadsheet openpyxl can read, or not text: say so, never a 500.
        raise _refuse(t, "import-unreadable", "rpt_imp_unreadable") from None
    return parsed, hashlib.sha256(content).hexdigest()


# --- validation ------------------------------------------------------------------------------------------


def choice(column: ImportColumn, raw: str) -> str | None:
    """The code ``raw`` names (the code itself or its label in either language), or None."""
    lowered = raw.strip().lower()
    for code in column.choices:
        names = {code} | {translator(lg)(column.prefix + code).lower() for lg in LANGUAGES}
        if lowered in names:
            return code
    return None


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()[:10].replace("/", "-"))
    except ValueError:
        return None


def validate(parsed: Sequence[Parsed], lang: str) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Each row as the fields to write, and every problem (row, column header, message)."""
    t = translator(lang)
    header = {c.key: t(c.header) for c in COLUMNS}
    by_key = {c.key: c for c in COLUMNS}
    errors: list[RowError] = []
    clean: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for item in parsed:
        v = item.values
        problems: list[tuple[str, str]] = []

        def text(
            key: str, limit: int = 200, v: dict[str, Any] = v, problems: list[tuple[str, str]] = problems
        ) -> str | None:
            value = (v.get(key) or "").strip()
            if len(value) > limit:
                problems.append((key, t("rpt_imp_too_long", max=limit)))
            return value or None

        for column in COLUMNS:
            if column.required and not (v.get(column.key) or "").strip():
                problems.append((column.key, t("rpt_imp_required")))
        name, legal_name = text("name"), text("legal_name", 300)
        country = (text("country") or "CN").upper()
        if not COUNTRY.fullmatch(country):
            problems.append(("country", t("rpt_imp_bad_country")))
        credit = normalize_credit_code(v.get("credit_code") or "") or None
        registration = text("registration_number", 100)
        if credit is not None and credit_code_problem(credit):
            problems.append(("credit_code", t("rpt_imp_bad_credit_code")))
        if country == "CN" and credit is None:
            problems.append(("credit_code", t("rpt_imp_credit_code_required")))
        if country != "CN" and credit is None and not registration:
            problems.append(("registration_number", t("rpt_imp_registration_required")))
        website = text("website", 500)
        if website and not WEBSITE.fullmatch(website):
            problems.append(("website", t("rpt_imp_bad_website")))
        criticality = None
        if (v.get("business_criticality") or "").strip():
            criticality = choice(by_key["business_criticality"], v["business_criticality"])
            if criticality is None:
                problems.append(("business_criticality", t("rpt_imp_bad_choice")))
        email = (text("contact_email", 254) or "").lower()
        if email and not EMAIL.fullmatch(email):
            problems.append(("contact_email", t("rpt_imp_bad_email")))
        agreement: dict[str, Any] | None = None
        if any(
            (v.get(k) or "").strip()
            for k in (*AGREEMENT_KEYS, "agreement_effective_from", "agreement_expires_on")
        ):
            kind = choice(by_key["agreement_kind"], v.get("agreement_kind") or "")
            if kind is None:
                problems.append(("agreement_kind", t("rpt_imp_bad_choice")))
            title = text("agreement_title")
            if not title:
                problems.append(("agreement_title", t("rpt_imp_required")))
            dates: dict[str, date | None] = {}
            for key in ("agreement_signed_on", "agreement_effective_from", "agreement_expires_on"):
                raw = (v.get(key) or "").strip()
                dates[key] = _date(raw) if raw else None
                if raw and dates[key] is None:
                    problems.append((key, t("rpt_imp_bad_date")))
            if not (v.get("agreement_signed_on") or "").strip():
                problems.append(("agreement_signed_on", t("rpt_imp_required")))
            signed = dates["agreement_signed_on"]
            effective = dates["agreement_effective_from"] or signed
            expires = dates["agreement_expires_on"]
            if effective and expires and expires < effective:
                problems.append(("agreement_expires_on", t("rpt_imp_expires_before")))
            agreement = {
                "kind": kind,
                "title": title,
                "signed_on": signed,
                "effective_from": effective,
                "expires_on": expires,
            }
        legal_key = credit or f"{country}:{(registration or '').lower()}"
        if legal_key in seen and not any(p[0] in ("credit_code", "registration_number") for p in problems):
            problems.append(
                (
                    "credit_code" if credit else "registration_number",
                    t("rpt_imp_duplicate_row", row=seen[legal_key]),
                )
            )
        seen.setdefault(legal_key, item.row)
        if problems:
            errors.extend(RowError(row=item.row, column=header[key], message=msg) for key, msg in problems)
            continue
        services = [s.strip() for s in re.split(r"[,，、;；]", v.get("services") or "") if s.strip()][:50]
        clean.append(
            {
                "row": item.row,
                "name": name,
                "legal_name": legal_name,
                "credit_code": credit,
                "registration_number": registration,
                "country": country,
                "website": website,
                "domain": website.split("/")[2].split(":")[0].lower() if website else None,
                "services": services,
                "business_criticality": criticality,
                "contact": {
                    "name": text("contact_name"),
                    "email": email,
                    "phone": text("contact_phone", 50),
                    "role": text("contact_role"),
                    "locale": lang,
                },
                "agreement": agreement,
            }
        )
    return clean, errors


# --- planning and writing -----------------------------------------------------------------------------------


async def _existing(conn: asyncpg.Connection, rows: Sequence[Mapping[str, Any]]) -> dict[int, UUID]:
    """Which rows name a partner already registered (and not offboarded): row -> id."""
    # Two joins, each through its unique index (an OR of both would scan every partner
    # for every row).
    found = await conn.fetch(
        """
        SELECT u.row, p.id FROM unnest($1::int[], $2::text[]) AS u(row, credit_code)
        JOIN partners p ON p.credit_code = u.credit_code AND p.status <> 'offboarded'
        WHERE u.credit_code IS NOT NULL
        UNION ALL
        SELECT u.row, p.id FROM unnest($1::int[], $2::text[], $3::text[], $4::text[])
            AS u(row, credit_code, country, registration_number)
        JOIN partners p ON p.country = u.country
            AND lower(p.registration_number) = lower(u.registration_number)
            AND p.registration_number IS NOT NULL AND p.status <> 'offboarded'
        WHERE u.credit_code IS NULL AND u.registration_number IS NOT NULL
        """,
        [r["row"] for r in rows],
        [r["credit_code"] for r in rows],
        [r["country"] for r in rows],
        [r["registration_number"] for r in rows],
    )
    return {r["row"]: r["id"] for r in found}


def _legal_id(row: Mapping[str, Any]) -> str:
    return str(row["credit_code"] or f"{row['country']}:{row['registration_number']}")


async def run_import(
    conn: asyncpg.Connection,
    actor: Actor,
    content: bytes,
    filename: str,
    lang: str,
    *,
    dry_run: bool,
) -> ImportReport:
    """Check a file and, unless ``dry_run`` or any row has an error, import it in one
    transaction. Nothing is written when anything is wrong."""
    parsed, sha256 = read_rows(content, filename, lang)
    clean, errors = validate(parsed, lang)
    existing = await _existing(conn, clean)
    items = [
        PlannedRow(
            row=r["row"],
            action="update" if r["row"] in existing else "create",
            name=r["name"],
            legal_id=_legal_id(r),
            partner_id=existing.get(r["row"]),
        )
        for r in clean
    ]
    report = ImportReport(
        dry_run=dry_run,
        rows=len(parsed),
        errors=errors,
        created=sum(1 for i in items if i.action == "create"),
        updated=sum(1 for i in items if i.action == "update"),
        items=items,
        sha256=sha256,
    )
    if dry_run or errors:
        return report
    async with conn.transaction():
        # Serialise imports: two at once could both find a legal id new and both insert it.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vendor_risk:partner-import'))")
        existing = await _existing(conn, clean)
        created_rows = [r for r in clean if r["row"] not in existing]
        updated_rows = [r for r in clean if r["row"] in existing]
        ids = dict(existing)
        if created_rows:
            tiers = [compute_tier(r["business_criticality"], []) for r in created_rows]
            new_ids = await conn.fetch(
                """
                INSERT INTO partners (name, legal_name, credit_code, registration_number, country,
                                      website, domain, services, business_criticality, tier,
                                      tier_points, tier_factors, created_by)
                SELECT u.name, u.legal_name, u.credit_code, u.registration_number, u.country,
                       u.website, u.domain,
                       ARRAY(SELECT jsonb_array_elements_text($8::jsonb -> (u.n::int - 1))),
                       u.criticality, u.tier, u.points, $12::jsonb -> (u.n::int - 1), $13
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::text[], $9::text[], $10::text[], $11::int[])
                    WITH ORDINALITY AS u(name, legal_name, credit_code, registration_number, country,
                                         website, domain, criticality, tier, points, n)
                RETURNING id, credit_code, country, registration_number
                """,
                [r["name"] for r in created_rows],
                [r["legal_name"] for r in created_rows],
                [r["credit_code"] for r in created_rows],
                [r["registration_number"] for r in created_rows],
                [r["country"] for r in created_rows],
                [r["website"] for r in created_rows],
                [r["domain"] for r in created_rows],
                [r["services"] for r in created_rows],
                [r["business_criticality"] for r in created_rows],
                [tier.tier for tier in tiers],
                [tier.points for tier in tiers],
                # Lists per row go as one JSON array each: asyncpg would read nested lists
                # as a two-dimensional SQL array.
                [msgspec.to_builtins(tier.factors) for tier in tiers],
                actor.id,
            )
            # Legal ids are unique within the file (validated), so they map rows back to ids.
            by_legal_id = {_legal_id(dict(record)): record["id"] for record in new_ids}
            for row in created_rows:
                ids[row["row"]] = by_legal_id[_legal_id(row)]
        if updated_rows:
            # The sheet's identity fields win; criticality changes go through the tier rule.
            # A partner the sheet changes nothing of is left alone: no new version to make
            # someone's open form stale, no row and index entries rewritten.
            await conn.execute(
                """
                UPDATE partners p
                SET name = u.name, legal_name = u.legal_name, website = u.website, domain = u.domain,
                    services = u.services, updated_at = now(), version = p.version + 1
                FROM (
                    SELECT u.id, u.name, u.legal_name, coalesce(u.website, q.website) AS website,
                           coalesce(u.domain, q.domain) AS domain,
                           CASE WHEN jsonb_array_length($6::jsonb -> (u.n::int - 1)) = 0 THEN q.services
                                ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb -> (u.n::int - 1)))
                           END AS services
                    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
                        WITH ORDINALITY AS u(id, name, legal_name, website, domain, n)
                    JOIN partners q ON q.id = u.id
                ) u
                WHERE p.id = u.id
                  AND (p.name, p.legal_name, p.website, p.domain, p.services)
                      IS DISTINCT FROM (u.name, u.legal_name, u.website, u.domain, u.services)
                """,
                [ids[r["row"]] for r in updated_rows],
                [r["name"] for r in updated_rows],
                [r["legal_name"] for r in updated_rows],
                [r["website"] for r in updated_rows],
                [r["domain"] for r in updated_rows],
                [r["services"] for r in updated_rows],
            )
        # Contacts: added when the partner has none with that email; the first contact of a
        # partner is its primary one.
        await conn.execute(
            """
            INSERT INTO partner_contacts (partner_id, name, email, phone, role, is_primary, locale, position)
            SELECT u.partner_id, u.name, u.email, u.phone, u.role,
                   NOT EXISTS (SELECT 1 FROM partner_contacts c WHERE c.partner_id = u.partner_id),
                   u.locale,
                   coalesce((SELECT max(c.position) + 1 FROM partner_contacts c
                             WHERE c.partner_id = u.partner_id), 0)
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                AS u(partner_id, name, email, phone, role, locale)
            WHERE NOT EXISTS (SELECT 1 FROM partner_contacts c
                              WHERE c.partner_id = u.partner_id AND lower(c.email) = u.email)
            """,
            [ids[r["row"]] for r in clean],
            [r["contact"]["name"] for r in clean],
            [r["contact"]["email"] for r in clean],
            [r["contact"]["phone"] for r in clean],
            [r["contact"]["role"] for r in clean],
            [r["contact"]["locale"] for r in clean],
        )
        with_agreement = [r for r in clean if r["agreement"]]
        if with_agreement:
            await conn.execute(
                """
                INSERT INTO agreements (partner_id, kind, title, signed_on, effective_from, expires_on,
                                        notes, created_by)
                SELECT u.partner_id, u.kind, u.title, u.signed_on, u.effective_from, u.expires_on, $7, $8
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::date[], $5::date[], $6::date[])
                    AS u(partner_id, kind, title, signed_on, effective_from, expires_on)
                WHERE NOT EXISTS (SELECT 1 FROM agreements a
                                  WHERE a.partner_id = u.partner_id AND a.kind = u.kind
                                    AND a.title = u.title AND a.signed_on = u.signed_on)
                """,
                [ids[r["row"]] for r in with_agreement],
                [r["agreement"]["kind"] for r in with_agreement],
                [r["agreement"]["title"] for r in with_agreement],
                [r["agreement"]["signed_on"] for r in with_agreement],
                [r["agreement"]["effective_from"] for r in with_agreement],
                [r["agreement"]["expires_on"] for r in with_agreement],
                f"imported from {filename[:100]} ({sha256[:12]})",
                actor.id,
            )
        report.items = [
            msgspec.structs.replace(
                i, partner_id=ids[i.row], action="update" if i.row in existing else "create"
            )
            for i in items
        ]
        report.created, report.updated = len(created_rows), len(updated_rows)
        await audit.record(
            conn,
            actor=actor,
            action="partners.imported",
            entity_type="partner",
            entity_id="*",
            after={
                "file": filename,
                "sha256": sha256,
                "created": [ids[r["row"]] for r in created_rows],
                "updated": [ids[r["row"]] for r in updated_rows],
            },
        )
    return report
