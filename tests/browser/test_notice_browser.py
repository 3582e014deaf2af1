"""A partner's contact reads a security notice and acknowledges it in Chinese on a 390 px
phone, in a real browser (Debian's Chromium, headless), without any script of ours."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from playwright.async_api import Browser, expect

from tests.browser.conftest import requires_chromium
from tests.helpers import outbox_emails
from tests.integration.assessments.conftest import Client, NewPartner, User
from vendor_risk.settings import Settings

pytestmark = requires_chromium


async def test_a_contact_acknowledges_a_notice_on_a_phone_in_chinese(
    live_url: str,
    chromium: Browser,
    client: Client,
    db: asyncpg.Connection,
    settings: Settings,
    new_partner: NewPartner,
    risk_owner: User,
    tmp_path: Path,
) -> None:
    partner = await new_partner()
    due = (datetime.now(UTC).date() + timedelta(days=14)).isoformat()
    published = await client.post(
        "/api/v1/notice-publications",
        json={
            "notice_key": "incident-reporting",
            "notice_version": 1,
            "audience": "partner",
            "audience_value": partner["id"],
            "due_on": due,
        },
        headers=risk_owner["headers"],
    )
    assert published.status_code == 201, published.text
    contact = partner["contacts"][0]
    [email] = await outbox_emails(
        db, settings.data_keys, "topic = 'notice.published' AND payload->>'to' = $1", contact["email"]
    )
    match = re.search(r"/n/[A-Za-z0-9_-]{43}", email["text"])
    assert match is not None

    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    problems: list[str] = []
    # The refused form answers 400 on purpose (Chromium logs that as a console error).
    page.on(
        "console", lambda m: problems.append(m.text) if m.type == "error" and "400" not in m.text else None
    )
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    await page.goto(live_url + match.group(0))
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_role("heading", level=1)).to_have_text("安全事件报告指引")
    await expect(page.get_by_role("heading", name="报告时限")).to_be_visible()
    # Nothing wider than the phone: the deadline table scrolls inside its own box.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    name = page.get_by_label("确认人姓名")
    await expect(name).to_have_value(contact["name"])
    await name.fill("李雷（信息安全部）")
    await page.get_by_role("button", name="提交确认").click()
    await expect(page.get_by_text("请勾选确认声明。")).to_be_visible()
    await expect(page.get_by_label("确认人姓名")).to_have_value("李雷（信息安全部）")
    await page.get_by_label("我已阅读本通知（第 1 版），并将遵照执行。").check()
    await page.get_by_role("button", name="提交确认").click()
    receipt = page.get_by_role("status")
    await expect(receipt).to_contain_text("李雷（信息安全部） 已于")
    await expect(receipt).to_contain_text("确认第 1 版")
    await expect(page.get_by_role("button", name="提交确认")).to_have_count(0)
    await page.screenshot(path=str(tmp_path / "notice-ack-zh-390.png"), full_page=True)
    assert problems == []
