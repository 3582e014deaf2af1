"""How many 150-question answer sets the scoring engine scores per second.

Run: uv run python bench/bench_scoring.py [--seconds 3]. Not a test: it prints a figure.
"""

from __future__ import annotations

import argparse
import random
import time

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
from vendor_risk.questionnaires.scoring import score
from vendor_risk.structs import I18nText

TEXT = I18nText(zh_cn="问题", en="Question")
KINDS = ["yes_no", "yes_no", "single_choice", "multi_choice", "number", "text"]


def build_template(sections: int = 10, per_section: int = 15) -> Template:
    rng = random.Random(1)
    built: list[Section] = []
    for si in range(sections):
        questions: list[Question] = []
        for qi in range(per_section):
            kind = KINDS[qi % len(KINDS)]
            choices = None
            bands = None
            if kind in ("single_choice", "multi_choice"):
                choices = [
                    Choice(value=f"c{i}", label=TEXT, score=s) for i, s in enumerate([1.0, 0.5, 0.25, 0.0])
                ]
            if kind == "number":
                bands = [Band(max=1, score=1.0), Band(max=7, score=0.5), Band(score=0.0)]
            # The question after each first yes/no question depends on it.
            show_if = None
            if qi % len(KINDS) == 1:
                show_if = Condition(question=f"s{si}-q{qi - 1}", equals="yes")
            questions.append(
                Question(
                    id=f"s{si}-q{qi}",
                    type=kind,  # type: ignore[arg-type]
                    text=TEXT,
                    weight=rng.choice([1.0, 2.0, 3.0]),
                    na_allowed=qi % 4 == 0,
                    critical=kind == "yes_no" and qi % 7 == 0,
                    show_if=show_if,
                    choices=choices,
                    bands=bands,
                    finding=(
                        FindingRule(severity="medium", title=TEXT, remediation=TEXT)
                        if kind != "text"
                        else None
                    ),
                )
            )
        built.append(Section(id=f"s{si}", title=TEXT, weight=rng.choice([1.0, 2.0]), questions=questions))
    template = Template(key="bench", version=1, title=TEXT, description=TEXT, sections=built)
    errors = check_template(template, "bench.yaml")
    if errors:
        raise SystemExit("\n".join(errors))
    return template


def random_answers(template: Template, rng: random.Random) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    for _, question in template.questions():
        if question.na_allowed and rng.random() < 0.1:
            answers[question.id] = Answer(na=True)
            continue
        values = [c.value for c in question.effective_choices()]
        if question.type in ("yes_no", "single_choice"):
            answers[question.id] = Answer(value=rng.choice(values))
        elif question.type == "multi_choice":
            answers[question.id] = Answer(value=rng.sample(values, rng.randint(1, len(values))))
        elif question.type == "number":
            answers[question.id] = Answer(value=rng.randint(0, 30))
        else:
            answers[question.id] = Answer(value="我们每年审查一次。")
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    template = build_template()
    rng = random.Random(2)
    answer_sets = [random_answers(template, rng) for _ in range(200)]
    scored = 0
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        for answers in answer_sets:
            score(template, answers)
        scored += len(answer_sets)
    elapsed = time.perf_counter() - started
    count = len(template.questions())
    print(f"{count} questions: {scored / elapsed:,.0f} answer sets scored per second")


if __name__ == "__main__":
    main()
