"""The catalogue's entries exist in both languages with the same placeholders."""

import string

import pytest

from vendor_risk.i18n import messages, negotiate, translator


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_has_both_languages_with_the_same_placeholders() -> None:
    zh, en = messages()["zh-CN"], messages()["en"]
    assert zh.keys() == en.keys()
    for key in zh:
        assert zh[key].strip(), key
        assert en[key].strip(), key
        assert placeholders(zh[key]) == placeholders(en[key]), key


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("en", "zh-CN,zh;q=0.9", "en"),
        ("zh-CN", "en-US", "zh-CN"),
        (None, "en-GB,en;q=0.9,zh;q=0.5", "en"),
        (None, "fr;q=1, zh-TW;q=0.8, en;q=0.7", "zh-CN"),
        (None, "en;q=0.4, zh;q=0.9", "zh-CN"),
        (None, "zh;q=0, en", "en"),
        (None, None, "zh-CN"),
        ("de", "de-DE", "zh-CN"),
        (None, "garbage;q=abc", "zh-CN"),
    ],
)
def test_language_from_query_then_accept_language_then_chinese(
    query: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(query, header) == expected


def test_translator_fills_placeholders() -> None:
    assert translator("en")("due_on", date="2025-06-30") == "Due on 2025-06-30"
    assert translator("zh-CN")("due_on", date="2025年6月30日") == "截止日期：2025年6月30日"
