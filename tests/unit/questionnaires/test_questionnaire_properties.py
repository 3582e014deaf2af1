"""Invariants of the scoring engine over generated templates and answer sets."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.questionnaires.loader import check_template
from vendor_risk.questionnaires.models import (
    Answer,
    Band,
    Choice,
    Condition,
    FindingRule,
    Question,
    Section,
    Template,
)
from vendor_risk.questionnaires.scoring import is_answered, question_score, score, visibility
from vendor_risk.structs import I18nText

TEXT = I18nText(zh_cn="文本", en="Text")
scores = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0])
weights = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 7.0])


@st.composite
def choice_lists(draw: st.DrawFn) -> list[Choice]:
    count = draw(st.integers(2, 4))
    return [Choice(value=f"c{i}", label=TEXT, score=draw(scores)) for i in range(count)]


@st.composite
def conditions(draw: st.DrawFn, earlier: list[Question], depth: int = 0) -> Condition:
    """A condition over the earlier choice questions (there is at least one)."""
    targets = [q for q in earlier if q.effective_choices()]
    if depth >= 2 or draw(st.booleans()):
        target = draw(st.sampled_from(targets))
        values = [c.value for c in target.effective_choices()]
        if draw(st.booleans()):
            return Condition(question=target.id, equals=draw(st.sampled_from(values)))
        return Condition(
            question=target.id, in_=draw(st.lists(st.sampled_from(values), min_size=1, unique=True))
        )
    form = draw(st.sampled_from(["all", "any", "not"]))
    if form == "not":
        return Condition(not_=draw(conditions(earlier, depth + 1)))
    children = draw(st.lists(conditions(earlier, depth + 1), min_size=1, max_size=3))
    return Condition(all_=children) if form == "all" else Condition(any_=children)


@st.composite
def questions(draw: st.DrawFn, qid: str, earlier: list[Question]) -> Question:
    kind = draw(st.sampled_from(["yes_no", "single_choice", "multi_choice", "number", "text", "date"]))
    choices = None
    bands = None
    if kind in ("single_choice", "multi_choice"):
        choices = draw(choice_lists())
    elif kind == "yes_no" and draw(st.booleans()):
        choices = [
            Choice(value="yes", label=TEXT, score=draw(scores)),
            Choice(value="no", label=TEXT, score=draw(scores)),
        ]
    elif kind == "number" and draw(st.booleans()):
        maxes = sorted(draw(st.lists(st.integers(-5, 60), max_size=3, unique=True)))
        bands = [Band(max=m, score=draw(scores)) for m in maxes] + [Band(score=draw(scores))]
    question = Question(
        id=qid,
        type=kind,
        text=TEXT,
        weight=draw(weights),
        required=draw(st.booleans()),
        na_allowed=draw(st.booleans()),
        choices=choices,
        bands=bands,
        fails_below=draw(st.sampled_from([0.3, 0.5, 1.0])),
        show_if=(
            draw(conditions(earlier))
            if any(q.effective_choices() for q in earlier) and draw(st.booleans())
            else None
        ),
    )
    lowest = min(
        [c.score for c in question.effective_choices()] + [b.score for b in bands or []],
        default=None,
    )
    if question.scored and lowest is not None and lowest < question.fails_below:
        question = msgspec.structs.replace(
            question,
            critical=draw(st.booleans()),
            finding=FindingRule(severity="high", title=TEXT, remediation=TEXT),
        )
    return question


@st.composite
def templates(draw: st.DrawFn) -> Template:
    earlier: list[Question] = []
    sections = []
    for si in range(draw(st.integers(1, 3))):
        section_questions = []
        for _ in range(draw(st.integers(1, 4))):
            question = draw(questions(f"q{len(earlier)}", earlier))
            section_questions.append(question)
            earlier.append(question)
        sections.append(Section(id=f"s{si}", title=TEXT, weight=draw(weights), questions=section_questions))
    return Template(
        key="generated",
        version=1,
        title=TEXT,
        description=TEXT,
        critical_cap=draw(st.sampled_from([0.0, 25.0, 40.0, 60.0, 100.0])),
        sections=sections,
    )


def values(question: Question) -> st.SearchStrategy[Answer]:
    """Non-blank, valid answers to `question`."""
    choices = [c.value for c in question.effective_choices()]
    if question.type in ("yes_no", "single_choice"):
        value: st.SearchStrategy[object] = st.sampled_from(choices)
    elif question.type == "multi_choice":
        value = st.lists(st.sampled_from(choices), min_size=1, unique=True)
    elif question.type == "number":
        value = st.integers(-10, 100) | st.floats(-10, 100)
    elif question.type == "text":
        value = st.text(alphabet="ab 中文<>", min_size=1).filter(str.strip)
    else:
        value = st.dates().map(dt.date.isoformat)
    return value.map(lambda v: Answer(value=v))  # type: ignore[arg-type]


def answers_for(question: Question) -> st.SearchStrategy[Answer | None]:
    options: list[st.SearchStrategy[Answer | None]] = [st.none(), values(question)]
    if question.na_allowed:
        options.append(st.just(Answer(na=True)))
    return st.one_of(options)


@st.composite
def answer_sets(draw: st.DrawFn, template: Template) -> dict[str, Answer]:
    answers = {}
    for _, question in template.questions():
        answer = draw(answers_for(question))
        if answer is not None:
            answers[question.id] = answer
    return answers


@st.composite
def scored_cases(draw: st.DrawFn) -> tuple[Template, dict[str, Answer]]:
    template = draw(templates())
    return template, draw(answer_sets(template))


def referenced(template: Template) -> set[str]:
    found: set[str] = set()

    def walk(condition: Condition | None) -> None:
        if condition is None:
            return
        if condition.question:
            found.add(condition.question)
        for child in (condition.all_ or []) + (condition.any_ or []):
            walk(child)
        walk(condition.not_)

    for _, question in template.questions():
        walk(question.show_if)
    return found


def tenths(value: float) -> int:
    return round(value * 10)


# --- properties --------------------------------------------------------------------


@given(templates())
def test_generated_templates_are_valid(template: Template) -> None:
    assert check_template(template, "generated.yaml") == []


@given(scored_cases())
def test_score_is_within_0_and_100(case: tuple[Template, dict[str, Answer]]) -> None:
    result = score(*case)

    if result.score is not None:
        assert result.raw_score is not None
        assert 0 <= result.score <= 100
        assert 0 <= result.raw_score <= 100
        for section in result.sections:
            assert section.score is None or 0 <= section.score <= 100


@given(scored_cases())
def test_breakdown_sums_to_the_total(case: tuple[Template, dict[str, Answer]]) -> None:
    result = score(*case)
    cap = tenths(result.cap.points) if result.cap else 0

    if result.score is None:
        assert all(tenths(q.max_points) == 0 for s in result.sections for q in s.questions)
        return
    assert result.raw_score is not None
    assert sum(tenths(s.points_earned) for s in result.sections) == tenths(result.raw_score)
    assert tenths(result.raw_score) + cap == tenths(result.score)
    assert sum(tenths(s.points_lost) for s in result.sections) - cap == 1000 - tenths(result.score)
    assert sum(tenths(s.max_points) for s in result.sections) == 1000
    for section in result.sections:
        assert sum(tenths(q.points_earned) for q in section.questions) == tenths(section.points_earned)
        assert sum(tenths(q.points_lost) for q in section.questions) == tenths(section.points_lost)
        for q in section.questions:
            assert tenths(q.max_points) == tenths(q.points_earned) + tenths(q.points_lost)
            assert q.points_earned >= 0
            assert q.points_lost >= 0


@given(scored_cases())
def test_same_answers_same_result(case: tuple[Template, dict[str, Answer]]) -> None:
    template, answers = case
    reordered = dict(reversed(answers.items()))
    copied = msgspec.json.decode(msgspec.json.encode(answers), type=dict[str, Answer])

    assert score(template, answers) == score(template, reordered) == score(template, copied)


def replaced(answers: dict[str, Answer], qid: str, answer: Answer | None) -> dict[str, Answer]:
    changed = {k: v for k, v in answers.items() if k != qid}
    if answer is not None:
        changed[qid] = answer
    return changed


@given(st.data())
def test_improving_one_answer_never_lowers_the_score(data: st.DataObject) -> None:
    template, answers = data.draw(scored_cases())
    free = [q for _, q in template.questions() if q.scored and q.id not in referenced(template)]
    if not free:
        return
    question = data.draw(st.sampled_from(free))
    # Two answers to it, either of which may be "unanswered" (None, which scores 0).
    pair = data.draw(st.lists(st.none() | values(question), min_size=2, max_size=2))
    worse, better = sorted(pair, key=lambda a: question_score(question, a) if a is not None else Fraction(0))

    worse_result = score(template, replaced(answers, question.id, worse))
    better_result = score(template, replaced(answers, question.id, better))

    # Answering never changes what counts, so both are scored or neither is.
    if better_result.score is None or worse_result.score is None:
        assert better_result.score is worse_result.score is None
    else:
        assert better_result.score >= worse_result.score


@given(st.data())
def test_hidden_questions_never_change_the_score(data: st.DataObject) -> None:
    template, answers = data.draw(scored_cases())
    shown = visibility(template, answers)
    hidden = [q for _, q in template.questions() if not shown[q.id]]
    if not hidden:
        return
    question = data.draw(st.sampled_from(hidden))
    other = data.draw(answers_for(question))

    assert score(template, replaced(answers, question.id, other)).score == score(template, answers).score


@given(st.data())
def test_na_questions_never_change_the_score(data: st.DataObject) -> None:
    """Answering N/A scores exactly as if the question were not in the template."""
    template, answers = data.draw(scored_cases())
    candidates = [q for _, q in template.questions() if q.na_allowed and q.id not in referenced(template)]
    if not candidates:
        return
    question = data.draw(st.sampled_from(candidates))
    without = msgspec.structs.replace(
        template,
        sections=[
            msgspec.structs.replace(section, questions=[q for q in section.questions if q.id != question.id])
            for section in template.sections
        ],
    )
    rest = {k: v for k, v in answers.items() if k != question.id}

    assert score(template, {**rest, question.id: Answer(na=True)}).score == score(without, rest).score


@given(scored_cases())
def test_a_failed_critical_question_always_caps(case: tuple[Template, dict[str, Answer]]) -> None:
    template, answers = case
    shown = visibility(template, answers)
    failed = []
    for _, question in template.questions():
        answer = answers.get(question.id)
        if not (question.critical and shown[question.id]) or (answer and answer.na):
            continue
        value = question_score(question, answer) if is_answered(answer) and answer else Fraction(0)
        if value < Fraction(repr(question.fails_below)):
            failed.append(question.id)

    result = score(template, answers)

    assert result.failed_critical == failed
    if failed:
        assert result.score is not None
        assert result.score <= template.critical_cap
        assert result.cap is not None
        critical = {f.question_id for f in result.findings if f.severity == "critical"}
        assert set(failed) <= critical
