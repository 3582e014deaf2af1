"""A risk owner signs in with password and TOTP, in Chinese, and reviews an assessment in a
real browser (Debian's Chromium, headless) at a phone's width: no script is needed, nothing breaks the strict
Content-Security-Policy, and no page is wider than the screen."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pyotp
from playwright.async_api import Browser, expect

from tests.browser.conftest import requires_chromium
from tests.integration.assessments.conftest import Client, NewPartner, Partner, Send, User, complete

pytestmark = requires_chromium


async def reset_code_step(user: User) -> None:
    """Forget the last code this test user spent, so that this sign-in's code is fresh."""
    conn = await asyncpg.connect(user["database_url"])
    try:
        await conn.execute("UPDATE users SET totp_last_step = NULL WHERE id = $1", user["id"])
    finally:
        await conn.close()


async def test_risk_owner_requests_changes_on_a_phone(
    live_url: str,
    chromium: Browser,
    client: Client,
    new_partner: NewPartner,
    send: Send,
    risk_owner: User,
    tmp_path: Path,
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]), **{"dh-1": "none", "dh-2": "<script>alert(1)</script>"})
    await reset_code_step(risk_owner)

    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: problems.append(f"dialog {d.message}"))

    async def fits(name: str) -> None:
        await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide on a 390px screen"

    await page.goto(f"{live_url}/ui/reviews")
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    await fits("login")
    await page.get_by_label("电子邮箱").fill(risk_owner["email"])
    await page.get_by_label("密码").fill(risk_owner["password"])
    await page.get_by_role("button", name="登录").click()
    # The risk owner's role requires a second factor: the code from the authenticator app.
    await expect(page.get_by_role("heading", level=1)).to_have_text("两步验证")
    await fits("code")
    await page.get_by_label("验证码").fill(pyotp.TOTP(risk_owner["totp_secret"]).now())
    await page.get_by_role("button", name="验证").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("审核队列")
    await fits("reviews")
    await page.get_by_role("link", name=partner["name"]).click()
    await expect(page.locator("#answers")).to_contain_text("<script>alert(1)</script>")
    await fits("assessment")

    await page.locator("textarea[name='c:valid-example:dh-1']").fill("请说明加密方式")
    await page.get_by_role("button", name="要求修改").click()
    await expect(page.locator("#reviews")).to_contain_text("请说明加密方式")
    await expect(page.locator("dl.facts")).to_contain_text("待修改")

    await page.goto(f"{live_url}/ui?lang=en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs action today")
    await fits("dashboard")
    await page.goto(f"{live_url}/ui/partners/{partner['id']}")
    await fits("partner")
    await page.goto(f"{live_url}/ui/account")
    await expect(page.locator("#sessions")).to_contain_text("(this session)")
    await fits("account")
    await page.goto(f"{live_url}/ui/account/second-factor")
    await expect(page.locator("svg")).to_be_visible()
    await fits("enrol")
    assert problems == []
