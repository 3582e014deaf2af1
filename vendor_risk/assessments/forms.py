"""Reading a portal section form into answers (pure, no I/O).

Field names: ``present`` lists the questions the page rendered (an unticked checkbox or
radio sends nothing, so this is how "cleared" differs from "not on the page"); ``a:<id>``
holds the value (repeated for multi-choice), ``na:<id>`` ticks N/A, ``c:<id>`` is the
partner's comment. What the partner typed is kept as text so that a page re-rendered
with an error shows exactly what was typed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import msgspec

from vendor_risk.questionnaires.models import Answer, Question, Template

MAX_TEXT: Final = 10_000
MAX_COMMENT: Final = 4_000

_GROUPED: Final = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
# What a typed text may not contain (the API's long-text rule: tab and line breaks pass).
CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# ... and what a one-line text (a name) may not contain.
LINE_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")

FieldError = Literal["number", "negative", "date", "choice", "too_long", "na_not_allowed", "control"]


class RawInput(msgspec.Struct, kw_only=True):
    """What the partner typed for one question, for re-rendering."""

    values: list[str] = msgspec.field(default_factory=list)
    na: bool = False
    comment: str = ""


class ParsedSection(msgspec.Struct, kw_only=True):
    # None clears the answer.
    answers: dict[str, Answer | None]
    raw: dict[str, RawInput]
    errors: dict[str, FieldError]


def raw_from_answer(answer: Answer | None) -> RawInput:
    """The form input that shows a stored answer."""
    if answer is None:
        return RawInput()
    value = answer.value
    if value is None:
        values: list[str] = []
    elif isinstance(value, list):
        values = list(value)
    elif isinstance(value, float) and value.is_integer():
        values = [str(int(value))]
    else:
        values = [str(value)]
    return RawInput(values=values, na=answer.na, comment=answer.comment or "")


def _number(text: str) -> int | float | None:
    # Browsers send "." decimals; people typing into a text field abroad or in China
    # may use a full-width digit or a comma. Commas grouping thousands ("1,000", as both
    # Chinese and English write them) are dropped; any other comma is a decimal comma.
    cleaned = text.strip().translate(str.maketrans("０１２３４５６７８９．，", "0123456789.,"))
    cleaned = cleaned.replace(",", "") if _GROUPED.fullmatch(cleaned) else cleaned.replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return (
        int(number) if number.is_integer() and "." not in cleaned and "e" not in cleaned.lower() else number
    )


def _parse_value(
    question: Question, values: Sequence[str]
) -> tuple[str | int | float | list[str] | None, FieldError | None]:
    filled = [v for v in map(str.strip, values) if v]
    if not filled:
        return None, None
    kind = question.type
    if kind == "multi_choice":
        allowed = {c.value for c in question.effective_choices()}
        chosen = list(dict.fromkeys(filled))
        return chosen, None if all(v in allowed for v in chosen) else "choice"
    first = filled[0]
    if kind in ("yes_no", "single_choice"):
        return first, None if any(c.value == first for c in question.effective_choices()) else "choice"
    if kind == "number":
        number = _number(first)
        if number is None:
            return None, "number"
        # Every number a questionnaire asks is a count or a duration; a negative one is a
        # typo that bands scoring "at most N hours" would reward with full marks.
        return number, "negative" if number < 0 else None
    if kind == "date":
        try:
            dt.date.fromisoformat(first)
        except ValueError:
            return first, "date"
        return first, None
    text = values[0].strip()
    return text, None if len(text) <= MAX_TEXT else "too_long"


def parse_section_form(
    template: Template, section_id: str, form: Mapping[str, Sequence[str]]
) -> ParsedSection:
    """Answers for the questions of ``section_id`` the form says it rendered.

    Questions of other sections and unknown fields are ignored: a forged form cannot
    touch another section. N/A wins over a value (the page disables the value inputs when
    N/A is ticked; without JavaScript both may arrive).
    """
    section = next(s for s in template.sections if s.id == section_id)
    rendered = set(form.get("present", ()))
    answers: dict[str, Answer | None] = {}
    raw: dict[str, RawInput] = {}
    errors: dict[str, FieldError] = {}
    for question in section.questions:
        qid = question.id
        if qid not in rendered:
            continue
        values = list(form.get(f"a:{qid}", ()))
        na = bool(form.get(f"na:{qid}"))
        comment = (form.get(f"c:{qid}") or [""])[0].strip()
        raw[qid] = RawInput(values=values, na=na, comment=comment)
        if len(comment) > MAX_COMMENT:
            errors[qid] = "too_long"
            continue
        if CONTROL.search(comment) or any(map(CONTROL.search, values)):
            errors[qid] = "control"
            continue
        if na:
            if not question.na_allowed:
                errors[qid] = "na_not_allowed"
                continue
            answers[qid] = Answer(na=True, comment=comment or None)
            continue
        value, error = _parse_value(question, values)
        if error is not None:
            errors[qid] = error
            continue
        answers[qid] = Answer(value=value, comment=comment or None) if value is not None or comment else None
    return ParsedSection(answers=answers, raw=raw, errors=errors)
