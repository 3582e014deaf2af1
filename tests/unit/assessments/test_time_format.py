"""Times on pages and in emails are Beijing time; in Chinese the zone is in full-width
parentheses (no ASCII parenthesis right after Chinese text)."""

from __future__ import annotations

from datetime import UTC, datetime

from vendor_risk.assessments.emails import format_time

MOMENT = datetime(2026, 12, 1, 14, 11, tzinfo=UTC)


def test_chinese_times_use_full_width_parentheses() -> None:
    shown = format_time(MOMENT, "zh-CN")
    assert shown.endswith("22:11（北京时间）"), shown
    assert "(" not in shown


def test_english_times_keep_ascii_parentheses() -> None:
    assert format_time(MOMENT, "en").endswith("22:11 (China Standard Time)")
