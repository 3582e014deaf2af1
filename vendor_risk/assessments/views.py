"""What the portal's templates show, built from templates, answers and evidence (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from vendor_risk.assessments.forms import RawInput, raw_from_answer
from vendor_risk.assessments.models import Evidence, MissingItem
from vendor_risk.questionnaires.models import Answer, Condition, Question, Section, Template
from vendor_risk.questionnaires.scoring import is_answered, visibility

Translate = Callable[..., str]

ERROR_KEYS = {
    "number": "error_number",
    "negative": "error_negative",
    "date": "error_date",
    "choice": "error_choice",
    "too_long": "error_too_long",
    "na_not_allowed": "error_na_not_allowed",
    "control": "error_control",
    "no_evidence": "error_no_evidence",
    "quota": "error_evidence_quota",
    "file_size": "error_text_413",
    "file_type": "error_text_415",
    "file_empty": "error_file_empty",
}


class Shown(msgspec.Struct, kw_only=True):
    """An answer as text, for the receipt and the conflict page."""

    text: str
    comment: str | None


def describe(question: Question, answer: Answer | None, lang: str, t: Translate) -> Shown | None:
    if answer is None or not (is_answered(answer) or answer.comment):
        return None
    if answer.na:
        text = t("not_applicable")
    elif answer.value is None or answer.value == "":
        text = t("empty_answer")
    elif question.type in ("yes_no", "single_choice", "multi_choice"):
        chosen = answer.value if isinstance(answer.value, list) else [answer.value]
        labels = {c.value: c.label.get(lang) for c in question.effective_choices()}
        separator = "；" if lang == "zh-CN" else "; "
        text = separator.join(labels.get(str(v), str(v)) for v in chosen)
    else:
        text = raw_from_answer(answer).values[0]
        if question.unit is not None:
            text = f"{text} {question.unit.get(lang)}"
    return Shown(text=text, comment=answer.comment)


def section_number(template: Template, section_id: str) -> int:
    return next(i for i, s in enumerate(template.sections, start=1) if s.id == section_id)


def question_number(template: Template, section: Section, question: Question) -> str:
    return f"{section_number(template, section.id)}.{section.questions.index(question) + 1}"


def _condition_refs(condition: Condition | None) -> set[str]:
    if condition is None:
        return set()
    refs = {condition.question} if condition.question else set()
    for child in [
        *(condition.all_ or []),
        *(condition.any_ or []),
        *([condition.not_] if condition.not_ else []),
    ]:
        refs |= _condition_refs(child)
    return refs


def known_answers(template: Template, section: Section, answers: Mapping[str, Answer]) -> dict[str, Any]:
    """Values of questions outside ``section`` that its conditions refer to, as the
    page's script evaluates them: hidden, N/A or blank answers are null."""
    own = {q.id for q in section.questions}
    refs = set().union(*(_condition_refs(q.show_if) for q in section.questions)) - own
    shown = visibility(template, answers)
    known: dict[str, Any] = {}
    for qid in sorted(refs):
        answer = answers.get(qid)
        usable = answer is not None and shown.get(qid, False) and is_answered(answer) and not answer.na
        known[qid] = answer.value if usable and answer is not None else None
    return known


def question_views(
    template: Template,
    section: Section,
    answers: Mapping[str, Answer],
    *,
    lang: str,
    t: Translate,
    raw: Mapping[str, RawInput] | None = None,
    errors: Mapping[str, str] | None = None,
    evidence: Sequence[Evidence] = (),
    comments: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One dict per question of the section, in order, with what the form shows: the
    stored answer, or what was just typed when the page is shown again with errors."""
    shown = visibility(template, answers)
    views: list[dict[str, Any]] = []
    for question in section.questions:
        qid = question.id
        given = (raw or {}).get(qid) or raw_from_answer(answers.get(qid))
        error = (errors or {}).get(qid)
        views.append(
            {
                "id": qid,
                "number": question_number(template, section, question),
                "type": question.type,
                "text": question.text.get(lang),
                "help": question.help.get(lang) if question.help else None,
                "required": question.required,
                "na_allowed": question.na_allowed,
                "evidence": question.evidence,
                "unit": question.unit.get(lang) if question.unit else None,
                # A question with an error stays visible whatever its condition says.
                "visible": shown[qid] or error is not None,
                "show_if": msgspec.json.encode(question.show_if).decode() if question.show_if else None,
                "choices": [
                    {"value": c.value, "label": c.label.get(lang), "checked": c.value in given.values}
                    for c in question.effective_choices()
                ],
                "value": given.values[0] if given.values else "",
                "na": given.na,
                "comment": given.comment,
                "error": t(ERROR_KEYS.get(error, "error_choice")) if error else None,
                "reviewer_comment": (comments or {}).get(qid),
                "files": [e for e in evidence if e.question_id == qid],
            }
        )
    return views


def missing_views(
    missing: Sequence[MissingItem],
    templates: Sequence[Template],
    lang: str,
    t: Translate,
    section_url: Callable[[int, str], str],
) -> list[dict[str, Any]]:
    """The submit page's list of what is missing, each linked to its question or section."""
    items: list[dict[str, Any]] = []
    for item in missing:
        template = templates[item.part]
        section = next(s for s in template.sections if s.id == item.section_id)
        url = section_url(item.part, item.section_id)
        if item.question_id is None:
            label = t("missing_confirm", section=section.title.get(lang))
        else:
            question = next(q for q in section.questions if q.id == item.question_id)
            number = question_number(template, section, question)
            text = f"{number} {question.text.get(lang)}"
            label = t("missing_answer" if item.kind == "answer" else "missing_evidence", question=text)
            url = f"{url}#q-{item.question_id}"
        items.append(
            {
                "url": url,
                "label": label,
                "part_title": template.title.get(lang) if len(templates) > 1 else None,
            }
        )
    return items
