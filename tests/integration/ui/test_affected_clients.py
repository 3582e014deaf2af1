"""Affected clients: the client register (risk owners keep it, auditors read it, nobody
else sees it), the scopes that carry each client's data, and an incident on a partner
holding three clients' data that lists exactly those three, fills the art. 57 record's
count to match and gives the notification list as CSV."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser


async def _scope(
    client: Client, procurement: User, pool: asyncpg.Pool, partner_id: str, category: dict[str, Any]
) -> str:
    created = await client.post(
        f"/api/v1/partners/{partner_id}/scopes",
        json={
            "category_id": category["id"],
            "purpose": f"代理记账 {category['code']}",
            "processing_methods": ["store"],
            "transfer_method": "api",
            "starts_on": "2026-01-01",
            "retention_days": 30,
            "volume_band": "1k_10k",
        },
        headers=procurement["headers"],
    )
    assert created.status_code == 201, created.text
    scope_id: str = created.json()["id"]
    # Setup shortcut: approval has its own gates, tested elsewhere; here the data has gone.
    await pool.execute("UPDATE scopes SET status = 'approved' WHERE id = $1", scope_id)
    return scope_id


def _pdf_pages(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letters.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout


def _names(html: str, tag: str) -> list[str]:
    return re.findall(rf'<td data-label="[^"]*">(客户.{tag})</td>', html)


async def test_an_incident_lists_exactly_the_clients_its_partners_scopes_carry(
    client: Client,
    browser: OpenBrowser,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    auditor: User,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    first, second, third = categories[0], categories[1], categories[2]
    leaking, other = await new_partner(), await new_partner()
    s1 = await _scope(client, procurement, pool, leaking["id"], first)
    s2 = await _scope(client, procurement, pool, leaking["id"], second)
    s_other_category = await _scope(client, procurement, pool, leaking["id"], third)
    s_other_partner = await _scope(client, procurement, pool, other["id"], first)

    me = await browser(risk_owner)
    form = await me.get("/ui/clients/new", lang="zh-CN")
    assert form.status_code == 200
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    plan = [
        (f"客户甲{tag}", "person", [s1]),
        (f"客户乙{tag}", "company", [s1, s2]),
        (f"客户丙{tag}", "person", [s2]),
        (f"客户丁{tag}", "person", [s_other_partner]),
        (f"客户戊{tag}", "company", [s_other_category]),
        (f"客户己{tag}", "person", []),
    ]
    for name, kind, scopes in plan:
        saved = await me.post(
            "/ui/clients",
            {
                "_csrf_token": csrf_of(form.text),
                "name": name,
                "kind": kind,
                "contact_name": "王芳",
                "contact_email": "wang.fang@client.example.com",
                "scope_ids": scopes,
            },
        )
        assert saved.status_code == 303, saved.text
    # A bad email is refused beside its field, keeping what was typed.
    refused = await me.post(
        "/ui/clients",
        {
            "_csrf_token": csrf_of(form.text),
            "name": "客户庚",
            "kind": "person",
            "contact_email": "not-an-email",
        },
        lang="zh-CN",
    )
    assert refused.status_code == 400
    assert 'id="f-contact_email-error"' in refused.text
    assert 'value="客户庚"' in refused.text

    listed = await me.get("/ui/clients", lang="zh-CN")
    assert f"客户甲{tag}" in listed.text
    assert "个人" in listed.text

    opened = await client.post(
        f"/api/v1/partners/{leaking['id']}/incidents",
        json={
            "title": "客户资料泄露",
            "severity": "high",
            "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "playbook": "partner-data-leak",
            "affected_categories": [first["code"], second["code"]],
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    incident_id = opened.json()["id"]

    page = await me.get(f"/ui/incidents/{incident_id}/clients", lang="zh-CN")
    assert page.status_code == 200
    assert sorted(_names(page.text, tag)) == sorted([f"客户甲{tag}", f"客户乙{tag}", f"客户丙{tag}"])
    assert "共 3 个客户：个人 2，企业 1。" in page.text
    incident_page = await me.get(f"/ui/incidents/{incident_id}", lang="zh-CN")
    assert f"/ui/incidents/{incident_id}/clients" in incident_page.text

    sheet = await me.get(f"/ui/incidents/{incident_id}/clients.csv", lang="zh-CN")
    assert sheet.status_code == 200
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[0][0] == "客户名称"
    assert sorted(r[0] for r in rows[1:]) == sorted([f"客户甲{tag}", f"客户乙{tag}", f"客户丙{tag}"])

    filled = await me.post(
        f"/ui/incidents/{incident_id}/clients/fill", {"_csrf_token": csrf_of(page.text)}, lang="zh-CN"
    )
    assert filled.status_code == 303, filled.text
    record = await pool.fetchrow(
        "SELECT persons_affected_approx, affected_persons FROM incident_notification_records"
        " WHERE incident_id = $1",
        incident_id,
    )
    assert record["persons_affected_approx"] == 3
    assert f"客户乙{tag}" in record["affected_persons"]
    # The notice letters: one page per client, each in Chinese and English.
    letters = await me.get(f"/ui/incidents/{incident_id}/clients/letters.pdf")
    assert letters.status_code == 200
    assert letters.headers["content-type"] == "application/pdf"
    if shutil.which("pdftotext"):
        pages = _pdf_pages(letters.content, tmp_path)
        text = re.sub(r"\s+", "", pages)
        # Each client's letter starts on a page of its own, greeting it in both languages.
        assert 3 <= len([page for page in pages.split("\f") if page.strip()]) <= 6
        for name in (f"客户甲{tag}", f"客户乙{tag}", f"客户丙{tag}"):
            assert f"致{name}：" in text
            assert f"To{name}," in text
        assert f"客户丁{tag}" not in text
        assert text.count("Noticeofapersonalinformationsecurityincident") >= 3
    english = await me.get(f"/ui/incidents/{incident_id}/clients", lang="en")
    assert "3 clients: 2 persons, 1 companies." in english.text
    assert "Fill the art. 57 record" in english.text
    audited = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'incident.record_counts_filled'",
        incident_id,
    )
    assert audited == 1

    # Least privilege: procurement never sees the register; auditors read without forms.
    clerk = await browser(procurement)
    for path in (
        "/ui/clients",
        f"/ui/incidents/{incident_id}/clients",
        f"/ui/incidents/{incident_id}/clients.csv",
    ):
        assert (await clerk.get(path)).status_code == 403, path
    reader = await browser(auditor)
    shown = await reader.get(f"/ui/incidents/{incident_id}/clients", lang="zh-CN")
    assert shown.status_code == 200
    assert "填入第五十七条记录" not in shown.text
    assert (await reader.get("/ui/clients/new")).status_code == 403
