"""Assessment Structs: what is sent, what the API shows, what the rules compute."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from vendor_risk.auth.models import Email, Locale
from vendor_risk.findings.models import Finding
from vendor_risk.questionnaires.models import Answer, ScoreResult
from vendor_risk.structs import FILLED_TEXT, NAME, ONE_LINE, TEXT, Base, I18nText, Version

AssessmentKind = Literal["onboarding", "periodic", "triggered", "offboarding"]
AssessmentStatus = Literal[
    "sent", "in_progress", "submitted", "approved", "rejected", "changes_requested", "expired", "cancelled"
]
Decision = Literal["approve", "reject", "request_changes"]
RiskLevel = Literal["low", "medium", "high", "critical"]

# The partner may still change answers.
EDITABLE_STATUSES: tuple[AssessmentStatus, ...] = ("sent", "in_progress", "changes_requested")
# The answers were submitted at least once and are locked.
SUBMITTED_STATUSES: tuple[AssessmentStatus, ...] = ("submitted", "approved", "rejected")

QuestionnaireKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$(?!\n)", max_length=100)]
Message = Annotated[str, msgspec.Meta(max_length=4000), TEXT]
Note = Annotated[str, msgspec.Meta(max_length=10_000), TEXT]


class Recipient(Base):
    """Who answers: one of the partner's contacts, or an email address (with a name)."""

    contact_id: UUID | None = None
    email: Email | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME] | None = None
    locale: Locale | None = None


class AssessmentCreate(Base):
    kind: AssessmentKind
    # Keys of the questionnaires to bundle (latest version of each); by default they
    # follow the partner's tier and the kind (see rules.default_questionnaires).
    questionnaires: Annotated[list[QuestionnaireKey], msgspec.Meta(min_length=1, max_length=10)] | None = None
    # By default the partner's primary contact.
    recipient: Recipient | None = None
    due_on: date | None = None
    message: Message = ""
    # Why a triggered assessment was sent (tier rose, incident closed, agreement renewed…).
    reason: Annotated[str, msgspec.Meta(max_length=500), TEXT] | None = None


class Resend(Base):
    # A new due date; by default the current one (or three weeks from today if it passed).
    due_on: date | None = None
    message: Message | None = None


class Cancel(Base):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500), FILLED_TEXT]


class QuestionnaireRef(Base):
    key: str
    version: int
    title: I18nText


class Assessment(Base):
    """An assessment as lists show it."""

    id: UUID
    partner_id: UUID
    partner_name: str
    kind: AssessmentKind
    status: AssessmentStatus
    questionnaires: list[QuestionnaireRef]
    recipient_email: str
    recipient_name: str
    locale: str
    message: str
    reason: str | None
    due_on: date
    overdue: bool
    score: float | None
    sent_by_label: str
    sent_at: datetime
    submitted_at: datetime | None
    submitted_by: str | None
    reviewed_at: datetime | None
    link_expires_at: datetime | None
    receipt_hash: str | None
    previous_assessment_id: UUID | None
    answers_version: int
    version: int


class SentAssessment(Base):
    """The response to sending or resending: the link is shown here once, never again."""

    assessment: Assessment
    link: str
    link_expires_at: datetime


# --- scores and rating ------------------------------------------------------------------


class PartScore(Base):
    """One bundled questionnaire's score and its share of the combined score."""

    questionnaire: str
    version: int
    score: float | None
    # Points of the combined score this questionnaire contributes (they add up to raw_score).
    contribution: float
    result: ScoreResult


class CombinedScore(Base):
    """The assessment's score: the mean of its questionnaires' scores, capped when any
    critical question failed, with the parts adding up to ``raw_score`` and
    ``raw_score + cap_points = score``."""

    score: float | None
    raw_score: float | None
    cap: float | None
    cap_points: float
    failed_critical: list[str]
    parts: list[PartScore]


class RatingStep(Base):
    """One step of the residual-risk reasoning: what moved the level and where it ended."""

    factor: Literal["tier", "score", "critical_findings", "high_findings"]
    detail: str
    level: RiskLevel
    # The step's stable reason and its numbers, for a label in the reader's language
    # (``detail`` is the English sentence): tier, score_none, score_strong,
    # score_adequate, score_weak, score_poor, critical_findings, high_findings.
    code: str = ""
    params: dict[str, str | float | int] = msgspec.field(default_factory=dict)


class Rating(Base):
    """Residual risk: the inherent tier adjusted by the score and the open findings."""

    level: RiskLevel
    tier: RiskLevel
    score: float | None
    open_findings: dict[str, int]
    steps: list[RatingStep]


# --- answers, evidence, review, diff ----------------------------------------------------


class PartAnswers(Base):
    questionnaire: str
    version: int
    title: I18nText
    answers: dict[str, Answer]
    # The sections sent (those fitting the partner's services); None: every section.
    sections: list[str] | None = None


class Evidence(Base):
    id: UUID
    questionnaire: str
    question_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


class ReviewComment(Base):
    questionnaire: Annotated[str, msgspec.Meta(max_length=100), ONE_LINE]
    question_id: Annotated[str, msgspec.Meta(max_length=100), ONE_LINE]
    comment: Annotated[str, msgspec.Meta(min_length=1, max_length=4000), FILLED_TEXT]


class ReviewCreate(Base):
    decision: Decision
    note: Note = ""
    # Shown to the partner beside the questions when changes are requested.
    comments: Annotated[list[ReviewComment], msgspec.Meta(max_length=500)] = msgspec.field(
        default_factory=list
    )
    # Optional: when sent, an assessment changed since it was read is a 409.
    version: Version | None = None


class Review(Base):
    id: UUID
    decision: Decision
    note: str
    comments: list[ReviewComment]
    reviewer_id: UUID | None
    reviewer_label: str
    created_at: datetime


class AnswerChange(Base):
    questionnaire: str
    question_id: str
    change: Literal["added", "removed", "changed"]
    before: Answer | None
    after: Answer | None


class ScoreChange(Base):
    questionnaire: str | None
    before: float | None
    after: float | None
    delta: float | None


class AssessmentDiff(Base):
    """What changed since the partner's previous submitted assessment."""

    previous_assessment_id: UUID
    previous_submitted_at: datetime | None
    changes: list[AnswerChange]
    scores: list[ScoreChange]


class AssessmentDetail(Assessment):
    """Everything a reviewer needs on one page."""

    answers: list[PartAnswers]
    evidence: list[Evidence]
    score_breakdown: CombinedScore | None
    rating: Rating | None
    findings: list[Finding]
    diff: AssessmentDiff | None
    reviews: list[Review]


class MissingItem(Base):
    """Something that stops a submission, pointing at its question or section."""

    part: int
    questionnaire: str
    section_id: str
    question_id: str | None
    kind: Literal["answer", "evidence", "confirm"]
