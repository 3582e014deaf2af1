"""The security notice pages: the library and a notice in both languages, the audience
previewed before sending, bad input kept beside its field, a publication's progress, a
partner's notices, the contact's link page (acknowledge, refused links), the API beside
them, and a fixed number of queries whatever the number of recipients."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import Settings
from tests.helpers import outbox_emails
from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser
from tests.integration.ui.querycount import count_queries

LINK = re.compile(r"/n/([A-Za-z0-9_-]{43})")
NOTICE = "/ui/notices/incident-reporting/1"


def _in(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def _publish(client: Client, risk_owner: User, partner_id: str, **more: Any) -> dict[str, Any]:
    body = {
        "notice_key": "incident-reporting",
        "notice_version": 1,
        "audience": "partner",
        "audience_value": partner_id,
        "due_on": _in(14),
    } | more
    response = await client.post("/api/v1/notice-publications", json=body, headers=risk_owner["headers"])
    assert response.status_code == 201, response.text
    published: dict[str, Any] = response.json()
    return published


async def _token(db: asyncpg.Connection, settings: Settings, email: str) -> str:
    [sent, *_] = reversed(
        await outbox_emails(
            db, settings.data_keys, "topic = 'notice.published' AND payload->>'to' = $1", email
        )
    )
    match = LINK.search(sent["text"])
    assert match is not None
    return match.group(1)


async def test_the_library_and_a_notice_in_both_languages(browser: OpenBrowser, risk_owner: User) -> None:
    me = await browser(risk_owner)
    zh = await me.get("/ui/notices", lang="zh-CN")
    assert zh.status_code == 200
    for text in (
        "通知库",
        "合作方信息安全基本要求",
        "个人信息委托处理要求（《个人信息保护法》第二十一条）",
        "安全意识：钓鱼与社会工程",
        "安全事件报告指引",
        "安全要求",
        "安全指引",
    ):
        assert text in zh.text, text
    assert "Security notices" not in zh.text
    en = await me.get("/ui/notices", lang="en")
    assert "Security incident reporting guide" in en.text
    assert "安全事件报告指引" not in en.text
    page = await me.get(NOTICE, lang="zh-CN")
    assert page.status_code == 200
    assert "<h2>报告时限</h2>" in page.text
    assert "24 小时" in page.text
    assert 'name="step" value="preview"' in page.text
    assert "预览发送范围" in page.text
    assert "<script" not in page.text.split('<article class="notice-body"')[1].split("</article>")[0]
    assert (await me.get("/ui/notices/incident-reporting/9")).status_code == 404


async def test_preview_then_publish_keeps_what_was_typed_and_shows_progress(
    browser: OpenBrowser, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    me = await browser(risk_owner)
    await me.get("/ui/notices", lang="en")
    form = {
        "audience": "partner",
        "partner_id": partner["id"],
        "due_on": _in(10),
        "message": "请于本月内确认",
    }
    page = await me.get(NOTICE, partner=partner["id"])
    assert partner["name"] in page.text
    preview = await me.post(NOTICE, {"_csrf_token": csrf_of(page.text), "step": "preview", **form})
    assert preview.status_code == 200, preview.text
    assert "This reaches 2 contacts at 1 partners." in preview.text
    # A past due date: refused beside its field, everything typed still there, nothing sent.
    bad = await me.post(
        NOTICE, {"_csrf_token": csrf_of(page.text), "step": "publish", **form, "due_on": _in(-1)}
    )
    assert bad.status_code == 400
    assert 'id="f-due_on-error"' in bad.text
    assert "The due date must be after today." in bad.text
    assert "请于本月内确认</textarea>" in bad.text
    assert f'value="{partner["id"]}"' in bad.text
    # An audience that names nothing.
    wrong = await me.post(
        NOTICE, {"_csrf_token": csrf_of(page.text), "step": "preview", "audience": "tier", "tier": "extreme"}
    )
    assert wrong.status_code == 400
    assert 'id="f-tier-error"' in wrong.text
    sent = await me.post(NOTICE, {"_csrf_token": csrf_of(page.text), "step": "publish", **form})
    assert sent.status_code == 303, sent.text
    progress = await me.get(sent.headers["location"])
    assert progress.status_code == 200
    assert "0 of 1 partners acknowledged" in progress.text
    assert "李雷" in progress.text
    assert "Han Meimei" in progress.text
    mine = await me.get(f"/ui/partners/{partner['id']}/notices")
    assert "Security incident reporting guide" in mine.text
    assert "not yet" in mine.text
    detail = await me.get(f"/ui/partners/{partner['id']}")
    assert f"/ui/partners/{partner['id']}/notices" in detail.text


async def test_procurement_may_look_but_not_publish(
    browser: OpenBrowser, new_partner: NewPartner, procurement: User
) -> None:
    partner = await new_partner()
    me = await browser(procurement)
    page = await me.get(NOTICE)
    assert page.status_code == 200
    assert 'name="step"' not in page.text
    fields = {"step": "publish", "audience": "partner", "partner_id": partner["id"], "due_on": _in(5)}
    refused = await me.post(NOTICE, {"_csrf_token": csrf_of(page.text), **fields})
    assert refused.status_code == 403
    theirs = await me.get(f"/ui/partners/{partner['id']}/notices")
    assert theirs.status_code == 200
    assert "?partner=" not in theirs.text


async def test_the_link_page_acknowledges_in_the_contacts_language(
    browser: OpenBrowser,
    client: Client,
    db: asyncpg.Connection,
    settings: Settings,
    new_partner: NewPartner,
    risk_owner: User,
) -> None:
    partner = await new_partner()
    published = await _publish(client, risk_owner, partner["id"])
    zh_contact = next(c for c in partner["contacts"] if c["locale"] == "zh-CN")
    token = await _token(db, settings, zh_contact["email"])
    contact = await browser(None)
    page = await contact.get(f"/n/{token}")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "安全事件报告指引" in page.text
    assert "我已阅读本通知（第 1 版），并将遵照执行。" in page.text
    assert "Acknowledge" not in page.text
    assert 'value="李雷"' in page.text
    # Not ticked: refused beside the box, the name typed kept.
    refused = await contact.post(
        f"/n/{token}", {"_csrf_token": csrf_of(page.text), "name": "李雷（信息安全）"}
    )
    assert refused.status_code == 400
    assert "请勾选确认声明。" in refused.text
    assert 'value="李雷（信息安全）"' in refused.text
    no_csrf = await contact.post(f"/n/{token}", {"name": "x", "agree": "true"})
    assert no_csrf.status_code == 403
    done = await contact.post(
        f"/n/{token}", {"_csrf_token": csrf_of(page.text), "name": "李雷（信息安全）", "agree": "true"}
    )
    assert done.status_code == 303, done.text[-1500:]
    assert done.headers["location"] == f"/n/{token}?lang=zh-CN#receipt"
    done = await contact.get(f"/n/{token}")
    assert "李雷（信息安全） 已于" in done.text
    assert 'name="agree"' not in done.text
    assert "确认第 1 版" in done.text
    english = await contact.get(f"/n/{token}", lang="en")
    assert "acknowledged version 1" in english.text
    row = await db.fetchrow(
        "SELECT acknowledged_name, acknowledged_via FROM notice_recipients"
        " WHERE publication_id = $1 AND email = $2",
        published["id"],
        zh_contact["email"],
    )
    assert (row["acknowledged_name"], row["acknowledged_via"]) == ("李雷（信息安全）", "link")
    api = await client.get(f"/api/v1/notice-publications/{published['id']}", headers=risk_owner["headers"])
    assert api.json()["summary"]["partners_acknowledged"] == 1
    listed = await client.get(f"/api/v1/partners/{partner['id']}/notices", headers=risk_owner["headers"])
    assert listed.json()[0]["acknowledged_name"] == "李雷（信息安全）"


async def test_unknown_and_expired_links_say_so(
    client: Client, db: asyncpg.Connection, settings: Settings, new_partner: NewPartner, risk_owner: User
) -> None:
    unknown = await client.get("/n/" + "A" * 43, headers={"Accept-Language": "zh-CN"})
    assert unknown.status_code == 404
    assert "此链接无效" in unknown.text
    assert (await client.get("/n/short", headers={"Accept-Language": "en"})).status_code == 404
    partner = await new_partner()
    await _publish(client, risk_owner, partner["id"])
    email = partner["contacts"][1]["email"]
    token = await _token(db, settings, email)
    await db.execute(
        "UPDATE notice_recipients SET expires_at = now() - interval '1 minute' WHERE email = $1", email
    )
    expired = await client.get(f"/n/{token}", headers={"Accept-Language": "en"})
    assert expired.status_code == 410
    assert "This link has expired" in expired.text
    assert "王芳" in expired.text


async def test_the_api_names_the_bad_field_in_the_users_language(
    client: Client, new_partner: NewPartner, risk_owner: User, auditor: User
) -> None:
    partner = await new_partner()
    base = {"notice_key": "incident-reporting", "notice_version": 1, "audience": "tier"}
    bad = await client.post(
        "/api/v1/notice-publications",
        json=base | {"audience_value": "extreme", "due_on": _in(3)},
        headers=risk_owner["headers"],
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "audience_value"
    no_due = await client.post(
        "/api/v1/notice-publications", json=base | {"audience_value": "high"}, headers=risk_owner["headers"]
    )
    assert no_due.status_code == 400
    assert no_due.json()["errors"][0]["field"] == "due_on"
    typo = await client.post(
        "/api/v1/notice-publications", json=base | {"audiance": "x"}, headers=risk_owner["headers"]
    )
    assert typo.status_code == 400
    missing = await client.post(
        "/api/v1/notice-publications",
        json=base | {"notice_version": 7, "audience_value": "high", "due_on": _in(3)},
        headers=risk_owner["headers"],
    )
    assert missing.status_code == 404
    forbidden = await client.post(
        "/api/v1/notice-publications",
        json=base | {"audience_value": "high", "due_on": _in(3)},
        headers=auditor["headers"],
    )
    assert forbidden.status_code == 403
    preview = await client.post(
        "/api/v1/notices/audience-preview",
        json={"audience": "partner", "audience_value": partner["id"]},
        headers=auditor["headers"],
    )
    assert preview.status_code == 200
    assert (preview.json()["partners"], preview.json()["contacts"]) == (1, 2)
    versions = await client.get("/api/v1/notices", headers=auditor["headers"])
    assert {v["key"] for v in versions.json()} >= {
        "partner-security-baseline",
        "entrusted-processing-pipl21",
        "phishing-social-engineering",
        "incident-reporting",
    }
    one = await client.get(
        "/api/v1/notices/phishing-social-engineering/versions/1", headers=auditor["headers"]
    )
    assert one.json()["ack_required"] is False
    assert "<h2>" in one.json()["html"]["zh-CN"]
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/notice-publications/{publication_id}/evidence" in schema["paths"]


async def test_a_publication_page_runs_the_same_queries_for_two_or_eight_contacts(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, risk_owner: User
) -> None:
    small = await new_partner()
    many = [
        {
            "name": f"联系人{i}",
            "email": f"c{i}-{small['id'][:8]}@partner.example.com",
            "locale": "zh-CN",
            "primary": i == 0,
        }
        for i in range(8)
    ]
    large = await new_partner(contacts=many)
    first = await _publish(client, risk_owner, small["id"])
    second = await _publish(client, risk_owner, large["id"])
    me = await browser(risk_owner)
    counts = []
    for published, partner in ((first, small), (second, large)):
        with count_queries() as counted:
            page = await me.get(f"/ui/notices/publications/{published['id']}")
            assert page.status_code == 200
        with count_queries() as listed:
            assert (await me.get(f"/ui/partners/{partner['id']}/notices")).status_code == 200
        counts.append((counted.queries, listed.queries))
    assert counts[0] == counts[1]
