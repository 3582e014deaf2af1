"""Bulk import of the client register from XLSX or CSV, on the partner import's machinery
(``vendor_risk.reports.imports``: size and zip-bomb checks, the header in either language,
string-only templates, row errors in the user's language).

Idempotent on a natural key: the client's unified social credit code or ID number when
the row gives one, else its name and contact email (case-insensitive; also for a row whose
id number no client has yet, so a client entered by hand gets its number). A row matching a
client is an update (left alone when nothing changed), any other a new client. A dry run
lists every row error and what would be created or updated; the import writes all rows in
one transaction with set-based statements, or nothing when any row is wrong, and is
audited as one event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final
from uuid import uuid4

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.clients import identity
from vendor_risk.clients.models import ClientCreate
from vendor_risk.i18n import translator
from vendor_risk.reports.imports import (
    EMAIL,
    ImportColumn,
    ImportReport,
    Parsed,
    PlannedRow,
    RowError,
    choice,
    read_rows,
    sheet_template,
    template_csv,
)

COLUMNS: Final = (
    ImportColumn(key="name", header="rm_client_name", required=True, width=24),
    ImportColumn(
        key="kind",
        header="rm_client_kind",
        required=True,
        choices=("person", "company"),
        prefix="rm_client_kind_",
    ),
    ImportColumn(key="id_number", header="cl_imp_id_number", width=22),
    ImportColumn(key="contact_name", header="rm_client_contact_name", width=14),
    ImportColumn(key="contact_email", header="rm_client_contact_email", width=26),
    ImportColumn(key="contact_phone", header="rm_client_contact_phone", width=16),
    ImportColumn(key="scopes", header="cl_imp_scopes", width=40),
)
ID_NUMBER: Final = re.compile(r"^[0-9A-Z-]{4,50}$")
# The scopes column: "partner · data category" items, separated by semicolons or new lines.
SCOPE_ITEMS: Final = re.compile(r"[;；\n]")
SCOPE_PAIR: Final = re.compile(r"\s*[·|｜]\s*")


def template_xlsx(lang: str) -> bytes:
    t = translator(lang)
    example = {
        "name": "北京某某商贸有限公司" if lang == "zh-CN" else "Beijing Example Trading Co., Ltd.",
        "kind": t("rm_client_kind_company"),
        "id_number": "91110108MA01C2XJ5R",
        "contact_name": "王芳",
        "contact_email": "wang.fang@example.com",
        "contact_phone": "+86 10 1234 5678",
        "scopes": "云账房 · 员工工资" if lang == "zh-CN" else "Cloud Ledger · Payroll",
    }
    return sheet_template(lang, COLUMNS, example, "cl_imp_help_")


def template(fmt: str, lang: str) -> bytes:
    return template_xlsx(lang) if fmt == "xlsx" else template_csv(lang, COLUMNS)


def _key(row: dict[str, Any]) -> str:
    if row["id_number"]:
        return f"id:{row['id_number']}"
    return f"name:{row['name'].lower()}\x1f{row['contact_email'].lower()}"


def validate(parsed: Sequence[Parsed], lang: str) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Each row as the client to write, and every problem (row, column header, message)."""
    t = translator(lang)
    header = {c.key: t(c.header) for c in COLUMNS}
    limits = {"name": 200, "contact_name": 200, "contact_email": 254, "contact_phone": 50}
    errors: list[RowError] = []
    clean: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for item in parsed:
        v = {c.key: (item.values.get(c.key) or "").strip() for c in COLUMNS}
        problems: list[tuple[str, str]] = []
        for column in COLUMNS:
            if column.required and not v[column.key]:
                problems.append((column.key, t("rpt_imp_required")))
        for key, limit in limits.items():
            if len(v[key]) > limit:
                problems.append((key, t("rpt_imp_too_long", max=limit)))
        kind = choice(COLUMNS[1], v["kind"]) if v["kind"] else None
        if v["kind"] and kind is None:
            problems.append(("kind", t("rpt_imp_bad_choice")))
        id_number = re.sub(r"\s", "", v["id_number"]).upper() or None
        if id_number is not None and not ID_NUMBER.fullmatch(id_number):
            problems.append(("id_number", t("cl_imp_bad_id_number")))
        email = v["contact_email"].lower()
        if email and not EMAIL.fullmatch(email):
            problems.append(("contact_email", t("rpt_imp_bad_email")))
        pairs: list[tuple[str, str]] = []
        for part in (p.strip() for p in SCOPE_ITEMS.split(v["scopes"])):
            if not part:
                continue
            pieces = SCOPE_PAIR.split(part, maxsplit=1) if SCOPE_PAIR.search(part) else []
            if len(pieces) != 2 or not all(pieces):
                problems.append(("scopes", t("cl_imp_bad_scope", item=part[:100])))
            else:
                pairs.append((pieces[0], pieces[1]))
        row = {
            "row": item.row,
            "scopes": pairs,
            "name": v["name"],
            "kind": kind,
            "id_number": id_number,
            "contact_name": v["contact_name"],
            "contact_email": email,
            "contact_phone": v["contact_phone"],
        }
        if not problems:
            # The register's own rules (no control characters, phone format) apply as well.
            try:
                msgspec.convert(
                    {
                        "name": row["name"],
                        "kind": kind,
                        "contact_name": row["contact_name"],
                        "contact_email": email or None,
                        "contact_phone": row["contact_phone"] or None,
                    },
                    ClientCreate,
                )
            except msgspec.ValidationError as exc:
                field = next((k for k in header if f"$.{k}" in str(exc)), "name")
                problems.append((field, t("cl_imp_invalid")))
        if not problems and v["name"]:
            key = _key(row)
            if key in seen:
                problems.append(
                    ("id_number" if id_number else "name", t("cl_imp_duplicate_row", row=seen[key]))
                )
            seen.setdefault(key, item.row)
        if problems:
            errors.extend(RowError(row=item.row, column=header[k], message=m) for k, m in problems)
            continue
        clean.append(row)
    return clean, errors


_CLIENT = "c.id, c.name, c.kind, c.contact_name, c.contact_email, c.contact_phone"


async def _existing(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> dict[int, asyncpg.Record]:
    """Which rows name a client already in the register: row -> (id, fields). A row with an
    id number matches on its digest under any configured key (clients_id_number_digest_idx);
    a row without one, or whose number no client has yet (so a client entered by hand gets
    its number), on name and email among the clients without a number."""
    keys = identity.keys_of(conn) if any(r["id_number"] for r in rows) else ()
    pairs = [(r["row"], d) for r in rows if r["id_number"] for d in identity.digests(keys, r["id_number"])]
    found: dict[int, asyncpg.Record] = {}
    if pairs:
        for record in await conn.fetch(
            f"""
            SELECT u.row, {_CLIENT} FROM unnest($1::int[], $2::bytea[]) AS u(row, digest)
            JOIN clients c ON c.id_number_digest = u.digest
            """,
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        ):
            found[record["row"]] = record
    rest = [r for r in rows if r["row"] not in found]
    for record in await conn.fetch(
        f"""
        SELECT u.row, {_CLIENT} FROM unnest($1::int[], $2::text[], $3::text[]) AS u(row, name, email)
        JOIN clients c ON lower(c.name) = lower(u.name) AND lower(c.contact_email) = u.email
            AND c.id_number IS NULL AND c.id_number_digest IS NULL
        """,
        [r["row"] for r in rest],
        [r["name"] for r in rest],
        [r["contact_email"] for r in rest],
    ):
        found[record["row"]] = record
    return found


async def _resolve_scopes(
    conn: asyncpg.Connection, rows: list[dict[str, Any]], lang: str
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Each row's scope ids (every scope of the named partner, not offboarded, and data
    category, by code or name in either language); an item naming none is a row error."""
    t = translator(lang)
    pairs = [(r["row"], partner, category) for r in rows for partner, category in r["scopes"]]
    found = await conn.fetch(
        """
        SELECT u.n, s.id FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(partner, category, n)
        JOIN partners p ON p.name = u.partner AND p.status <> 'offboarded'
        JOIN data_categories d ON lower(d.code) = lower(u.category) OR d.name_zh = u.category
            OR lower(d.name_en) = lower(u.category)
        JOIN scopes s ON s.partner_id = p.id AND s.category_id = d.id
        """,
        [p[1] for p in pairs],
        [p[2] for p in pairs],
    )
    ids: dict[int, list[Any]] = {}
    for record in found:
        ids.setdefault(record["n"] - 1, []).append(record["id"])
    header = t("cl_imp_scopes")
    errors = [
        RowError(row=row, column=header, message=t("cl_imp_unknown_scope", item=f"{partner} · {category}"))
        for n, (row, partner, category) in enumerate(pairs)
        if n not in ids
    ]
    wrong = {e.row for e in errors}
    by_row: dict[int, list[Any]] = {}
    for n, (row, _, _) in enumerate(pairs):
        by_row.setdefault(row, []).extend(ids.get(n, []))
    clean = [r | {"scope_ids": sorted(set(by_row.get(r["row"], [])))} for r in rows if r["row"] not in wrong]
    return clean, errors


def _columns(rows: Sequence[dict[str, Any]], *keys: str) -> list[list[Any]]:
    return [[r[k] for r in rows] for k in keys]


async def run_import(
    conn: asyncpg.Connection, actor: Actor, content: bytes, filename: str, lang: str, *, dry_run: bool
) -> ImportReport:
    """Check a file and, unless ``dry_run`` or any row has an error, import it in one
    transaction. Nothing is written when anything is wrong."""
    parsed, sha256 = read_rows(content, filename, lang, COLUMNS, "cl_imp_wrong_template")
    clean, errors = validate(parsed, lang)
    clean, scope_errors = await _resolve_scopes(conn, clean, lang)
    errors = sorted([*errors, *scope_errors], key=lambda e: e.row)

    def plan(existing: dict[int, asyncpg.Record]) -> list[PlannedRow]:
        return [
            PlannedRow(
                row=r["row"],
                action="update" if r["row"] in existing else "create",
                name=r["name"],
                legal_id=r["id_number"] or r["contact_email"],
                partner_id=existing[r["row"]]["id"] if r["row"] in existing else None,
            )
            for r in clean
        ]

    items = plan(await _existing(conn, clean))
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
    fields = ("name", "kind", "contact_name", "contact_email", "contact_phone")
    async with conn.transaction():
        # Serialise imports: two at once could both find a client new and both insert it.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('vendor_risk:client-import'))")
        existing = await _existing(conn, clean)
        ids = {r["row"]: existing[r["row"]]["id"] if r["row"] in existing else uuid4() for r in clean}
        keys = identity.keys_of(conn) if any(r["id_number"] for r in clean) else ()
        # Each number sealed to its row, so the ids are chosen here rather than by the database.
        sealed = [
            identity.seal_number(keys, ids[r["row"]], r["id_number"])
            if r["id_number"]
            else (None, None, None)
            for r in clean
        ]
        created = [(r, s) for r, s in zip(clean, sealed, strict=True) if r["row"] not in existing]
        updated = [(r, s) for r, s in zip(clean, sealed, strict=True) if r["row"] in existing]

        def columns(pairs: list[tuple[dict[str, Any], tuple[Any, ...]]]) -> list[list[Any]]:
            return [
                [ids[r["row"]] for r, _ in pairs],
                *_columns([r for r, _ in pairs], *fields),
                *([s[n] for _, s in pairs] for n in range(3)),
            ]

        new_ids = await conn.fetch(
            """
            INSERT INTO clients (id, name, kind, contact_name, contact_email, contact_phone,
                                 id_number_key_id, id_number_sealed, id_number_digest, created_by)
            SELECT u.*, $10::uuid
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                        $7::text[], $8::bytea[], $9::bytea[]) AS u
            RETURNING id
            """,
            *columns(created),
            actor.id,
        )
        # A client the sheet changes nothing of is left alone (no new version); one that has
        # a number keeps it, one without gets the sheet's.
        changed = await conn.fetch(
            """
            UPDATE clients c
            SET name = u.name, kind = u.kind, contact_name = u.contact_name,
                contact_email = u.contact_email, contact_phone = u.contact_phone,
                id_number_key_id = coalesce(c.id_number_key_id, u.key_id),
                id_number_sealed = coalesce(c.id_number_sealed, u.sealed),
                id_number_digest = coalesce(c.id_number_digest, u.digest),
                updated_at = now(), version = c.version + 1
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                        $7::text[], $8::bytea[], $9::bytea[])
                AS u(id, name, kind, contact_name, contact_email, contact_phone, key_id, sealed, digest)
            WHERE c.id = u.id
              AND ((c.name, c.kind, c.contact_name, c.contact_email, c.contact_phone)
                   IS DISTINCT FROM (u.name, u.kind, u.contact_name, u.contact_email, u.contact_phone)
                   OR (c.id_number_digest IS NULL AND u.digest IS NOT NULL))
            RETURNING c.id
            """,
            *columns(updated),
        )
        # Scopes named are added to the client's (a re-import never removes one).
        await conn.execute(
            """
            INSERT INTO scope_clients (scope_id, client_id)
            SELECT unnest(u.scope_ids), u.client_id
            FROM jsonb_to_recordset($1::jsonb) AS u(client_id uuid, scope_ids uuid[])
            ON CONFLICT DO NOTHING
            """,
            [{"client_id": ids[r["row"]], "scope_ids": r["scope_ids"]} for r in clean if r["scope_ids"]],
        )
        report.items = [msgspec.structs.replace(i, partner_id=ids[i.row]) for i in plan(existing)]
        report.created, report.updated = len(created), len(updated)
        await audit.record(
            conn,
            actor=actor,
            action="clients.imported",
            entity_type="client",
            entity_id="*",
            after={
                "file": filename,
                "sha256": sha256,
                "created": [record["id"] for record in new_ids],
                "updated": [record["id"] for record in changed],
            },
        )
    return report
