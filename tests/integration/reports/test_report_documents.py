"""The printed documents read back with poppler's pdftotext (and pdffonts for the embedded
CJK font), and the heat map, trends and portfolio snapshots checked against the database."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.integration.assessments.conftest import Client, NewPartner, Partner, Review, Send, User, complete
from tests.integration.reports.conftest import Post
from vendor_risk.i18n import translator
from vendor_risk.reports import snapshots

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext, pdffonts) is not installed"
)


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True)
    # Layout mode pads columns with spaces and breaks long cells; compare without them.
    return re.sub(r"\s+", "", out.stdout)


def embedded_cjk_fonts(content: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(content)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    # name, type…, encoding, emb, sub, uni, object id, generation
    return [line.split()[0] for line in out.splitlines()[2:] if "CJK" in line and line.split()[-5] == "yes"]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


async def test_the_assessment_report(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    risk_owner: User,
    auditor: User,
    tmp_path: Path,
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]), **{"ac-1": "no"})
    detail = await review(sent["assessment"]["id"], note="MFA 须在三个月内启用")
    response = await client.get(
        f"/api/v1/documents/assessments/{sent['assessment']['id']}/report",
        params={"lang": "zh-CN"},
        headers=auditor["headers"],
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert re.search(
        r'filename="assessment-report-[0-9a-f]{8}-\d{8}-\d{4}Z\.pdf"', response.headers["content-disposition"]
    )
    assert response.content.startswith(b"%PDF-")
    assert embedded_cjk_fonts(response.content, tmp_path), "a CJK font must be embedded"
    text = pdf_text(response.content, tmp_path)
    t = translator("zh-CN")
    stored = await db.fetchrow(
        "SELECT legal_name, credit_code, residual_rating FROM partners WHERE id = $1", partner["id"]
    )
    for expected in (
        "安全评估报告",
        stored["legal_name"],
        stored["credit_code"],
        f"得分：{detail['score']:.1f}",
        f"{t('rating')}：{t('tier_' + detail['rating']['level'])}",
        t("rating_critical_findings"),
        t("decision_approve"),
        "MFA须在三个月内启用",
        "王芳",
        "签字",
    ):
        assert squeeze(expected) in text, expected
    [critical] = [f for f in detail["findings"] if f["severity"] == "critical"]
    assert squeeze(critical["title"]["zh-CN"]) in text
    assert stored["residual_rating"] == detail["rating"]["level"]

    english = await client.get(
        f"/api/v1/documents/assessments/{sent['assessment']['id']}/report",
        params={"lang": "en"},
        headers=auditor["headers"],
    )
    text = pdf_text(english.content, tmp_path)
    assert "Securityassessmentreport" in text
    assert squeeze(critical["title"]["en"]) in text
    assert "Signature" in text
    html = await client.get(
        f"/api/v1/documents/assessments/{sent['assessment']['id']}/report",
        params={"lang": "en", "format": "html"},
        headers=auditor["headers"],
    )
    assert html.headers["content-type"].startswith("text/html")
    assert stored["legal_name"] in html.text
    missing = await client.get(
        "/api/v1/documents/assessments/00000000-0000-0000-0000-000000000000/report",
        headers=auditor["headers"],
    )
    assert missing.status_code == 404


async def test_the_dossier_and_the_art57_record(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    post: Post,
    procurement: User,
    risk_owner: User,
    auditor: User,
    tmp_path: Path,
) -> None:
    partner = await new_partner(legal_name="<b>深圳市</b>记账服务有限公司")
    await post(
        f"/api/v1/partners/{partner['id']}/agreements",
        {
            "kind": "nda",
            "title": "保密协议 2026",
            "signed_on": "2026-01-10",
            "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "李雷"}],
            "category_ids": [],
        },
        procurement,
    )
    dossier = await client.get(
        f"/api/v1/documents/partners/{partner['id']}/dossier",
        params={"lang": "zh-CN"},
        headers=auditor["headers"],
    )
    assert dossier.status_code == 200, dossier.text
    text = pdf_text(dossier.content, tmp_path)
    for expected in (
        "合作方档案",
        "<b>深圳市</b>记账服务有限公司",
        partner["credit_code"],
        "保密协议2026",
        "李雷",
    ):
        assert squeeze(expected) in text, expected

    incident = await post(
        f"/api/v1/partners/{partner['id']}/incidents",
        {
            "title": "合作方邮箱被钓鱼",
            "severity": "high",
            "detected_at": datetime.now(UTC).isoformat(),
            "playbook": "partner-data-leak",
            "affected_categories": ["invoices"],
            "description": "发票可能外泄",
        },
        risk_owner,
    )
    saved = await client.put(
        f"/api/v1/incidents/{incident['id']}/notification-record",
        json={
            "version": 0,
            "categories": ["invoices"],
            "persons_affected_approx": 350,
            "cause": "合作方员工邮箱被钓鱼窃取密码。",
            "authority_name": "北京市互联网信息办公室",
            "authority_notified_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            "authority_notified_how": "书面报告",
        },
        headers=risk_owner["headers"],
    )
    assert saved.status_code == 200, saved.text
    record = await client.get(
        f"/api/v1/documents/incidents/{incident['id']}/notification-record",
        params={"lang": "zh-CN"},
        headers=auditor["headers"],
    )
    assert record.status_code == 200, record.text
    assert embedded_cjk_fonts(record.content, tmp_path)
    text = pdf_text(record.content, tmp_path)
    for expected in (
        "个人信息安全事件通知记录",
        "《个人信息保护法》第五十七条",
        "<b>深圳市</b>记账服务有限公司",
        partner["credit_code"],
        "发票",
        "350",
        "合作方员工邮箱被钓鱼窃取密码。",
        "北京市互联网信息办公室",
        "尚未通知",
        "单位盖章",
        "（未填写）",
    ):
        assert squeeze(expected) in text, expected
    english = pdf_text(
        (
            await client.get(
                f"/api/v1/documents/incidents/{incident['id']}/notification-record",
                params={"lang": "en"},
                headers=auditor["headers"],
            )
        ).content,
        tmp_path,
    )
    assert "Invoices" in english
    assert "Companyseal" in english
    downloads = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'report.downloaded' AND entity_id = $1",
        incident["id"],
    )
    assert downloads == 2


async def test_heat_map_trends_and_the_portfolio_report(
    client: Client, db: asyncpg.Connection, new_partner: NewPartner, auditor: User, tmp_path: Path
) -> None:
    partner = await new_partner(business_criticality="high")
    await db.execute("UPDATE partners SET residual_rating = 'critical' WHERE id = $1", partner["id"])
    heat = (await client.get("/api/v1/reports/heat-map", headers=auditor["headers"])).json()
    rows = await db.fetch(
        """
        SELECT tier, coalesce(residual_rating, 'unrated') AS rating, count(*) AS n FROM partners
        WHERE status <> 'offboarded' GROUP BY 1, 2
        """
    )
    expected: dict[str, dict[str, int]] = {t: dict.fromkeys(snapshots.RATINGS, 0) for t in snapshots.LEVELS}
    for r in rows:
        expected[r["tier"]][r["rating"]] = r["n"]
    assert heat["cells"] == expected
    assert heat["total"] == sum(r["n"] for r in rows)

    today = datetime.now(UTC).date()
    await db.execute("DELETE FROM portfolio_snapshots")
    assert await snapshots.take_snapshots(db, today) == 13
    # Idempotent: the back-filled month ends stay, today's row is refreshed.
    assert await snapshots.take_snapshots(db, today) == 1
    assert await db.fetchval("SELECT count(*) FROM portfolio_snapshots") == 13
    assert await db.fetchval("SELECT count(*) FROM portfolio_snapshots WHERE backfilled") == 12
    now_row = await db.fetchrow("SELECT * FROM portfolio_snapshots WHERE day = $1", today)
    assert now_row["partners"] == await db.fetchval(
        "SELECT count(*) FROM partners WHERE status <> 'offboarded'"
    )
    assert now_row["ratings"]["critical"] == await db.fetchval(
        "SELECT count(*) FROM partners WHERE status <> 'offboarded' AND residual_rating = 'critical'"
    )
    assert now_row["assessments_sent"] == await db.fetchval(
        "SELECT count(*) FROM assessments WHERE sent_at >= now() - interval '30 days'"
    )
    # The partner created today did not exist at the last month end.
    last_month = snapshots.month_ends(today)[-1]
    assert await db.fetchval("SELECT partners FROM portfolio_snapshots WHERE day = $1", last_month) == 0

    trends = (await client.get("/api/v1/reports/trends", headers=auditor["headers"])).json()
    assert len(trends) == 13
    assert trends[-1]["day"] == today.isoformat()
    assert trends[-1]["partners"] == now_row["partners"]

    report = await client.get(
        "/api/v1/documents/portfolio", params={"lang": "zh-CN"}, headers=auditor["headers"]
    )
    assert report.status_code == 200, report.text
    text = pdf_text(report.content, tmp_path)
    for expected_text in (
        "合作方风险总览报告",
        "风险热力图：分级×评级",
        "近12个月趋势",
        "需要处理的合作方",
        partner["name"],
    ):
        assert squeeze(expected_text) in text, expected_text
    html = await client.get(
        "/api/v1/documents/portfolio", params={"lang": "en", "format": "html"}, headers=auditor["headers"]
    )
    # The chart is accessible: a title and a description, and its numbers as a table.
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html.text
    assert re.search(r'role="img" aria-labelledby="c[0-9a-f]+-t c[0-9a-f]+-d"', html.text)
    assert "<title id=" in html.text
    assert "<caption>Risk heat map: tier × rating</caption>" in html.text


async def test_a_partners_history(
    client: Client, new_partner: NewPartner, send: Send, review: Review, auditor: User
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]))
    detail = await review(sent["assessment"]["id"])
    history: dict[str, Any] = (
        await client.get(f"/api/v1/reports/partners/{partner['id']}/history", headers=auditor["headers"])
    ).json()
    assert [p["score"] for p in history["scores"]] == [detail["score"]]
    assert [p["rating"] for p in history["ratings"]] == [detail["rating"]["level"]]
