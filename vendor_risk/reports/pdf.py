"""Documents as HTML (the same Jinja templates the pages show) and as PDF through WeasyPrint.

WeasyPrint lays the HTML out with Pango and embeds the subset of Noto Sans CJK it uses, so
the Chinese text prints anywhere. It is given no base URL and a fetcher that refuses every
address: nothing a user typed can make the server fetch a resource (SSRF), and the
stylesheet is inlined from the package. Layout is CPU work, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final, NoReturn

from vendor_risk.assessments.emails import format_date, format_time
from vendor_risk.assessments.rendering import render
from vendor_risk.i18n import translator

STYLESHEET: Final = Path(__file__).resolve().parent.parent / "static" / "reports.css"
PDF_MEDIA_TYPE: Final = "application/pdf"


@cache
def stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"documents load no external resources ({url[:40]})")


def document_html(name: str, lang: str, generated_at: datetime, **context: Any) -> str:
    """A document's HTML: ``templates/reports/{name}.html`` with the common helpers."""
    values = {
        "lang": lang,
        "t": translator(lang),
        "date": lambda d: format_date(d, lang) if d else "",
        "time": lambda d: format_time(d, lang) if d else "",
        "i18n": lambda text: text.get(lang) if text else "",
        "generated_at": generated_at,
        # After a label: full-width after Chinese text.
        "sep": "：" if lang == "zh-CN" else ": ",
        "stylesheet": stylesheet(),
        **context,
    }
    return render(f"reports/{name}.html", values)


def _write_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads Pango

    pdf: bytes = HTML(string=html, url_fetcher=refuse_fetch).write_pdf()
    return pdf


async def to_pdf(html: str) -> bytes:
    return await asyncio.to_thread(_write_pdf, html)
