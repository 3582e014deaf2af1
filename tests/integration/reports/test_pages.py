"""The reports' staff pages as a browser without JavaScript uses them: each role sees what
its API role may do, downloads work with the session, the import page lists row errors."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, Send, User, csrf_of
from tests.integration.reports.test_imports import csv_file, row
from tests.integration.ui.conftest import Browser


async def signed_in(client: Client, user: User, lang: str = "en") -> Browser:
    me = Browser(client)
    await me.sign_in_as(user, lang=lang)
    return me


async def test_the_reports_page_per_role(client: Client, auditor: User, procurement: User) -> None:
    me = await signed_in(client, auditor, "zh-CN")
    page = await me.get("/ui/reports")
    assert page.status_code == 200, page.text
    html = page.text
    assert '<a href="/ui/reports" aria-current="page">报表</a>' in html
    for segment in ("partners", "agreements", "findings", "processing-register"):
        assert f'href="/ui/reports/exports/{segment}?format=xlsx"' in html
    assert 'action="/ui/reports/exports/audit-events"' in html  # auditors may take the audit extract
    assert "/ui/reports/import" not in html  # but not import partners
    assert 'role="img"' in html
    assert "<caption>风险热力图：分级 × 评级</caption>" in html
    assert re.search(r'href="/ui/partners\?tier=critical&amp;rating=high"', html)

    clerk = await signed_in(client, procurement)
    html = (await clerk.get("/ui/reports")).text
    assert 'href="/ui/reports/import"' in html
    assert "audit-events" not in html
    refused = await clerk.get("/ui/reports/exports/audit-events")
    assert refused.status_code == 403
    assert (await me.get("/ui/reports/import")).status_code == 403


async def test_downloads_with_the_session(client: Client, db: asyncpg.Connection, auditor: User) -> None:
    me = await signed_in(client, auditor)
    response = await me.get("/ui/reports/exports/partners", format="csv", file_lang="en")
    assert response.status_code == 200, response.text
    assert "partner-register" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Partner"
    assert len(rows) - 1 == await db.fetchval("SELECT count(*) FROM partners")
    chinese = await me.get("/ui/reports/exports/partners", format="csv", file_lang="zh-CN")
    assert chinese.content.decode("utf-8-sig").startswith("合作方,")
    pdf = await me.get("/ui/reports/documents/portfolio")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    signed_out = await Browser(client).get("/ui/reports/exports/partners")
    assert signed_out.status_code == 303


async def test_the_import_page(client: Client, db: asyncpg.Connection, procurement: User) -> None:
    me = await signed_in(client, procurement)
    # The language switch sticks to the session: the row errors come in English.
    page = await me.get("/ui/reports/import", lang="en")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    template = await me.get("/ui/reports/import/template", format="csv", file_lang="en")
    assert template.content.decode("utf-8-sig").startswith("Partner,Legal name")

    async def post(content: bytes, action: str) -> Any:
        fresh = await me.get("/ui/reports/import")
        return await me.request(
            "POST",
            "/ui/reports/import",
            data={"_csrf_token": csrf_of(fresh.text), "action": action},
            files={"file": ("partners.csv", content, "text/csv")},
        )

    before = await db.fetchval("SELECT count(*) FROM partners")
    bad = await post(csv_file([row(), row(contact_email="not-an-email")]), "import")
    assert bad.status_code == 422, bad.text
    assert "<td>3</td><td>Email</td><td>Not a valid email address.</td>" in bad.text
    assert await db.fetchval("SELECT count(*) FROM partners") == before
    good_rows = [row(), row()]
    checked = await post(csv_file(good_rows), "check")
    assert checked.status_code == 200
    assert "Ready: 2 to create, 0 to update" in checked.text
    done = await post(csv_file(good_rows), "import")
    assert "Imported: 2 created, 0 updated" in done.text
    assert await db.fetchval("SELECT count(*) FROM partners") == before + 2
    wrong = await post(b"Name,Email\r\nAcme,a@example.com\r\n", "check")
    assert wrong.status_code == 400
    assert "This is not the partner import template" in wrong.text


async def test_the_workbook_page(
    client: Client, db: asyncpg.Connection, new_partner: NewPartner, send: Send, procurement: User
) -> None:
    sent = await send((await new_partner())["id"])
    aid = sent["assessment"]["id"]
    me = await signed_in(client, procurement)
    page = await me.get(f"/ui/reports/assessments/{aid}/workbook", lang="en")
    assert page.status_code == 200, page.text
    assert f'href="/ui/reports/assessments/{aid}/workbook/download"' in page.text
    download = await me.get(f"/ui/reports/assessments/{aid}/workbook/download")
    assert download.status_code == 200
    assert download.content.startswith(b"PK")
    refused = await me.request(
        "POST",
        f"/ui/reports/assessments/{aid}/workbook",
        data={"_csrf_token": csrf_of(page.text), "action": "save"},
        files={"file": ("x.xlsx", b"not a workbook", "application/octet-stream")},
    )
    assert refused.status_code == 400
    assert "The file cannot be read" in refused.text
    assert await db.fetchval("SELECT answers_version FROM assessments WHERE id = $1", aid) == 0
