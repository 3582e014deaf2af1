"""The partner import: template, dry run, import, idempotence, every row error listed, and
wrong, oversized and hostile files refused with nothing written."""

from __future__ import annotations

import csv
import io
import secrets
import zipfile
from typing import Any

import asyncpg
import openpyxl

from tests.helpers import new_credit_code
from tests.integration.assessments.conftest import Client, User
from vendor_risk.audit.models import SYSTEM
from vendor_risk.i18n import translator
from vendor_risk.reports import imports
from vendor_risk.reports.imports import COLUMNS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def headers(lang: str) -> list[str]:
    t = translator(lang)
    return [t(c.header) for c in COLUMNS]


def row(**values: str) -> dict[str, str]:
    tag = secrets.token_hex(3)
    return {
        "name": f"导入合作方 {tag}",
        "legal_name": f"上海导入测试有限公司 {tag}",
        "credit_code": new_credit_code(),
        "business_criticality": "高",
        "contact_name": "韩梅梅",
        "contact_email": f"han.{tag}@import.example.com",
        "services": "代理记账、报税",
        "agreement_kind": "保密协议（NDA）",
        "agreement_title": "保密协议",
        "agreement_signed_on": "2025-03-01",
    } | values


def xlsx_file(rows: list[dict[str, str]], lang: str = "zh-CN") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(headers(lang))
    for values in rows:
        sheet.append([values.get(c.key, "") for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_file(rows: list[dict[str, str]], lang: str = "en") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers(lang))
    for values in rows:
        writer.writerow([values.get(c.key, "") for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


async def upload(
    client: Client, user: User, content: bytes, name: str, *, dry_run: bool, lang: str = "zh-CN"
) -> Any:
    return await client.post(
        "/api/v1/imports/partners",
        params={"dry_run": str(dry_run).lower(), "lang": lang},
        files={"file": (name, content, XLSX if name.endswith("xlsx") else "text/csv")},
        headers=user["headers"],
    )


async def partner_count(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM partners")
    return count


async def test_the_template_in_both_languages(client: Client, procurement: User, auditor: User) -> None:
    for lang in ("zh-CN", "en"):
        response = await client.get(
            "/api/v1/imports/partners/template", params={"lang": lang}, headers=procurement["headers"]
        )
        assert response.status_code == 200, response.text
        assert "partner-import-template" in response.headers["content-disposition"]
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        sheet = book.worksheets[0]
        assert [c.value for c in sheet[1]] == headers(lang)
        assert sheet.data_validations.dataValidation, "choices come as drop-down lists"
        assert book.worksheets[1].cell(1, 1).value == headers(lang)[0]
    as_csv = await client.get(
        "/api/v1/imports/partners/template",
        params={"lang": "en", "format": "csv"},
        headers=procurement["headers"],
    )
    assert as_csv.content.decode("utf-8-sig").strip() == ",".join(headers("en"))
    refused = await client.get("/api/v1/imports/partners/template", headers=auditor["headers"])
    assert refused.status_code == 403


async def test_a_clean_file_dry_run_then_import_then_again(
    client: Client, db: asyncpg.Connection, procurement: User
) -> None:
    rows = [row() for _ in range(3)]
    rows[2] |= {"country": "HK", "credit_code": "", "registration_number": "HK-778899", "agreement_kind": ""}
    rows[2] |= {"agreement_title": "", "agreement_signed_on": ""}
    content = xlsx_file(rows)
    before = await partner_count(db)

    dry = await upload(client, procurement, content, "合作方.xlsx", dry_run=True)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["errors"] == []
    assert (report["rows"], report["created"], report["updated"]) == (3, 3, 0)
    assert [i["action"] for i in report["items"]] == ["create"] * 3
    assert await partner_count(db) == before, "a dry run writes nothing"

    done = await upload(client, procurement, content, "合作方.xlsx", dry_run=False)
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["updated"]) == (3, 0)
    assert await partner_count(db) == before + 3
    stored = await db.fetchrow(
        """
        SELECT p.id, p.name, p.business_criticality, p.tier, p.services, p.status, c.email, c.is_primary,
               (SELECT count(*) FROM agreements a WHERE a.partner_id = p.id AND a.kind = 'nda') AS ndas
        FROM partners p JOIN partner_contacts c ON c.partner_id = p.id WHERE p.credit_code = $1
        """,
        rows[0]["credit_code"],
    )
    assert stored["name"] == rows[0]["name"]
    assert stored["business_criticality"] == "high"
    assert stored["services"] == ["代理记账", "报税"]
    assert stored["status"] == "proposed"
    assert (stored["email"], stored["is_primary"], stored["ndas"]) == (rows[0]["contact_email"], True, 1)
    foreign = await db.fetchval("SELECT country FROM partners WHERE registration_number = 'HK-778899'")
    assert foreign == "HK"
    shown = await client.get(f"/api/v1/partners/{stored['id']}", headers=procurement["headers"])
    assert shown.status_code == 200
    assert shown.json()["tier"] == stored["tier"]
    event = await db.fetchrow(
        """
        SELECT actor_id, after FROM audit_events WHERE action = 'partners.imported'
        ORDER BY seq DESC LIMIT 1
        """
    )
    assert str(event["actor_id"]) == str(procurement["id"])
    assert len(event["after"]["created"]) == 3

    # Idempotent on the legal id: the same file again updates, adds nothing twice.
    versions_sql = "SELECT credit_code, version FROM partners WHERE credit_code = ANY($1::text[])"
    codes = [r["credit_code"] for r in rows]
    versions = {r["credit_code"]: r["version"] for r in await db.fetch(versions_sql, codes)}
    rows[0]["name"] = "改名后的合作方"
    again = await upload(client, procurement, xlsx_file(rows), "合作方.xlsx", dry_run=False)
    assert (again.json()["created"], again.json()["updated"]) == (0, 3)
    # Only the partner the sheet changes gets a new version; the others are left alone.
    after = {r["credit_code"]: r["version"] for r in await db.fetch(versions_sql, codes)}
    assert after == {**versions, codes[0]: versions[codes[0]] + 1}
    assert await partner_count(db) == before + 3
    assert await db.fetchval("SELECT name FROM partners WHERE id = $1", stored["id"]) == "改名后的合作方"
    assert await db.fetchval("SELECT count(*) FROM partner_contacts WHERE partner_id = $1", stored["id"]) == 1
    assert await db.fetchval("SELECT count(*) FROM agreements WHERE partner_id = $1", stored["id"]) == 1


async def test_bad_rows_are_all_listed_and_nothing_is_written(
    client: Client, db: asyncpg.Connection, procurement: User
) -> None:
    good = row()
    rows = [
        good,
        row(credit_code="91310115ABCDEFGH12"),
        row(contact_email="", business_criticality="很高"),
        row(agreement_signed_on="31/31/2025", website="ftp://x"),
        row(credit_code=good["credit_code"]),
    ]
    before = await partner_count(db)
    for dry_run in (True, False):
        response = await upload(
            client, procurement, csv_file(rows, "en"), "partners.csv", dry_run=dry_run, lang="zh-CN"
        )
        assert response.status_code == 200, response.text
        errors = [(e["row"], e["column"], e["message"]) for e in response.json()["errors"]]
        t = translator("zh-CN")
        assert errors == [
            (3, "统一社会信用代码", t("rpt_imp_bad_credit_code")),
            (4, "电子邮箱", t("rpt_imp_required")),
            (
                4,
                "业务重要性" if t("criticality") == "业务重要性" else t("criticality"),
                t("rpt_imp_bad_choice"),
            ),
            (5, "网站", t("rpt_imp_bad_website")),
            (5, "签署日期", t("rpt_imp_bad_date")),
            (6, "统一社会信用代码", t("rpt_imp_duplicate_row", row=2)),
        ]
        assert await partner_count(db) == before, "nothing half-written"
    english = await upload(client, procurement, csv_file(rows, "en"), "partners.csv", dry_run=True, lang="en")
    assert english.json()["errors"][0] == {
        "row": 3,
        "column": "Unified social credit code",
        "message": "Not a valid unified social credit code (length or check character).",
    }


async def test_wrong_oversized_and_hostile_files_are_refused(
    client: Client, db: asyncpg.Connection, procurement: User
) -> None:
    before = await partner_count(db)
    wrong = b"\xef\xbb\xbfName,Email\r\nAcme,a@example.com\r\n"
    response = await upload(client, procurement, wrong, "list.csv", dry_run=True)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:vendor-risk:problem:import-wrong-template"
    assert "法定名称" in response.json()["detail"]

    big = xlsx_file([row()]) + b"\0" * (50 * 2**20)
    response = await upload(client, procurement, big, "big.xlsx", dry_run=False)
    assert response.status_code == 413
    assert "20 MB" in response.json()["detail"]

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (30 * 2**20) + b"/>")
    response = await upload(client, procurement, bomb.getvalue(), "bomb.xlsx", dry_run=False)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:vendor-risk:problem:import-bomb"

    garbage = await upload(client, procurement, b"PK\x03\x04 not really a zip", "x.xlsx", dry_run=False)
    assert garbage.status_code == 400
    assert garbage.json()["type"] == "urn:vendor-risk:problem:import-unreadable"
    assert await partner_count(db) == before


async def test_an_import_takes_a_fixed_number_of_locks_whatever_its_size(db: asyncpg.Connection) -> None:
    # The shared lock table holds 64 locks per connection on a default PostgreSQL; the
    # dashboard counters' triggers once took two advisory locks per imported partner (its
    # attention row and its NDA group), so 10,000 rows ran it out of shared memory.
    rows = [row() for _ in range(40)]
    async with db.transaction():
        report = await imports.run_import(
            db, SYSTEM, csv_file(rows, "zh-CN"), "bulk.csv", "zh-CN", dry_run=False
        )
        assert (report.errors, report.created) == ([], 40)
        held = await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
        )
        # The import's own lock and the audit chain's.
        assert held <= 2, held
        attention, groups = await db.fetchrow(
            """
            SELECT (SELECT count(*) FROM dashboard_partner_attention WHERE horizon = 'infinity'),
                   (SELECT count(*) FROM dashboard_agreement_groups WHERE horizon = 'infinity')
            """
        )
        assert (attention, groups) == (0, 0), "no placeholder outlives its refresh"
