"""A partner fills and submits a questionnaire in Chinese in a real browser (Debian's
Chromium, headless): a follow-up question appears when an answer calls for it, evidence is
uploaded, the script runs under the strict Content-Security-Policy without a violation."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, expect

from tests.browser.conftest import requires_chromium
from tests.integration.assessments.conftest import PDF, Client, NewPartner, Send, User

pytestmark = requires_chromium


async def test_partner_fills_and_submits_in_chinese(
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
    link = live_url + urlsplit(sent["link"]).path
    evidence = tmp_path / "备份制度.pdf"
    evidence.write_bytes(PDF)

    # A phone's width: partners often answer from one.
    page = await chromium.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status == 404 else None)

    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("测试问卷")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.get_by_role("link", name="继续填写").click()

    # Section 1: a yes/no and a number; save and continue.
    await expect(page.get_by_role("heading", level=1)).to_have_text("访问控制")
    await page.locator("#q-ac-1").get_by_label("是").check()
    await page.get_by_label("离职员工的访问权限在几天内撤销？").fill("1")
    await page.get_by_role("button", name="保存并继续").click()

    # Section 2: the follow-up appears as soon as the answer calls for it.
    await expect(page.get_by_role("heading", level=1)).to_have_text("数据处理")
    follow_up = page.locator("#q-dh-2")
    await expect(follow_up).to_be_hidden()
    await page.locator("#q-dh-1").get_by_label("其他算法").check()
    await expect(follow_up).to_be_visible()
    await page.get_by_label("请说明加密方式。").fill("使用国密 SM4 加密存储")
    await page.locator("#q-dh-3").get_by_label("离线副本").check()
    await page.locator("#q-dh-3").get_by_label("加密").check()
    await page.locator("#f-dh-3").set_input_files(str(evidence))
    await page.get_by_role("button", name="保存", exact=True).click()

    digest = hashlib.sha256(PDF).hexdigest()
    await expect(page.get_by_role("status")).to_contain_text(f"已上传 备份制度.pdf，SHA-256：{digest}")
    await expect(follow_up).to_be_visible()
    await expect(page.get_by_label("请说明加密方式。")).to_have_value("使用国密 SM4 加密存储")
    # The long digest wraps instead of widening the page past the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    # Review and submit.
    await page.get_by_role("link", name="检查并提交").first.click()
    await expect(page.get_by_text("所有必答问题均已回答")).to_be_visible()
    await page.get_by_label("提交人姓名").fill("李雷")
    await page.get_by_label("本人确认以上回答真实、准确").check()
    await page.get_by_role("button", name="提交问卷").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("提交回执")
    await expect(page.get_by_text("已提交，等待审核")).to_be_visible()
    receipt = await page.content()
    assert problems == []

    detail = await client.get(
        f"/api/v1/assessments/{sent['assessment']['id']}", headers=risk_owner["headers"]
    )
    body = detail.json()
    assert body["status"] == "submitted"
    answers = body["answers"][0]["answers"]
    assert answers["dh-1"]["value"] == "other"
    assert answers["dh-2"]["value"] == "使用国密 SM4 加密存储"
    assert sorted(answers["dh-3"]["value"]) == ["encrypted", "offline"]
    assert [e["sha256"] for e in body["evidence"]] == [digest]
    assert body["receipt_hash"] in receipt
