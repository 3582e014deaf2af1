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
from typing import Final, Literal, NamedTuple

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


class _Field(NamedTuple):
    """One question of a section as its form sends it: the field names and the choices."""

    question: Question
    value_key: str
    na_key: str
    comment_key: str
    choices: frozenset[str]
    # One value from ``choices`` (yes/no, single choice): a ticked radio is that value.
    single: bool


# Each template section's fields, built once per template object: the repository caches
# templates by id, so a long section's save does not rebuild 120 field names and choice
# sets. The entry holds the template, so its id cannot be reused while cached.
_FIELDS: dict[tuple[int, str], tuple[Template, list[_Field]]] = {}
_FIELDS_MAX: Final = 512


def _fields(template: Template, section_id: str) -> list[_Field]:
    key = (id(template), section_id)
    cached = _FIELDS.get(key)
    if cached is not None and cached[0] is template:
        return cached[1]
    section = template.section(section_id)
    fields = [
        _Field(
            q,
            f"a:{q.id}",
            f"na:{q.id}",
            f"c:{q.id}",
            frozenset(c.value for c in q.effective_choices()),
            q.type in ("yes_no", "single_choice"),
        )
        for q in section.questions
    ]
    if len(_FIELDS) >= _FIELDS_MAX:
        _FIELDS.clear()
    _FIELDS[key] = (template, fields)
    return fields


def _parse_value(
    field: _Field, values: Sequence[str]
) -> tuple[str | int | float | list[str] | None, FieldError | None]:
    filled = [v for v in map(str.strip, values) if v]
    if not filled:
        return None, None
    kind = field.question.type
    if kind == "multi_choice":
        chosen = list(dict.fromkeys(filled))
        return chosen, None if field.choices.issuperset(chosen) else "choice"
    first = filled[0]
    if kind in ("yes_no", "single_choice"):
        return first, None if first in field.choices else "choice"
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
    rendered = set(form.get("present", ()))
    answers: dict[str, Answer | None] = {}
    raw: dict[str, RawInput] = {}
    errors: dict[str, FieldError] = {}
    for field in _fields(template, section_id):
        question = field.question
        qid = question.id
        if qid not in rendered:
            continue
        values = list(form.get(field.value_key, ()))
        na = bool(form.get(field.na_key))
        comment = (form.get(field.comment_key) or [""])[0].strip()
        raw[qid] = RawInput(values=values, na=na, comment=comment)
        if field.single and not na and not comment and len(values) == 1 and values[0] in field.choices:
            # The usual answer, a ticked radio and nothing else: nothing to clean or check.
            answers[qid] = Answer(value=values[0])
            continue
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
        value, error = _parse_value(field, values)
        if error is not None:
            errors[qid] = error
            continue
        answers[qid] = Answer(value=value, comment=comment or None) if value is not None or comment else None
    return ParsedSection(answers=answers, raw=raw, errors=errors)
