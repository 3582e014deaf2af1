"""Pure rules over a template and an answer set: answer validation, `show_if` visibility,
completeness and the explainable score.

The score is computed with exact fractions. Presented figures are rounded to one decimal by
the largest-remainder method, so the rounded parts of the breakdown still add up to the
rounded total: "why 72.4?" is answered by numbers that sum to 72.4.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Collection, Mapping
from fractions import Fraction
from functools import cache

from vendor_risk.questionnaires.models import (
    Answer,
    AnswerError,
    AnswerValue,
    CapAdjustment,
    ChoiceValue,
    Completeness,
    Condition,
    FindingToRaise,
    Question,
    QuestionScore,
    QuestionStatus,
    ScoreResult,
    SectionScore,
    Template,
)


class InvalidAnswers(Exception):
    """The answer set does not fit the template; `errors` names each bad field."""

    def __init__(self, errors: list[AnswerError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _blank(value: AnswerValue | None) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list) and not value


def is_answered(answer: Answer | None) -> bool:
    """True when the answer gives a value or N/A."""
    return answer is not None and (answer.na or not _blank(answer.value))


# --- answer validation -------------------------------------------------------------


def validate_answers(template: Template, answers: Mapping[str, Answer]) -> list[AnswerError]:
    """Every answer that does not fit its question, named by field; empty when all fit.

    Answers to questions currently hidden by `show_if` are accepted (and ignored by the
    score), so that a partner flipping a condition back and forth loses nothing.
    """
    return validate_against({q.id: q for _, q in template.questions()}, answers)


def validate_against(index: Mapping[str, Question], answers: Mapping[str, Answer]) -> list[AnswerError]:
    """``validate_answers`` against the questions in ``index`` (by id) only."""
    errors: list[AnswerError] = []
    for question_id, answer in answers.items():
        field = f"answers.{question_id}"
        question = index.get(question_id)
        if question is None:
            errors.append(AnswerError(field=field, message=f"unknown question {question_id!r}"))
            continue
        if answer.na:
            if not question.na_allowed:
                errors.append(AnswerError(field=f"{field}.na", message="N/A is not allowed"))
            elif not _blank(answer.value):
                errors.append(AnswerError(field=field, message="give a value or N/A, not both"))
            continue
        if not _blank(answer.value):
            message = _value_error(question, answer.value)
            if message is not None:
                errors.append(AnswerError(field=f"{field}.value", message=message))
    return errors


def _value_error(question: Question, value: AnswerValue | None) -> str | None:
    kind = question.type
    if kind in ("yes_no", "single_choice"):
        allowed = [choice.value for choice in question.effective_choices()]
        if not isinstance(value, str):
            return "expected one choice value"
        if value not in allowed:
            return f"{value!r} is not one of: {', '.join(allowed)}"
    elif kind == "multi_choice":
        allowed = [choice.value for choice in question.effective_choices()]
        if not isinstance(value, list):
            return "expected a list of choice values"
        unknown = [item for item in value if item not in allowed]
        if unknown:
            return f"{unknown[0]!r} is not one of: {', '.join(allowed)}"
        if len(set(value)) != len(value):
            return "a choice is given twice"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "expected a number"
        if not math.isfinite(value):
            return "expected a finite number"
    elif kind == "text":
        if not isinstance(value, str):
            return "expected text"
    elif not isinstance(value, str) or not _is_iso_date(value):
        return "expected an ISO date (YYYY-MM-DD)"
    return None


def _is_iso_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


# --- visibility and completeness ---------------------------------------------------


def evaluate(condition: Condition, answers: Mapping[str, Answer]) -> bool:
    """Evaluate a `show_if` condition; an unanswered or N/A question matches nothing.

    Pass only the answers of visible questions (as `visibility` does), so that a hidden
    question's stale answer cannot show anything.
    """
    if condition.all_ is not None:
        return all(evaluate(child, answers) for child in condition.all_)
    if condition.any_ is not None:
        return any(evaluate(child, answers) for child in condition.any_)
    if condition.not_ is not None:
        return not evaluate(condition.not_, answers)
    answer = answers.get(condition.question or "")
    if answer is None or answer.na or _blank(answer.value):
        return False
    wanted = [condition.equals] if condition.equals is not None else condition.in_ or []
    given = answer.value if isinstance(answer.value, list) else [answer.value]
    return any(_same(have, want) for have in given if have is not None for want in wanted)


def _same(have: str | int | float, want: ChoiceValue) -> bool:
    # A text never equals a number, even "1" and 1.
    if isinstance(have, str) or isinstance(want, str):
        return have == want if isinstance(have, str) and isinstance(want, str) else False
    return have == want


def visibility(template: Template, answers: Mapping[str, Answer]) -> dict[str, bool]:
    """Question id -> shown, decided in file order from the answers of shown questions."""
    shown: dict[str, bool] = {}
    visible_answers: dict[str, Answer] = {}
    for _, question in template.questions():
        visible = question.show_if is None or evaluate(question.show_if, visible_answers)
        shown[question.id] = visible
        if visible and question.id in answers:
            visible_answers[question.id] = answers[question.id]
    return shown


def check_completeness(
    template: Template, answers: Mapping[str, Answer], evidence: Collection[str] = ()
) -> Completeness:
    """What a submission still lacks: shown required questions without an answer, and
    answered (not N/A) shown questions whose evidence is required but not in `evidence`
    (the ids of questions that have at least one evidence file)."""
    shown = visibility(template, answers)
    missing_answers: list[str] = []
    missing_evidence: list[str] = []
    for _, question in template.questions():
        if not shown[question.id]:
            continue
        answer = answers.get(question.id)
        if not is_answered(answer):
            if question.required:
                missing_answers.append(question.id)
        elif (
            question.evidence == "required"
            and answer is not None
            and not answer.na
            and question.id not in evidence
        ):
            missing_evidence.append(question.id)
    return Completeness(
        complete=not missing_answers and not missing_evidence,
        missing_answers=missing_answers,
        missing_evidence=missing_evidence,
    )


# --- scoring -----------------------------------------------------------------------


@cache
def to_fraction(value: float) -> Fraction:
    """``value`` exactly as written: through the decimal text, 0.1 in a YAML file is 1/10."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def question_score(question: Question, answer: Answer) -> Fraction:
    """The score in [0, 1] of a valid, non-blank answer to a scored question."""
    value = answer.value
    if question.type == "number" and isinstance(value, int | float):
        bands = question.bands or []
        # The loader guarantees that the last band has no max: it is the "else".
        for band in bands[:-1]:
            if band.max is not None and value <= band.max:
                return to_fraction(band.score)
        return to_fraction(bands[-1].score)
    scores = {choice.value: choice.score for choice in question.effective_choices()}
    if isinstance(value, list):
        return min(Fraction(1), sum((to_fraction(scores[item]) for item in value), Fraction(0)))
    return to_fraction(scores[str(value)])


def _status(question: Question, answer: Answer | None, shown: bool) -> QuestionStatus:
    if not shown:
        return "hidden"
    if not question.scored:
        return "unscored"
    if answer is not None and answer.na:
        return "na"
    return "scored" if is_answered(answer) else "unanswered"


def _half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def apportion(parts: list[Fraction], target: int) -> list[int]:
    """Round `parts` to integers that sum to `target` (largest remainder, ties by order)."""
    floors = [part.numerator // part.denominator for part in parts]
    spare = target - sum(floors)
    if spare:
        remainders = {i: part - floors[i] for i, part in enumerate(parts) if part.denominator != 1}
        # nlargest is stable: equal remainders go to the earlier question first.
        for i in heapq.nlargest(spare, remainders, key=remainders.__getitem__):
            floors[i] += 1
    return floors


def _tenths(units: int) -> float:
    return units / 10


def score(template: Template, answers: Mapping[str, Answer]) -> ScoreResult:
    """Score an answer set with its breakdown; raises InvalidAnswers for a misfit answer.

    A question counts when it is shown, scored and not N/A; an unanswered one counts as 0.
    Section score = weighted mean of its counted questions; overall = 100 x weighted mean
    of the sections that count anything. A critical question scoring below its
    `fails_below` caps the overall at `critical_cap`; the cut is its own breakdown line.
    """
    errors = validate_answers(template, answers)
    if errors:
        raise InvalidAnswers(errors)
    shown = visibility(template, answers)

    # One row per question in file order: section index, question, status, score.
    rows: list[tuple[int, Question, QuestionStatus, Fraction | None]] = []
    counted_weight = [Fraction(0)] * len(template.sections)
    weighted_sum = [Fraction(0)] * len(template.sections)
    for si, section in enumerate(template.sections):
        for question in section.questions:
            answer = answers.get(question.id)
            status = _status(question, answer, shown[question.id])
            value: Fraction | None = None
            if status == "scored" and answer is not None:
                value = question_score(question, answer)
            elif status == "unanswered":
                value = Fraction(0)
            if value is not None:
                counted_weight[si] += to_fraction(question.weight)
                weighted_sum[si] += to_fraction(question.weight) * value
            rows.append((si, question, status, value))
    total_weight = sum(
        (to_fraction(s.weight) for s, w in zip(template.sections, counted_weight, strict=True) if w),
        Fraction(0),
    )

    # Tenths of a point per unit of question weight, per section: a question's share of
    # the 100 points is its weight times this, and it earns that share times its score.
    tenths_per_weight = [
        1000 * to_fraction(section.weight) / (total_weight * weight) if weight else Fraction(0)
        for section, weight in zip(template.sections, counted_weight, strict=True)
    ]
    earned: list[Fraction] = []
    lost: list[Fraction] = []
    failed: list[bool] = []
    for si, question, _, value in rows:
        if value is None:
            earned.append(Fraction(0))
            lost.append(Fraction(0))
            failed.append(False)
            continue
        share = tenths_per_weight[si] * to_fraction(question.weight)
        earned.append(share * value)
        lost.append(share - earned[-1])
        failed.append(value < to_fraction(question.fails_below))

    raw = sum(earned, Fraction(0)) / 10
    failed_critical = [row[1].id for row, f in zip(rows, failed, strict=True) if f and row[1].critical]
    cut = min(Fraction(0), to_fraction(template.critical_cap) - raw) if failed_critical else Fraction(0)

    # Presented in tenths. Earned and lost are apportioned separately so that each adds up
    # to its rounded total; a question's max is then their sum, and the sections' max
    # points add up to 100.
    raw_units = _half_up(raw * 10)
    total_units = _half_up((raw + cut) * 10)
    earned_units = apportion(earned, raw_units)
    lost_units = apportion(lost, (1000 - raw_units) if total_weight else 0)

    per_section: list[list[QuestionScore]] = [[] for _ in template.sections]
    findings: list[FindingToRaise] = []
    for i, (si, question, status, value) in enumerate(rows):
        per_section[si].append(
            QuestionScore(
                question_id=question.id,
                status=status,
                score=float(value) if value is not None else None,
                max_points=_tenths(earned_units[i] + lost_units[i]),
                points_earned=_tenths(earned_units[i]),
                points_lost=_tenths(lost_units[i]),
                critical=question.critical,
                failed=failed[i],
            )
        )
        finding = _finding(template.sections[si].id, question) if failed[i] else None
        if finding is not None:
            findings.append(finding)

    sections: list[SectionScore] = []
    for si, section in enumerate(template.sections):
        indices = [i for i, row in enumerate(rows) if row[0] == si]
        weight = counted_weight[si]
        sections.append(
            SectionScore(
                section_id=section.id,
                score=_tenths(_half_up(weighted_sum[si] / weight * 1000)) if weight else None,
                max_points=_tenths(sum(earned_units[i] + lost_units[i] for i in indices)),
                points_earned=_tenths(sum(earned_units[i] for i in indices)),
                points_lost=_tenths(sum(lost_units[i] for i in indices)),
                questions=per_section[si],
            )
        )

    return ScoreResult(
        score=_tenths(total_units) if total_weight else None,
        raw_score=_tenths(raw_units) if total_weight else None,
        sections=sections,
        cap=(
            CapAdjustment(
                cap=template.critical_cap,
                points=_tenths(total_units - raw_units),
                failed_critical=failed_critical,
            )
            if failed_critical
            else None
        ),
        failed_critical=failed_critical,
        findings=findings,
    )


def _finding(section_id: str, question: Question) -> FindingToRaise | None:
    """Critical questions always raise a critical finding, with or without a rule."""
    rule = question.finding
    if rule is None and not question.critical:
        return None
    return FindingToRaise(
        question_id=question.id,
        section_id=section_id,
        severity="critical" if question.critical or rule is None else rule.severity,
        title=rule.title if rule else question.text,
        remediation=rule.remediation if rule else None,
        references=question.references,
    )
