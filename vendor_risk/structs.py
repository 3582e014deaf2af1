"""Shared msgspec bases.

Every request Struct forbids unknown fields, so a misspelt field is a 400 naming it
instead of being silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

# Control characters (C0, DEL and C1) are refused in every text a client sends: PostgreSQL
# refuses NUL outright (a 500 instead of a 400), CR/LF in a name or an address splits the
# header of the email it goes into, and the rest corrupt logs and exports. The checks are
# patterns in the types, so msgspec refuses them while decoding and names the field.
# ``$(?!\n)`` is the end of the text: Python's ``$`` also matches before a final newline.
ONE_LINE_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f]*$(?!\n)"
# A name: one line with at least one visible character (a name of spaces is no name).
NAME_PATTERN: Final = r"^(?=.*\S)[^\x00-\x1f\x7f-\x9f]*$(?!\n)"
# Long text keeps its tabs and line breaks (a browser posts a textarea's lines as CRLF).
TEXT_PATTERN: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# A reason or a comment: long text that is not only blanks.
FILLED_TEXT_PATTERN: Final = r"^(?=[\s\S]*\S)[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"

ONE_LINE: Final = msgspec.Meta(pattern=ONE_LINE_PATTERN)
NAME: Final = msgspec.Meta(pattern=NAME_PATTERN)
TEXT: Final = msgspec.Meta(pattern=TEXT_PATTERN)
FILLED_TEXT: Final = msgspec.Meta(pattern=FILLED_TEXT_PATTERN)

# The staff pages' catalogue key for each pattern.
PATTERN_KEYS: Final = {
    ONE_LINE_PATTERN: "form_one_line",
    NAME_PATTERN: "form_name",
    TEXT_PATTERN: "form_text_control",
    FILLED_TEXT_PATTERN: "form_filled_text",
}
# What an API client is told when one of the patterns above refuses a value.
PATTERN_MESSAGES: Final = {
    ONE_LINE_PATTERN: "must be one line without control characters",
    NAME_PATTERN: "must be one line with a visible character and no control characters",
    TEXT_PATTERN: "must not contain control characters (tab and line breaks are fine)",
    FILLED_TEXT_PATTERN: "must not be blank or contain control characters (tab and line breaks are fine)",
}

Line = Annotated[str, ONE_LINE]
LongText = Annotated[str, TEXT]

# PostgreSQL ``integer`` columns: a larger number is a 400, not an overflow in the driver.
INT4_MAX: Final = 2_147_483_647
Int4 = Annotated[int, msgspec.Meta(ge=-INT4_MAX - 1, le=INT4_MAX)]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT4_MAX)]
# The ``version`` a client sends back for optimistic concurrency.
Version = Annotated[int, msgspec.Meta(ge=0, le=INT4_MAX)]


class Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for API and content Structs."""


class I18nText(Base):
    """A text in both languages the product speaks."""

    zh_cn: LongText = msgspec.field(name="zh-CN")
    en: LongText

    def get(self, lang: str) -> str:
        return self.zh_cn if lang == "zh-CN" else self.en
