"""The client register's import on /ui/clients/import: templates in both languages, a dry
run writing nothing, bad rows each listed (row, column, message in the user's language)
with nothing written, a clean import in one audited transaction, an idempotent re-import
on the natural key (credit code / ID number, else name + contact email), a wrong template.
The ID numbers are sealed with the data keys and matched by a keyed digest."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from typing import Any

import asyncpg
import httpx
import openpyxl

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.clients.identity import digest
from vendor_risk.clients.imports import COLUMNS
from vendor_risk.documents import CLIENT_ID_NUMBER, open_text
from vendor_risk.i18n import translator
from vendor_risk.settings import DataKey, Settings


def sheet(rows: list[dict[str, str]], lang: str = "zh-CN") -> bytes:
    t = translator(lang)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t(c.header) for c in COLUMNS])
    for values in rows:
        writer.writerow([values.get(c.key, "") for c in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def xlsx(rows: list[dict[str, str]], lang: str = "en") -> bytes:
    t = translator(lang)
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append([t(c.header) for c in COLUMNS])
    for values in rows:
        ws.append([values.get(c.key, "") for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def number_of(row: asyncpg.Record, keys: tuple[DataKey, ...]) -> str | None:
    """A client's ID number, opened with the data keys (None when it has none)."""
    if row["id_number_sealed"] is None:
        return None
    return open_text(keys, row["id_number_key_id"], CLIENT_ID_NUMBER, row["id"], row["id_number_sealed"])


async def upload(me: Any, content: bytes, name: str, action: str, lang: str = "zh-CN") -> httpx.Response:
    form = await me.get("/ui/clients/import", lang=lang)
    assert form.status_code == 200
    return await me.request(  # type: ignore[no-any-return]
        "POST",
        "/ui/clients/import",
        data={"_csrf_token": csrf_of(form.text), "action": action},
        files={"file": (name, content)},
        params={"lang": lang},
    )


async def test_the_client_register_imports_from_csv_and_xlsx_idempotently(
    browser: OpenBrowser, risk_owner: User, procurement: User, pool: asyncpg.Pool, settings: Settings
) -> None:
    tag = secrets.token_hex(3)
    rows = [
        {"name": f"导入企业{tag}", "kind": "企业", "id_number": "91110108MA01C2XJ5R", "contact_name": "王芳"},
        {"name": f"导入个人{tag}", "kind": "person", "contact_email": f"li.{tag}@client.example.com"},
    ]
    # Each run makes its own database: the credit code is free.
    me = await browser(risk_owner)

    # Templates, in both languages.
    for lang, header in (("zh-CN", "信用代码／证件号码"), ("en", "Credit code / ID number")):
        got = await me.get("/ui/clients/import/template", format="xlsx", file_lang=lang)
        assert got.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(got.content), read_only=True)
        first = next(book.worksheets[0].iter_rows(values_only=True))
        assert header in first
        csv_template = await me.get("/ui/clients/import/template", format="csv", file_lang=lang)
        assert header in csv_template.content.decode("utf-8-sig")

    # Dry run: what would be created, nothing written.
    checked = await upload(me, sheet(rows), "clients.csv", "check")
    assert checked.status_code == 200, checked.text
    assert "检查通过：将新建 2 个客户，更新 0 个" in checked.text
    assert await pool.fetchval("SELECT count(*) FROM clients WHERE name LIKE $1", f"%{tag}") == 0

    done = await upload(me, sheet(rows), "clients.csv", "import")
    assert done.status_code == 200, done.text
    saved = await pool.fetch(
        "SELECT id, name, kind, id_number, id_number_key_id, id_number_sealed, id_number_digest"
        " FROM clients WHERE name LIKE $1 ORDER BY name",
        f"%{tag}",
    )
    assert [(r["name"], r["kind"], number_of(r, settings.data_keys)) for r in saved] == sorted(
        [(f"导入个人{tag}", "person", None), (f"导入企业{tag}", "company", "91110108MA01C2XJ5R")]
    )
    # The number is sealed, never in the clear, and found by its keyed digest only.
    company = next(r for r in saved if r["kind"] == "company")
    assert company["id_number"] is None
    assert b"91110108MA01C2XJ5R" not in company["id_number_sealed"]
    assert company["id_number_digest"] == digest(settings.data_keys[0], "91110108MA01C2XJ5R")
    assert company["id_number_digest"] != hashlib.sha256(b"91110108MA01C2XJ5R").digest()
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE action = 'clients.imported'") == 1

    # Re-import (as XLSX, English headers, one field changed): updated, never added twice.
    again = [rows[0] | {"name": f"导入企业{tag}", "contact_name": "赵敏", "kind": "Company"}, rows[1]]
    re_done = await upload(me, xlsx(again), "clients.xlsx", "import", lang="en")
    assert re_done.status_code == 200, re_done.text
    assert "Imported: 0 clients created, 2 updated" in re_done.text
    after = await pool.fetch(
        "SELECT name, contact_name, version FROM clients WHERE name LIKE $1 ORDER BY name", f"%{tag}"
    )
    assert len(after) == 2
    versions = {r["name"]: (r["contact_name"], r["version"]) for r in after}
    assert versions[f"导入企业{tag}"] == ("赵敏", 2)
    assert versions[f"导入个人{tag}"][1] == 1  # unchanged: left alone

    # A client entered by hand (no id number) is matched on name and email and gets one.
    await pool.execute(
        "INSERT INTO clients (name, kind, contact_email) VALUES ($1, 'person', $2)",
        f"手工客户{tag}",
        f"hand.{tag}@client.example.com",
    )
    by_hand = {"name": f"手工客户{tag}", "kind": "个人", "id_number": "11010519491231002X"}
    by_hand["contact_email"] = f"Hand.{tag}@client.example.com"
    assert (await upload(me, sheet([by_hand]), "hand.csv", "import")).status_code == 200
    numbers = await pool.fetch("SELECT * FROM clients WHERE name = $1", f"手工客户{tag}")
    assert [number_of(r, settings.data_keys) for r in numbers] == ["11010519491231002X"]
    await pool.execute("DELETE FROM clients WHERE name = $1", f"手工客户{tag}")

    # Bad rows: every error listed, nothing written (not even the good row).
    bad = [
        {"name": f"好的{tag}", "kind": "个人"},
        {"name": "", "kind": "机构", "contact_email": "not-an-email"},
        {"name": f"坏号{tag}", "kind": "企业", "id_number": "号码?"},
        {"name": f"重复{tag}", "kind": "企业", "id_number": "91110108MA01C2XJ6R"},
        {"name": f"重复二{tag}", "kind": "企业", "id_number": "91110108ma01c2xj6r"},
    ]
    for action in ("check", "import"):
        refused = await upload(me, sheet(bad), "bad.csv", action)
        assert refused.status_code == 422, refused.text
        text = refused.text
        errors = re.findall(
            r'<td data-label="行">(\d+)</td><td data-label="列">([^<]+)</td>'
            r'<td data-label="问题">([^<]+)</td>',
            text,
        )
        assert [(int(r), c) for r, c, _ in errors] == [
            (3, "客户名称"),
            (3, "类型"),
            (3, "联系邮箱"),
            (4, "信用代码／证件号码"),
            (6, "信用代码／证件号码"),
        ], errors
        assert errors[0][2] == "必填。"
        assert errors[4][2] == "与第 5 行是同一个客户。"
        assert errors[3][2].startswith("不是有效的信用代码或证件号码")
        assert await pool.fetchval("SELECT count(*) FROM clients WHERE name LIKE $1", f"%{tag}") == 2
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE action = 'clients.imported'") == 3

    # A wrong template (the partner import's sheet) is refused naming the missing columns.
    t = translator("zh-CN")
    wrong = io.StringIO()
    csv.writer(wrong).writerow([t("rpt_col_partner"), t("rpt_col_legal_name")])
    refused_file = await upload(me, wrong.getvalue().encode(), "partners.csv", "check")
    assert refused_file.status_code == 400
    assert 'id="import-error"' in refused_file.text
    assert t("rm_client_kind") in refused_file.text

    # Least privilege: procurement cannot import clients.
    clerk = await browser(procurement)
    assert (await clerk.get("/ui/clients/import")).status_code == 403


async def test_the_scopes_column_links_imported_clients_to_the_partners_scopes(
    client: Client,
    browser: OpenBrowser,
    new_partner: NewPartner,
    risk_owner: User,
    procurement: User,
    pool: asyncpg.Pool,
) -> None:
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    category = categories[0]
    partner = await new_partner()
    created = await client.post(
        f"/api/v1/partners/{partner['id']}/scopes",
        json={
            "category_id": category["id"],
            "purpose": "代理记账",
            "processing_methods": ["store"],
            "transfer_method": "api",
            "starts_on": "2026-01-01",
            "retention_days": 30,
            "volume_band": "1k_10k",
        },
        headers=procurement["headers"],
    )
    assert created.status_code == 201, created.text
    scope_id = created.json()["id"]
    tag = secrets.token_hex(3)
    me = await browser(risk_owner)
    named = f"{partner['name']} · {category['name']['zh-CN']}"
    bad = [
        {"name": f"范围客户{tag}", "kind": "个人", "scopes": named},
        {"name": f"无此范围{tag}", "kind": "个人", "scopes": f"{partner['name']} · no-such-category"},
        {"name": f"格式错{tag}", "kind": "个人", "scopes": "只有名称"},
    ]
    refused = await upload(me, sheet(bad), "scopes.csv", "import")
    assert refused.status_code == 422
    assert f"该合作方没有此数据类别的范围：{partner['name']} · no-such-category" in refused.text
    assert "每项范围应写作“合作方 · 数据类别”：只有名称" in refused.text
    assert await pool.fetchval("SELECT count(*) FROM clients WHERE name LIKE $1", f"%{tag}") == 0

    rows = [bad[0] | {"scopes": f"{named}；{partner['name']} | {category['code']}"}]
    for _ in range(2):  # twice: the link is not added again
        done = await upload(me, sheet(rows), "scopes.csv", "import")
        assert done.status_code == 200, done.text
    linked = await pool.fetch(
        "SELECT sc.scope_id FROM scope_clients sc JOIN clients c ON c.id = sc.client_id WHERE c.name = $1",
        f"范围客户{tag}",
    )
    assert [str(r["scope_id"]) for r in linked] == [scope_id]
