"""The portal's and the emails' own words (``vendor_risk/locale/messages.yaml``), and the
choice of language for a page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Final

import msgspec
import yaml

LANGUAGES: Final = ("zh-CN", "en")
DEFAULT_LANGUAGE: Final = "zh-CN"
MESSAGES_FILE: Final = Path(__file__).resolve().parent.parent / "locale" / "messages.yaml"


class Entry(msgspec.Struct, forbid_unknown_fields=True):
    zh_cn: str = msgspec.field(name="zh-CN")
    en: str


@cache
def messages() -> Mapping[str, Mapping[str, str]]:
    """Language -> key -> text; a key missing a language fails at the first use."""
    raw = yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))
    entries = msgspec.convert(raw, dict[str, Entry])
    return {
        "zh-CN": {key: entry.zh_cn for key, entry in entries.items()},
        "en": {key: entry.en for key, entry in entries.items()},
    }


def negotiate(query: str | None, accept_language: str | None) -> str:
    """The page language: ``?lang=`` when it names one we speak, then the first
    Accept-Language range we speak (any ``zh`` means Chinese), else Chinese."""
    if query in LANGUAGES:
        return query
    ranges: list[tuple[float, int, str]] = []
    for index, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            ranges.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranges):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``."""
    catalog = messages()[lang if lang in LANGUAGES else DEFAULT_LANGUAGE]

    def t(key: str, **values: object) -> str:
        text = catalog[key]
        return text.format(**values) if values else text

    return t
