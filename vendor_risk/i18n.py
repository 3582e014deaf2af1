"""The one message catalogue (gettext ``.po`` files read with Babel) and the choice of
language for a page, an email or a problem detail.

Every user-facing text is an entry of ``locale/{zh_CN,en}/LC_MESSAGES/messages.po``. The
msgids are stable keys (``nav_partners``, ``severity_high``): a code's label is the entry
keyed by the code, never a string built from words. Placeholders are ``{name}``s filled by
``str.format`` and are the same in both languages (a unit test checks it). The catalogue
is read once per process; nothing is parsed per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Final

LANGUAGES: Final = ("zh-CN", "en")
DEFAULT_LANGUAGE: Final = "zh-CN"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
# Our language tags and gettext's locale folder names.
_FOLDERS: Final = {"zh-CN": "zh_CN", "en": "en"}


def catalogue_file(lang: str) -> Path:
    return LOCALE_DIR / _FOLDERS[lang] / "LC_MESSAGES" / "messages.po"


@cache
def messages() -> Mapping[str, Mapping[str, str]]:
    """Language -> key -> text, read once; an entry without a translation is left out, so
    the unit test that compares the two languages names it."""
    # Imported here, its one user: Babel is a few percent of a process's start otherwise.
    from babel.messages.pofile import read_po

    loaded: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        with catalogue_file(lang).open("rb") as handle:
            catalog = read_po(handle, locale=_FOLDERS[lang])
        loaded[lang] = {
            str(message.id): str(message.string)
            for message in catalog
            if message.id and isinstance(message.string, str) and message.string
        }
    return loaded


def negotiate(query: str | None, accept_language: str | None) -> str:
    """The language: ``?lang=`` when it names one we speak, then the first Accept-Language
    range we speak (any ``zh`` means Chinese), else Chinese."""
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
    """``t(key, **values)`` in ``lang``; an unknown key raises KeyError (a test walks every
    page, so a missing entry fails there rather than showing a key to a user)."""
    catalog = messages()[lang if lang in LANGUAGES else DEFAULT_LANGUAGE]

    def t(key: str, **values: object) -> str:
        text = catalog[key]
        return text.format(**values) if values else text

    return t


def has_label(key: str) -> bool:
    """Whether the catalogue has ``key`` (for codes whose label is optional, like a
    category a firm added without one)."""
    return key in messages()[DEFAULT_LANGUAGE]
