"""Procurement registers a partner in a real browser (Debian's Chromium, headless) on a
phone: htmx checks the credit code as it is typed under the strict Content-Security-Policy,
the form posts without it, and no partner page is wider than the screen."""

from __future__ import annotations

import secrets
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.conftest import requires_chromium, sign_in_page
from tests.helpers import new_credit_code
from tests.integration.assessments.conftest import NewPartner, User

pytestmark = requires_chromium


async def test_procurement_registers_a_partner_on_a_phone(
    live_url: str,
    chromium: Browser,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    tmp_path: Path,
) -> None:
    await new_partner(name="手机列表样例 " + "很长的合作方名称" * 3)
    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    async def fits(name: str) -> None:
        await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide on a 390px screen"

    await page.goto(f"{live_url}/ui/partners?lang=zh-CN")
    await sign_in_page(page, procurement)
    await expect(page.get_by_role("heading", level=1)).to_have_text("合作方")
    await fits("partners")

    await page.get_by_role("link", name="登记合作方").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("登记合作方")
    code = new_credit_code()
    credit = page.get_by_label("统一社会信用代码")
    await credit.fill(code[:17] + ("0" if code[17] != "0" else "1"))
    # htmx asked the server and swapped its answer in beside the field.
    await expect(page.locator("#credit-code-check")).to_contain_text("校验位（第 18 位）应为")
    await credit.fill(code)
    await expect(page.locator("#credit-code-check")).to_contain_text("校验通过")
    await fits("partner-form")

    tag = secrets.token_hex(3)
    await page.locator("#f-name").fill(f"手机登记 {tag}")
    await page.locator("#f-legal_name").fill(f"手机登记科技有限公司 {tag}")
    await page.locator("#f-contacts-0-name").fill("王芳")
    await page.locator("#f-contacts-0-email").fill(f"wang.{tag}@example.com")
    await page.locator("#f-contacts-0-primary").check()
    await page.get_by_role("button", name="保存").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"手机登记 {tag}")
    await expect(page.locator("#lifecycle")).to_contain_text("请为合作方指定风险负责人。")
    await fits("partner")

    await page.get_by_role("link", name="申请数据范围").click()
    await fits("scope-form")
    await page.go_back()
    await page.get_by_role("link", name="新增协议").click()
    await fits("agreement-form")
    assert problems == []
