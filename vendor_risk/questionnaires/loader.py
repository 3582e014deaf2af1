"""Read questionnaire YAML files into Templates and reject anything a scorer could trip on.

Every error is one line naming the file and the path inside it, e.g.
``baseline-security.yaml: sections[2].questions[5].show_if: unknown question 'ac-9'``,
so that an author (and CI) can fix all of them from one run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from vendor_risk import content
from vendor_risk.questionnaires.models import (
    CHOICE_TYPES,
    ChoiceValue,
    Condition,
    Question,
    Section,
    Template,
)

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ISO27001_PATTERN = re.compile(r"^A\.([5-8])\.(\d{1,2})$")
# Controls per theme in ISO/IEC 27001:2022 Annex A (organizational, people, physical,
# technological), so that a typo like A.5.38 is caught.
ISO27001_CONTROLS = {5: 37, 6: 8, 7: 14, 8: 34}
PIPL_ARTICLES = 74


class TemplateError(content.ContentError):
    """A questionnaire file is invalid; `messages` lists every problem found."""


def parse_template(text: str | bytes, filename: str, *, stem: str | None = None) -> Template:
    """Decode and validate one questionnaire; raises TemplateError listing every problem.

    `stem` is the file name without `.yaml`, which the template's key must equal.
    """
    template = content.decode(text, filename, Template, TemplateError)
    errors = check_template(template, filename, stem=stem)
    if errors:
        raise TemplateError(errors)
    return template


def load_file(path: Path) -> Template:
    """Read and validate `path`; raises TemplateError listing every problem."""
    return parse_template(content.read_file(path, TemplateError), path.name, stem=path.stem)


def validate_files(paths: Iterable[Path]) -> list[str]:
    """Every error in every file, in file order; an empty list means all are valid."""
    return content.validate_files(paths, load_file)


def canonical_json(template: Template) -> bytes:
    """The template as JSON with sorted keys: equal content gives equal bytes."""
    return msgspec.json.encode(template, order="sorted")


def content_hash(template: Template) -> str:
    """SHA-256 (hex) of the canonical JSON: what decides whether a file changed."""
    return hashlib.sha256(canonical_json(template)).hexdigest()


# --- semantic checks ---------------------------------------------------------------


def check_template(template: Template, filename: str, *, stem: str | None = None) -> list[str]:
    """The semantic errors of a decoded template (empty when it is valid)."""
    return _Checker(template, filename).run(stem)


def _condition_refs(condition: Condition | None) -> Iterator[str]:
    if condition is None:
        return
    if condition.question is not None:
        yield condition.question
    for child in (condition.all_ or []) + (condition.any_ or []):
        yield from _condition_refs(child)
    yield from _condition_refs(condition.not_)


def _min_score(question: Question) -> float | None:
    """The lowest score any answer can get, or None for unscored questions."""
    if not question.scored:
        return None
    if question.type == "number":
        return min(band.score for band in question.bands or [])
    return min((c.score for c in question.effective_choices()), default=None)


class _Checker(content.Checker):
    def __init__(self, template: Template, filename: str) -> None:
        super().__init__(filename)
        self.template = template
        self.questions: dict[str, tuple[int, str, Question]] = {}
        self.section_of: dict[str, Section] = {}

    def run(self, stem: str | None) -> list[str]:
        t = self.template
        self.key_and_version(t.key, t.version, stem)
        if not 0 <= t.critical_cap <= 100:
            self.error("critical_cap", f"{t.critical_cap} is not in [0, 100]")
        self.text("title", t.title)
        self.text("description", t.description)
        if not t.sections:
            self.error("sections", "a questionnaire needs at least one section")

        # Index every question first so that show_if can tell "later" from "unknown".
        position = 0
        for si, section in enumerate(t.sections):
            for qi, question in enumerate(section.questions):
                path = f"sections[{si}].questions[{qi}]"
                first = self.questions.get(question.id)
                if first is not None:
                    self.error(f"{path}.id", f"duplicate question id {question.id!r} (first at {first[1]})")
                else:
                    self.questions[question.id] = (position, path, question)
                    self.section_of[question.id] = section
                position += 1

        section_ids: dict[str, str] = {}
        position = 0
        for si, section in enumerate(t.sections):
            spath = f"sections[{si}]"
            self.identifier(f"{spath}.id", section.id)
            if section.id in section_ids:
                self.error(
                    f"{spath}.id", f"duplicate section id {section.id!r} (first at {section_ids[section.id]})"
                )
            section_ids.setdefault(section.id, spath)
            self.text(f"{spath}.title", section.title)
            if section.weight <= 0:
                self.error(f"{spath}.weight", f"{section.weight} must be > 0")
            if not section.questions:
                self.error(f"{spath}.questions", "a section needs at least one question")
            for qi, question in enumerate(section.questions):
                self.question(f"{spath}.questions[{qi}]", question, position)
                position += 1
        return self.errors

    def identifier(self, path: str, value: str) -> None:
        if not ID_PATTERN.match(value):
            self.error(path, f"{value!r} must be letters, digits, '-', '_' or '.'")

    def score(self, path: str, value: float) -> None:
        if not 0 <= value <= 1:
            self.error(path, f"score {value} is not in [0, 1]")

    def question(self, path: str, q: Question, position: int) -> None:
        self.identifier(f"{path}.id", q.id)
        self.text(f"{path}.text", q.text)
        if q.help is not None:
            self.text(f"{path}.help", q.help)
        if q.weight <= 0:
            self.error(f"{path}.weight", f"{q.weight} must be > 0")
        if not 0 <= q.fails_below <= 1:
            self.error(f"{path}.fails_below", f"{q.fails_below} is not in [0, 1]")
        self.choices(path, q)
        self.bands(path, q)
        if q.unit is not None:
            if q.type != "number":
                self.error(f"{path}.unit", "only number questions take a unit")
            self.text(f"{path}.unit", q.unit)
        # A choice question without choices is reported once, above, not again here.
        if q.type not in CHOICE_TYPES or q.effective_choices():
            self.can_fail(path, q)
        if q.finding is not None:
            self.text(f"{path}.finding.title", q.finding.title)
            self.text(f"{path}.finding.remediation", q.finding.remediation)
        if q.show_if is not None:
            self.condition(f"{path}.show_if", q.show_if, q, position)
        self.references(f"{path}.references", q)

    def can_fail(self, path: str, q: Question) -> None:
        lowest = _min_score(q)
        if lowest is not None and lowest < q.fails_below:
            return
        why = (
            f"{q.type} questions are not scored"
            if lowest is None
            else f"no answer scores below fails_below {q.fails_below}"
        )
        if q.critical:
            self.error(f"{path}.critical", f"a critical question must be able to fail: {why}")
        elif q.finding is not None:
            self.error(f"{path}.finding", f"never raised: {why}")

    def choices(self, path: str, q: Question) -> None:
        if q.type not in CHOICE_TYPES:
            if q.choices is not None:
                self.error(f"{path}.choices", "only yes_no and *_choice questions take choices")
            return
        if q.choices is None and q.type == "yes_no":
            return
        choices = q.choices or []
        if len(choices) < 2:
            self.error(f"{path}.choices", f"{q.type} questions need at least two choices")
        seen: set[str] = set()
        for ci, choice in enumerate(choices):
            cpath = f"{path}.choices[{ci}]"
            if choice.value in seen:
                self.error(f"{cpath}.value", f"duplicate choice value {choice.value!r}")
            seen.add(choice.value)
            self.text(f"{cpath}.label", choice.label)
            self.score(f"{cpath}.score", choice.score)
        if q.type == "yes_no" and seen != {"yes", "no"}:
            self.error(f"{path}.choices", "yes_no choices must be exactly 'yes' and 'no'")

    def bands(self, path: str, q: Question) -> None:
        if q.bands is None:
            return
        if q.type != "number":
            self.error(f"{path}.bands", "only number questions take bands")
            return
        if not q.bands:
            self.error(f"{path}.bands", "give at least the final band without max")
            return
        previous: float | None = None
        for bi, band in enumerate(q.bands):
            bpath = f"{path}.bands[{bi}]"
            self.score(f"{bpath}.score", band.score)
            last = bi == len(q.bands) - 1
            if band.max is None and not last:
                self.error(f"{bpath}.max", "only the last band may omit max")
            elif band.max is not None:
                if previous is not None and band.max <= previous:
                    self.error(
                        f"{bpath}.max",
                        f"{band.max} must be above the previous band's max {previous}: bands ascend",
                    )
                previous = band.max
        if q.bands[-1].max is not None:
            self.error(f"{path}.bands", "the last band must have no max (it is the 'else')")

    def condition(self, path: str, c: Condition, owner: Question, position: int) -> None:
        forms = [c.question, c.all_, c.any_, c.not_]
        if sum(form is not None for form in forms) != 1:
            self.error(path, "give exactly one of question, all, any, not")
            return
        if c.question is None:
            if c.equals is not None or c.in_ is not None:
                self.error(path, "equals and in go with question")
            children = c.all_ if c.all_ is not None else c.any_
            if children is not None:
                name = "all" if c.all_ is not None else "any"
                if not children:
                    self.error(f"{path}.{name}", "needs at least one condition")
                for i, child in enumerate(children):
                    self.condition(f"{path}.{name}[{i}]", child, owner, position)
            elif c.not_ is not None:
                self.condition(f"{path}.not", c.not_, owner, position)
            return
        if (c.equals is None) == (c.in_ is None):
            self.error(path, "give exactly one of equals, in")
            return
        target = self.questions.get(c.question)
        if c.question == owner.id:
            self.error(path, f"question {c.question!r} refers to itself")
        elif target is None:
            self.error(path, f"unknown question {c.question!r}")
        elif target[0] > position:
            cycle = self.cycle_from(c.question, owner.id)
            if cycle:
                self.error(path, "forms a cycle: " + " -> ".join([owner.id, *cycle]))
            else:
                self.error(
                    path,
                    f"question {c.question!r} comes later in the file; "
                    "show_if may only name earlier questions",
                )
        else:
            values = [c.equals] if c.equals is not None else c.in_ or []
            self.condition_values(path, target[2], values)
            self.same_partners(path, owner.id, c.question)

    def same_partners(self, path: str, owner: str, target: str) -> None:
        """A condition may only name a question asked of every partner its own is asked of:
        a section left out for a partner's services would leave it undecidable."""
        narrow = self.section_of[target].service_types
        wide = self.section_of[owner].service_types
        if narrow and (not wide or not set(wide) <= set(narrow)):
            self.error(
                path,
                f"question {target!r} is asked only of partners providing {', '.join(narrow)}; "
                "show_if may only name a question asked of at least the same partners",
            )

    def condition_values(self, path: str, target: Question, values: list[ChoiceValue]) -> None:
        if target.type in CHOICE_TYPES:
            known = {choice.value for choice in target.effective_choices()}
            for value in values:
                # A target without choices is reported on the target itself.
                if known and value not in known:
                    self.error(path, f"{value!r} is not a choice of {target.id!r}")
        elif target.type == "number":
            if any(isinstance(value, str) for value in values):
                self.error(path, f"{target.id!r} is a number question: compare with numbers")
        elif any(not isinstance(value, str) for value in values):
            self.error(path, f"{target.id!r} is a {target.type} question: compare with text")

    def cycle_from(self, start: str, goal: str) -> list[str]:
        """The show_if chain start -> ... -> goal, or [] when there is none."""
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        visited: set[str] = set()
        while stack:
            current, chain = stack.pop()
            if current == goal:
                return chain
            if current in visited or current not in self.questions:
                continue
            visited.add(current)
            for ref in _condition_refs(self.questions[current][2].show_if):
                stack.append((ref, [*chain, ref]))
        return []

    def references(self, path: str, q: Question) -> None:
        for i, control in enumerate(q.references.iso27001):
            match = ISO27001_PATTERN.match(control)
            if not match or not 1 <= int(match[2]) <= ISO27001_CONTROLS[int(match[1])]:
                self.error(
                    f"{path}.iso27001[{i}]", f"{control!r} is not an ISO/IEC 27001:2022 Annex A control"
                )
        for i, article in enumerate(q.references.pipl):
            if not (article.isascii() and article.isdigit()) or not 1 <= int(article) <= PIPL_ARTICLES:
                self.error(f"{path}.pipl[{i}]", f"{article!r} is not a PIPL article (1-74)")
