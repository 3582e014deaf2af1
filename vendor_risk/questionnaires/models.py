"""Questionnaire templates (the YAML format of docs/questionnaire-format.md), answers,
score results and stored template versions.

Templates are decoded strictly from `questionnaires/*.yaml`; `loader.py` adds the semantic
checks a type cannot express. Answers and score results are what the portal, the review and
the API exchange.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from vendor_risk.policy import ServiceType
from vendor_risk.structs import Base, I18nText

QuestionType = Literal["yes_no", "single_choice", "multi_choice", "number", "text", "date"]
Severity = Literal["low", "medium", "high", "critical"]
EvidenceRule = Literal["none", "optional", "required"]
ChoiceValue = str | float

CHOICE_TYPES: frozenset[str] = frozenset({"yes_no", "single_choice", "multi_choice"})


class Choice(Base):
    value: str
    label: I18nText
    score: float


class Band(Base):
    """A number band: the first band whose `max` is >= the answer gives its score."""

    score: float
    max: float | None = None


class Condition(Base):
    """A `show_if` condition over earlier answers; exactly one form is set (checked at load)."""

    question: str | None = None
    equals: ChoiceValue | None = None
    in_: list[ChoiceValue] | None = msgspec.field(default=None, name="in")
    all_: list[Condition] | None = msgspec.field(default=None, name="all")
    any_: list[Condition] | None = msgspec.field(default=None, name="any")
    not_: Condition | None = msgspec.field(default=None, name="not")


class FindingRule(Base):
    """The finding a failing answer raises; the remediation is shared with the partner."""

    severity: Severity
    title: I18nText
    remediation: I18nText


class References(Base):
    iso27001: list[str] = msgspec.field(default_factory=list)
    pipl: list[str] = msgspec.field(default_factory=list)


_DEFAULT_YES_NO = (
    Choice(value="yes", label=I18nText(zh_cn="是", en="Yes"), score=1.0),
    Choice(value="no", label=I18nText(zh_cn="否", en="No"), score=0.0),
)


class Question(Base):
    id: str
    type: QuestionType
    text: I18nText
    help: I18nText | None = None
    weight: float = 1.0
    required: bool = True
    na_allowed: bool = False
    critical: bool = False
    evidence: EvidenceRule = "none"
    show_if: Condition | None = None
    choices: list[Choice] | None = None
    bands: list[Band] | None = None
    unit: I18nText | None = None
    fails_below: float = 0.5
    finding: FindingRule | None = None
    references: References = msgspec.field(default_factory=References)

    def effective_choices(self) -> list[Choice]:
        """The choices to render and score: yes_no without choices gets yes=1, no=0."""
        if self.choices is not None:
            return self.choices
        return list(_DEFAULT_YES_NO) if self.type == "yes_no" else []

    @property
    def scored(self) -> bool:
        """Text, date and band-less number questions are asked but never scored."""
        if self.type == "number":
            return bool(self.bands)
        return self.type in CHOICE_TYPES


class Section(Base):
    id: str
    title: I18nText
    weight: float = 1.0
    # The partner service types the section fits; empty = every partner.
    service_types: list[ServiceType] = msgspec.field(default_factory=list)
    questions: list[Question] = msgspec.field(default_factory=list)

    def fits(self, service_types: Collection[str]) -> bool:
        return not self.service_types or any(s in service_types for s in self.service_types)


class Template(Base):
    key: str
    version: int
    title: I18nText
    description: I18nText
    critical_cap: float = 40.0
    sections: list[Section] = msgspec.field(default_factory=list)

    def questions(self) -> list[tuple[Section, Question]]:
        """Every question with its section, in file order (the order `show_if` relies on)."""
        return [(section, q) for section in self.sections for q in section.questions]

    def section(self, section_id: str) -> Section:
        """The section ``section_id``; KeyError when the template has none of that id."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def sections_for(self, service_types: Collection[str]) -> list[str]:
        """The ids of the sections a partner providing ``service_types`` is asked."""
        return [s.id for s in self.sections if s.fits(service_types)]

    def only_sections(self, section_ids: Collection[str] | None) -> Template:
        """This template as sent: only the sections named (``None`` keeps them all).
        Sections left out are not shown, not required and not scored."""
        if section_ids is None:
            return self
        return msgspec.structs.replace(self, sections=[s for s in self.sections if s.id in section_ids])


# --- answers -------------------------------------------------------------------------


AnswerValue = str | int | float | list[str]


class Answer(Base):
    """One answer: a choice value, a list of choice values, a number, a text or an ISO date.

    `na` marks "not applicable" (only where the question allows it). An absent value, an
    empty text and an empty list all mean "not answered".
    """

    value: AnswerValue | None = None
    na: bool = False
    comment: str | None = None


Answers = dict[str, Answer]


class AnswerError(Base):
    """One invalid answer, named by field (`answers.<question id>[.value|.na]`)."""

    field: str
    message: str


class Completeness(Base):
    """What still stops a submission: visible required questions and their evidence."""

    complete: bool
    missing_answers: list[str]
    missing_evidence: list[str]


# --- score results -------------------------------------------------------------------

QuestionStatus = Literal["scored", "unanswered", "na", "hidden", "unscored"]


class QuestionScore(Base):
    """One question's part of the total, in points out of 100 (0 when not counted)."""

    question_id: str
    status: QuestionStatus
    score: float | None
    max_points: float
    points_earned: float
    points_lost: float
    critical: bool
    failed: bool


class SectionScore(Base):
    section_id: str
    score: float | None
    max_points: float
    points_earned: float
    points_lost: float
    questions: list[QuestionScore]


class CapAdjustment(Base):
    """Points removed because a critical question failed: `points` is <= 0."""

    cap: float
    points: float
    failed_critical: list[str]


class FindingToRaise(Base):
    question_id: str
    section_id: str
    severity: Severity
    title: I18nText
    remediation: I18nText | None
    references: References


class ScoreResult(Base):
    """A score with its full breakdown, every figure rounded to one decimal.

    `score` is None when nothing was counted (every question N/A, hidden or unscored).
    The rounding keeps the sums exact: the questions' `points_earned` add up to their
    section's and the sections' to `raw_score`; `raw_score` + `cap.points` = `score`; the
    `points_lost` add up to 100 - `raw_score`; `max_points` = earned + lost, and the
    sections' `max_points` add up to 100.
    """

    score: float | None
    raw_score: float | None
    sections: list[SectionScore]
    cap: CapAdjustment | None
    failed_critical: list[str]
    findings: list[FindingToRaise]


# --- stored versions and the API --------------------------------------------------


class TemplateSummary(Base):
    """The latest loaded version of one questionnaire, as the library list shows it."""

    id: UUID
    key: str
    version: int
    title: I18nText
    section_count: int
    question_count: int
    content_sha256: str
    loaded_at: datetime


class StoredTemplate(Base):
    """One loaded template version; assessments reference it by `id`, for good."""

    id: UUID
    key: str
    version: int
    content_sha256: str
    loaded_at: datetime
    content: Template


class ScoreRequest(Base):
    """An answer set to try against a template; `evidence` lists the question ids that
    have a file attached (for the completeness check)."""

    answers: dict[str, Answer]
    evidence: list[str] = msgspec.field(default_factory=list)


class ScorePreview(Base):
    key: str
    version: int
    result: ScoreResult
    completeness: Completeness


LoadStatus = Literal["stored", "unchanged", "refused"]


class LoadOutcome(Base):
    """What loading one file did; `errors` explain a refusal."""

    file: str
    status: LoadStatus
    key: str | None = None
    version: int | None = None
    id: UUID | None = None
    errors: list[str] = msgspec.field(default_factory=list)


class LoadReport(Base):
    outcomes: list[LoadOutcome]

    @property
    def errors(self) -> list[str]:
        return [error for outcome in self.outcomes for error in outcome.errors]
