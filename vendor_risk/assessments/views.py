"""What the portal's templates show, built from templates, answers and evidence (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from markupsafe import Markup

from vendor_risk.assessments.forms import RawInput, raw_from_answer
from vendor_risk.assessments.models import Evidence, MissingItem
from vendor_risk.assessments.rendering import environment
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


# Per questionnaire version, section and language: what each question shows that no answer
# changes (numbers, texts, choice labels, its condition as the page's script reads it).
_STATIC: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
# A question's HTML for one state (answer, error, files...): a section's questions take a
# few states each (a choice question: each choice or none, N/A or not, shown or hidden), so
# a section page is mostly joined from here. Keyed by everything the fragment shows.
_RENDERED: dict[tuple[Any, ...], Markup] = {}
_CACHE_MAX = 20_000


def _static(template: Template, section: Section, lang: str, version: object) -> list[dict[str, Any]]:
    key = (version, tuple(s.id for s in template.sections), section.id, lang)
    found = _STATIC.get(key)
    if found is not None:
        return found
    number = section_number(template, section.id)
    found = [
        {
            "id": question.id,
            "number": f"{number}.{position}",
            "type": question.type,
            "text": question.text.get(lang),
            "help": question.help.get(lang) if question.help else None,
            "required": question.required,
            "na_allowed": question.na_allowed,
            "evidence": question.evidence,
            "unit": question.unit.get(lang) if question.unit else None,
            "show_if": msgspec.json.encode(question.show_if).decode() if question.show_if else None,
            "choices": [(c.value, c.label.get(lang)) for c in question.effective_choices()],
        }
        for position, question in enumerate(section.questions, start=1)
    ]
    if len(_STATIC) >= _CACHE_MAX:
        _STATIC.clear()
    _STATIC[key] = found
    return found


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
    version: object = None,
) -> list[dict[str, Any]]:
    """One dict per question of the section, in order, with what the form shows: the
    stored answer, or what was just typed when the page is shown again with errors.
    ``version`` names the questionnaire version (its id) for the texts kept per process;
    without it they are built again."""
    shown = visibility(template, answers)
    views: list[dict[str, Any]] = []
    for static in _static(template, section, lang, version if version is not None else object()):
        qid = static["id"]
        given = (raw or {}).get(qid) or raw_from_answer(answers.get(qid))
        error = (errors or {}).get(qid)
        views.append(
            {
                **static,
                # A question with an error stays visible whatever its condition says.
                "visible": shown[qid] or error is not None,
                "choices": [
                    {"value": value, "label": label, "checked": value in given.values}
                    for value, label in static["choices"]
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


def questions_html(questions: Sequence[Mapping[str, Any]], lang: str, t: Translate) -> Markup:
    """The section form's questions (``question_views``) as HTML, each question rendered by
    ``portal/_question.html`` once per state it is shown in and joined from then on."""
    parts: list[str] = []
    template = None
    for q in questions:
        key = (
            lang,
            q["id"],
            q["number"],
            q["text"],
            q["help"],
            q["required"],
            q["na_allowed"],
            q["evidence"],
            q["unit"],
            q["show_if"],
            q["type"],
            q["visible"],
            tuple((c["value"], c["label"], c["checked"]) for c in q["choices"]),
            q["value"],
            q["na"],
            q["comment"],
            q["error"],
            q["reviewer_comment"],
            tuple((f.id, f.filename, f.size_bytes, f.sha256) for f in q["files"]),
        )
        html = _RENDERED.get(key)
        if html is None:
            if template is None:
                template = environment().get_template("portal/_question.html")
            html = Markup(template.render(q=q, t=t, lang=lang))  # noqa: S704 - autoescaped template
            # Long typed texts are shown as they are but not kept: they rarely repeat.
            if len(q["value"]) + len(q["comment"]) <= 500:
                if len(_RENDERED) >= _CACHE_MAX:
                    _RENDERED.clear()
                _RENDERED[key] = html
        parts.append(html)
    return Markup("".join(parts))  # noqa: S704 - joined autoescaped fragments


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
