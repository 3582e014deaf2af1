"""Notice files: the shipped four are valid; each kind of mistake is named with its file and
field; Markdown is rendered without raw HTML or unsafe links."""

from __future__ import annotations

from pathlib import Path

import pytest

from vendor_risk.notices.loader import NoticeError, parse_notice, render_markdown, validate_files
from vendor_risk.notices.service import LIBRARY_DIR

GOOD = """---
key: sample
version: 1
kind: advisory
ack_required: false
title:
  zh-CN: 示例通知
  en: Sample notice
---
=== zh-CN ===
正文。
=== en ===
Body.
"""


def test_the_shipped_notices_are_valid_and_bilingual() -> None:
    paths = sorted(LIBRARY_DIR.glob("*.md"))
    assert [p.stem for p in paths] == [
        "entrusted-processing-pipl21",
        "incident-reporting",
        "partner-security-baseline",
        "phishing-social-engineering",
    ]
    assert validate_files(paths) == []
    reporting = parse_notice((LIBRARY_DIR / "incident-reporting.md").read_text(), "incident-reporting.md")
    assert reporting.ack_required
    assert "24 小时" in reporting.body.zh_cn
    assert "24 hours" in reporting.body.en
    assert '"' not in reporting.body.zh_cn


def test_a_good_file_parses() -> None:
    notice = parse_notice(GOOD, "sample.md", stem="sample")
    assert (notice.key, notice.version, notice.kind, notice.ack_required) == ("sample", 1, "advisory", False)
    assert (notice.title.zh_cn, notice.body.en) == ("示例通知", "Body.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "sample.md: must start with front matter between '---' lines"),
        (GOOD.replace("kind: advisory", "kind: warning"), "sample.md: kind: invalid enum value 'warning'"),
        (GOOD.replace("version: 1", "version: 0"), "sample.md: version: must be an integer >= 1"),
        (
            GOOD.replace("key: sample", "key: other"),
            "sample.md: key: 'other' must equal the file name 'sample'",
        ),
        (GOOD.replace("  en: Sample notice\n", "  en: ' '\n"), "sample.md: title.en: missing translation"),
        (
            GOOD.replace("=== en ===\nBody.\n", ""),
            "sample.md: body.en: missing: add a line '=== en ===' followed by the text",
        ),
        (GOOD.replace("正文。\n", ""), "sample.md: body.zh-CN: missing translation"),
        (GOOD.replace("ack_required: false\n", ""), "sample.md: missing field `ack_required`"),
        (
            GOOD.replace("ack_required: false", "ack_required: false\nextra: 1"),
            "sample.md: unknown field `extra`",
        ),
    ],
)
def test_each_mistake_names_the_file_and_the_field(text: str, message: str) -> None:
    with pytest.raises(NoticeError) as raised:
        parse_notice(text, "sample.md", stem="sample")
    assert message in raised.value.messages


def test_validate_files_reads_each_file(tmp_path: Path) -> None:
    (tmp_path / "sample.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken.md").write_bytes(b"\xff\xfe")
    assert validate_files(sorted(tmp_path.glob("*.md"))) == ["broken.md: not UTF-8 text"]


def test_markdown_is_rendered_without_html_or_unsafe_links() -> None:
    html = render_markdown(
        "# 标题\n\n<script>alert(1)</script>\n\n[坏](javascript:alert(1)) [好](https://example.com) "
        "<img src=x onerror=alert(1)>\n\n| a | b |\n| - | - |\n| 1 | 2 |"
    )
    assert "<h1>标题</h1>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.com">好</a>' in html
    assert "<table>" in html
