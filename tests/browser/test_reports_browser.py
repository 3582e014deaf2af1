"""An auditor downloads the portfolio PDF report and the partner register from the staff
pages in a real browser (Debian's Chromium, headless) at a phone's width."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl
from playwright.async_api import Browser, expect

from tests.browser.conftest import requires_chromium, sign_in_page
from tests.integration.assessments.conftest import NewPartner, User, auditor  # noqa: F401 - a fixture

pytestmark = requires_chromium


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout


async def test_an_auditor_downloads_the_pdf_report_and_the_partner_register(
    live_url: str,
    chromium: Browser,
    new_partner: NewPartner,
    auditor: User,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    partner = await new_partner(name="下载测试合作方")
    context = await chromium.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, accept_downloads=True
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(f"{live_url}/ui/reports")
    await sign_in_page(page, auditor)
    await page.get_by_role("link", name="报表").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("报表")
    await expect(page.get_by_role("img", name="风险热力图：分级 × 评级")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    await page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)
    assert width <= 390, f"the reports page is {width}px wide on a 390px screen"

    async with page.expect_download() as pdf_download:
        await page.get_by_role("link", name="合作方风险总览报告（PDF）").click()
    pdf = await pdf_download.value
    assert pdf.suggested_filename.startswith("合作方风险总览报告-")
    assert pdf.suggested_filename.endswith(".pdf")
    pdf_path = tmp_path / "report.pdf"
    await pdf.save_as(pdf_path)
    text = pdf_text(pdf_path)
    assert "合作方风险总览报告" in text

    register = page.locator("#exports li").filter(has_text="合作方清单")
    async with page.expect_download() as xlsx_download:
        await register.get_by_role("link", name="下载 Excel（XLSX）").click()
    xlsx = await xlsx_download.value
    assert xlsx.suggested_filename.startswith("合作方清单-")
    xlsx_path = tmp_path / "register.xlsx"
    await xlsx.save_as(xlsx_path)
    sheet = openpyxl.load_workbook(xlsx_path).worksheets[0]
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert partner["name"] in names
    assert problems == []
    await context.close()
