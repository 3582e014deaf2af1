"""Partner self-service in a real browser (Debian's Chromium, headless), in Chinese on a
390 px phone: sign in with the link read from the outbox, upload a certificate, report a
security incident; no page is wider than the phone and no script or style is refused."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import requires_chromium
from tests.helpers import outbox_emails
from tests.integration.assessments.conftest import PDF, NewPartner, Send
from vendor_risk.db import connect
from vendor_risk.settings import Settings

pytestmark = requires_chromium
LINK = re.compile(r"https?://[^/\s]+(/p/link/[A-Za-z0-9_-]{43})")
# Screenshots for a person to look at; kept where SCREENSHOT_DIR points.
SHOTS = os.environ.get("SCREENSHOT_DIR")


async def shoot(page: Page, name: str, tmp_path: Path) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"selfservice-{name}.png"), full_page=True)


async def fits_the_phone(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


async def emailed_link(settings: Settings, email: str) -> str:
    conn = await connect(settings.database_url or "", data_keys=settings.data_keys)
    try:
        emails = await outbox_emails(
            conn, settings.data_keys, "topic = 'selfservice_link' AND payload->>'to' = $1", email
        )
    finally:
        await conn.close()
    found = LINK.search(emails[-1]["text"])
    assert found
    return found.group(1)


async def test_self_service_on_a_phone_in_chinese(
    live_url: str,
    chromium: Browser,
    settings: Settings,
    new_partner: NewPartner,
    send: Send,
    tmp_path: Path,
) -> None:
    partner = await new_partner()
    await send(partner["id"])
    email = partner["contacts"][0]["email"]
    certificate = tmp_path / "ISO27001证书.pdf"
    certificate.write_bytes(PDF)

    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    problems: list[str] = []
    # The refused upload is answered 400 on purpose; Chromium logs that as an error.
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "status of 400" not in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))

    def refused(response: Any) -> None:
        if response.status >= 500 or (response.status == 404 and "/static/" in response.url):
            problems.append(f"{response.status} {response.url}")

    page.on("response", refused)

    await page.goto(live_url + "/p")
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录自助服务")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.get_by_label("邮箱").fill(email)
    await page.get_by_role("button", name="发送登录链接").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("请查收邮件")
    await fits_the_phone(page)

    await page.goto(live_url + await emailed_link(settings, email))
    await shoot(page, "1-link", tmp_path)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(partner["name"])
    await expect(page.locator("#questionnaires")).to_contain_text("测试问卷")
    await fits_the_phone(page)
    await shoot(page, "2-home", tmp_path)

    # Upload a certificate; a missing expiry date comes back beside its field first.
    await page.locator("#certificates").get_by_role("link", name="上传证书").click()
    await page.get_by_label("证书类型").select_option("iso27001")
    await page.get_by_label("发证机构").fill("中国质量认证中心")
    await page.get_by_label("证书编号").fill("ISMS-2026-0099")
    await page.get_by_label("认证范围").fill("云端记账平台的开发与运维")
    await page.get_by_label("证书文件").set_input_files(str(certificate))
    await page.get_by_role("button", name="上传证书").click()
    await expect(page.locator("#f-expires_on-error")).to_be_visible()
    await expect(page.get_by_label("证书编号")).to_have_value("ISMS-2026-0099")
    await fits_the_phone(page)
    await shoot(page, "3-certificate-error", tmp_path)
    await page.get_by_label("有效期至").fill("2028-06-30")
    await page.get_by_label("证书文件").set_input_files(str(certificate))
    await page.get_by_role("button", name="上传证书").click()
    await expect(page.get_by_role("status")).to_contain_text("证书已上传")
    await expect(page.locator("#certificates")).to_contain_text("ISMS-2026-0099")
    await expect(page.locator("#certificates")).to_contain_text("待核验")

    # Report a security incident.
    await page.locator("#report").get_by_role("link", name="报告安全事件").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("报告安全事件")
    await page.get_by_label("发生了什么").fill("员工笔记本电脑在出租车上遗失，电脑中有客户工资表。")
    await page.get_by_label("大约涉及多少人").select_option("10_100")
    await page.get_by_label("电话").fill("13800000000")
    await fits_the_phone(page)
    await shoot(page, "4-report", tmp_path)
    await page.get_by_role("button", name="提交报告").click()
    await expect(page.get_by_role("status")).to_contain_text("您的事件报告已提交")
    await fits_the_phone(page)
    await shoot(page, "5-reported", tmp_path)

    await page.get_by_role("button", name="退出").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录自助服务")
    assert problems == []
