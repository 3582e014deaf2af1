"""Shared msgspec bases.

Every request Struct forbids unknown fields, so a misspelt field is a 400 naming it
instead of being silently dropped.
"""

from __future__ import annotations

import msgspec


class Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for API and content Structs."""


class I18nText(Base):
    """A text in both languages the product speaks."""

    zh_cn: str = msgspec.field(name="zh-CN")
    en: str

    def get(self, lang: str) -> str:
        return self.zh_cn if lang == "zh-CN" else self.en
