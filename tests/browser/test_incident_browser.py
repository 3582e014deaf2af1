"""Incidents, the dashboard and the admin pages in a real browser (Debian's Chromium,
headless) at a phone's width: no script needed, nothing wider than the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import requires_chromium, sign_in_page
from tests.integration.assessments.conftest import NewPartner, User

pytestmark = requires_chromium


async def signed_in(chromium: Browser, live_url: str, user: User) -> Page:
    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    await page.goto(f"{live_url}/ui/login?lang=zh-CN")
    await sign_in_page(page, user)
    await expect(page.get_by_role("heading", level=1)).to_have_text("今天需要处理的事项")
    return page


async def test_an_incident_and_the_admin_pages_fit_a_phone(
    live_url: str,
    chromium: Browser,
    new_partner: NewPartner,
    risk_owner: User,
    make_user: Any,
    tmp_path: Path,
) -> None:
    shots = tmp_path  # the screenshots are the test's artefacts
    partner = await new_partner(name="金蝶云星辰（演示用长名称，检查换行）")
    page = await signed_in(chromium, live_url, risk_owner)

    async def fits(name: str) -> None:
        await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide on a 390px screen"

    await page.goto(f"{live_url}/ui/partners/{partner['id']}")
    await page.locator("#incidents").get_by_role("button", name="开启事件").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("开启安全事件")
    await fits("incident-open")
    await page.get_by_label("事件标题").fill("共享邮箱疑似被钓鱼，发票数据可能外泄")
    await page.get_by_role("button", name="开启事件").click()
    await expect(page.locator("#step-contain")).to_contain_text("立即控制")
    await fits("incident")
    await page.locator("#f-note-contain").fill("已电话联系负责人")
    await page.locator("#f-evidence-contain").fill("SEC-1042")
    await page.locator("#step-contain").get_by_role("button", name="完成").click()
    await expect(page.locator("#step-contain")).to_contain_text("已完成")
    await page.locator("#close").get_by_role("button", name="关闭事件").click()
    await expect(page.locator("#close .error-summary")).to_contain_text("不能关闭")
    await fits("incident-close-refused")
    await page.goto(f"{live_url}/ui")
    await expect(page.locator("#dash-incidents")).to_contain_text("共享邮箱疑似被钓鱼")
    await fits("dashboard")

    admin = await make_user("admin", name="管理员张伟")
    page = await signed_in(chromium, live_url, admin)
    for name, path in (
        ("webhooks", "/ui/admin/webhooks"),
        ("outbox", "/ui/admin/outbox?status=all"),
        ("audit", "/ui/audit"),
    ):
        await page.goto(f"{live_url}{path}")
        await fits(name)
