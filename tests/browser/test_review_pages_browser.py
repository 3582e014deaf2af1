"""Procurement sends a questionnaire and a risk owner reviews it and works the findings
board, in Debian's Chromium at a phone's width: no page wider than the screen, no script
error, a screenshot per step (kept in the test's tmp_path)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import requires_chromium, sign_in_page
from tests.integration.assessments.conftest import Client, NewPartner, Partner, Send, User, complete

pytestmark = requires_chromium


async def _phone(chromium: Browser, live_url: str, user: User, problems: list[str]) -> Page:
    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(f"{live_url}/ui/login")
    await sign_in_page(page, user)
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


async def test_send_review_and_the_findings_board_on_a_phone(
    live_url: str,
    chromium: Browser,
    client: Client,
    new_partner: NewPartner,
    send: Send,
    procurement: User,
    risk_owner: User,
    tmp_path: Path,
) -> None:
    problems: list[str] = []
    partner = await new_partner()

    async def fits(page: Page, name: str) -> None:
        await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide on a 390px screen"

    buyer = await _phone(chromium, live_url, procurement, problems)
    await buyer.goto(f"{live_url}/ui/partners/{partner['id']}/assessments/new")
    await expect(buyer.get_by_role("heading", level=1)).to_have_text("发送评估问卷")
    await expect(buyer.locator("#preview")).to_contain_text(partner["contacts"][0]["email"])
    await fits(buyer, "send")
    await buyer.get_by_label("附言").fill("请在两周内完成")
    await buyer.get_by_role("button", name="预览邮件").click()
    await expect(buyer.locator("#preview pre")).to_contain_text("请在两周内完成")
    await fits(buyer, "send-preview")
    await buyer.get_by_role("button", name="发送", exact=True).click()
    await expect(buyer.locator("p.notice")).to_contain_text("已发送")
    await fits(buyer, "sent")

    # The partner answers (through the portal, as in the other tests) a second assessment
    # sent by the API, since the page's link went by email.
    other = await new_partner()
    sent = await send(other["id"])
    await complete(Partner(client, sent["link"]), **{"dh-1": "none"})

    owner = await _phone(chromium, live_url, risk_owner, problems)
    await owner.goto(f"{live_url}/ui/assessments/{sent['assessment']['id']}")
    await expect(owner.locator("#decision")).to_be_visible()
    await fits(owner, "review")
    await owner.get_by_role("link", name="仅未通过").click()
    await expect(owner.locator("li.failed").first).to_be_visible()
    await fits(owner, "review-failed")

    await owner.goto(f"{live_url}/ui/findings?partner={other['id']}")
    await expect(owner.locator("table.board")).to_be_visible()
    await fits(owner, "findings")
    await owner.get_by_text("指派负责人和期限").first.click()
    await fits(owner, "findings-assign")
    assert problems == []
