"""Pure rules of assessments: which questionnaires to send, section validation,
completeness, the combined score, the rating, the receipt hash, the diff between two
answer sets, the reassessment pre-fill and the reconciliation of findings.

Nothing here does I/O; the service gathers plain Structs and asks these functions what
follows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Final, Literal
from uuid import UUID

import msgspec

from vendor_risk.assessments.models import (
    AnswerChange,
    AssessmentKind,
    CombinedScore,
    MissingItem,
    PartScore,
    Rating,
    RatingStep,
    RiskLevel,
    ScoreChange,
)
from vendor_risk.policy import (
    DEFAULT_POLICY,
    AssessmentPolicy,
    QuestionnairePolicy,
    RatingPolicy,
    ServiceType,
    Tier,
    questionnaires_for,
)
from vendor_risk.questionnaires.models import Answer, AnswerError, FindingToRaise, ScoreResult, Template
from vendor_risk.questionnaires.scoring import (
    apportion,
    check_completeness,
    is_answered,
    to_fraction,
    validate_against,
    validate_answers,
    visibility,
)

LEVELS: Final[tuple[RiskLevel, ...]] = ("low", "medium", "high", "critical")

# --- what to send ------------------------------------------------------------------------

# One assessment bundles several questionnaires: the partner gets one email, one link, one
# due date and one submission, and the risk owner one review. Each questionnaire keeps its
# own version and score; the combined score is their mean (see combine_scores). Which
# questionnaires, the due date and the link's grace are the policy's (policy.yaml).


def default_questionnaires(
    tier: str,
    kind: AssessmentKind,
    service_types: Collection[ServiceType] = (),
    policy: QuestionnairePolicy = DEFAULT_POLICY.questionnaires,
) -> tuple[str, ...]:
    """The questionnaire keys sent when the sender names none: the offboarding attestation
    for offboarding, otherwise the policy's set for the partner's tier and service types."""
    if kind == "offboarding":
        return policy.offboarding
    return questionnaires_for(policy, msgspec.convert(tier, Tier), service_types)


def default_due_on(today: date, policy: AssessmentPolicy = DEFAULT_POLICY.assessments) -> date:
    return today + timedelta(days=policy.due_days)


def link_expiry(
    now: datetime, due_on: date, link_days: int, policy: AssessmentPolicy = DEFAULT_POLICY.assessments
) -> datetime:
    """When a new link dies: ``link_days`` from now, but never before the due date's grace."""
    after_due = datetime.combine(due_on + timedelta(days=policy.link_grace_days), time.max, tzinfo=UTC)
    return max(now + timedelta(days=link_days), after_due)


# --- answers per section --------------------------------------------------------------------


def validate_section(template: Template, section_id: str, answers: Mapping[str, Answer]) -> list[AnswerError]:
    """Errors in the answers given for one section; answers to other questions are refused."""
    index = {q.id: q for q in template.section(section_id).questions}
    errors = [
        AnswerError(field=f"answers.{qid}", message="not a question of this section")
        for qid in answers
        if qid not in index
    ]
    return errors + validate_against(index, {k: v for k, v in answers.items() if k in index})


def merge_section(
    answers: Mapping[str, Answer], section_ids: Collection[str], given: Mapping[str, Answer | None]
) -> dict[str, Answer]:
    """The answer set after saving one section: the given questions are replaced (``None`` or
    a blank answer removes one), every other answer is kept untouched."""
    merged = dict(answers)
    section_ids = section_ids if isinstance(section_ids, set | frozenset) else frozenset(section_ids)
    for qid, answer in given.items():
        if qid not in section_ids:
            raise KeyError(qid)
        if answer is None or not (is_answered(answer) or answer.comment):
            merged.pop(qid, None)
        else:
            merged[qid] = answer
    return merged


class PartState(msgspec.Struct, frozen=True, kw_only=True):
    """One bundled questionnaire as completeness sees it."""

    template: Template
    answers: Mapping[str, Answer]
    # Question ids with at least one evidence file.
    evidence: frozenset[str] = frozenset()
    # Sections pre-filled from the previous assessment that the partner has not saved yet.
    unconfirmed_sections: frozenset[str] = frozenset()


def missing_items(parts: Sequence[PartState]) -> list[MissingItem]:
    """Everything that stops a submission, in questionnaire order: required answers,
    required evidence, and pre-filled sections the partner has not confirmed."""
    missing: list[MissingItem] = []
    position: dict[tuple[int, str], int] = {}
    for index, part in enumerate(parts):
        template = part.template
        section_of = {q.id: s.id for s, q in template.questions()}
        for n, (section, question) in enumerate(template.questions()):
            position.setdefault((index, section.id), n)
            position[(index, question.id)] = n
        result = check_completeness(template, part.answers, part.evidence)
        kinds: tuple[tuple[Literal["answer", "evidence"], list[str]], ...] = (
            ("answer", result.missing_answers),
            ("evidence", result.missing_evidence),
        )
        for kind, ids in kinds:
            missing.extend(
                MissingItem(
                    part=index,
                    questionnaire=template.key,
                    section_id=section_of[qid],
                    question_id=qid,
                    kind=kind,
                )
                for qid in ids
            )
        missing.extend(
            MissingItem(
                part=index, questionnaire=template.key, section_id=s.id, question_id=None, kind="confirm"
            )
            for s in template.sections
            if s.id in part.unconfirmed_sections
        )

    def order(item: MissingItem) -> tuple[int, int, int]:
        # A section's confirmation comes before its questions, each in file order.
        if item.question_id is None:
            return item.part, position[(item.part, item.section_id)], -1
        return item.part, position[(item.part, item.question_id)], 0 if item.kind == "answer" else 1

    return sorted(missing, key=order)


def section_progress(template: Template, answers: Mapping[str, Answer]) -> dict[str, tuple[int, int]]:
    """Per section: (answered, shown) questions, for the progress indicator."""
    shown = visibility(template, answers)
    progress: dict[str, tuple[int, int]] = {}
    for section in template.sections:
        visible = [q for q in section.questions if shown[q.id]]
        answered = sum(1 for q in visible if is_answered(answers.get(q.id)))
        progress[section.id] = (answered, len(visible))
    return progress


# --- pre-fill -------------------------------------------------------------------------------


def prefill(template: Template, previous: Mapping[str, Answer]) -> tuple[dict[str, Answer], frozenset[str]]:
    """The previous answers that still fit this template version (same question id, valid
    value), and the sections they fall in, which the partner must confirm."""
    kept: dict[str, Answer] = {}
    for qid, answer in previous.items():
        if not validate_answers(template, {qid: answer}) and is_answered(answer):
            kept[qid] = answer
    sections = frozenset(s.id for s, q in template.questions() if q.id in kept)
    return kept, sections


# --- the combined score ---------------------------------------------------------------------


def _tenths(value: Fraction) -> int:
    return math.floor(value * 10 + Fraction(1, 2))


def combine_scores(parts: Sequence[tuple[Template, ScoreResult]]) -> CombinedScore:
    """The mean of the questionnaires' scores (those that counted anything), capped at the
    lowest ``critical_cap`` of any questionnaire whose critical question failed.

    Averaging the already-capped scores alone would let a perfect questionnaire hide a
    failed critical one; the cap carries over to the whole assessment instead.
    """
    counted = [i for i, (_, r) in enumerate(parts) if r.score is not None]
    failed = [f"{t.key}:{qid}" for t, r in parts for qid in r.failed_critical]
    caps = [to_fraction(t.critical_cap) for t, r in parts if r.failed_critical]
    shares = {i: to_fraction(parts[i][1].score or 0.0) / len(counted) for i in counted}
    raw = sum(shares.values(), Fraction(0))
    cap = min(caps) if caps else None
    total = min(raw, cap) if cap is not None else raw
    raw_units, total_units = _tenths(raw), _tenths(total)
    units = dict(zip(counted, apportion([shares[i] * 10 for i in counted], raw_units), strict=True))
    return CombinedScore(
        score=total_units / 10 if counted else None,
        raw_score=raw_units / 10 if counted else None,
        cap=float(cap) if cap is not None else None,
        cap_points=(total_units - raw_units) / 10,
        failed_critical=failed,
        parts=[
            PartScore(
                questionnaire=t.key,
                version=t.version,
                score=r.score,
                contribution=units.get(i, 0) / 10,
                result=r,
            )
            for i, (t, r) in enumerate(parts)
        ],
    )


# --- the rating -------------------------------------------------------------------------------


def _level(rank: int) -> RiskLevel:
    return LEVELS[max(0, min(len(LEVELS) - 1, rank))]


def rate(
    tier: RiskLevel,
    score: float | None,
    open_findings: Mapping[str, int],
    policy: RatingPolicy = DEFAULT_POLICY.rating,
) -> Rating:
    """Residual risk from the inherent tier, the score and the open (unaccepted) findings,
    with each step that moved it.

    - score >= strong: one level lower; >= adequate: unchanged; >= weak: one higher;
      below weak: two higher; no score: one higher (controls unknown);
    - an open critical finding: at least high;
    - open high findings: at least medium, and at least high from ``high_findings_for_high``.
    """
    rank = LEVELS.index(tier)
    steps = [
        RatingStep(
            factor="tier", detail=f"inherent risk tier {tier}", level=tier, code="tier", params={"tier": tier}
        )
    ]
    params: dict[str, str | float | int] = {}
    if score is None:
        change, code, why = 1, "score_none", "no score: controls unknown, one level higher"
    elif score >= policy.strong_score:
        change, code, why = -1, "score_strong", f"score {score:g} >= {policy.strong_score:g}: one level lower"
        params = {"score": score, "threshold": policy.strong_score}
    elif score >= policy.adequate_score:
        change, code, why = 0, "score_adequate", f"score {score:g} >= {policy.adequate_score:g}: unchanged"
        params = {"score": score, "threshold": policy.adequate_score}
    elif score >= policy.weak_score:
        change, code, why = 1, "score_weak", f"score {score:g} < {policy.adequate_score:g}: one level higher"
        params = {"score": score, "threshold": policy.adequate_score}
    else:
        change, code, why = 2, "score_poor", f"score {score:g} < {policy.weak_score:g}: two levels higher"
        params = {"score": score, "threshold": policy.weak_score}
    rank = LEVELS.index(_level(rank + change))
    steps.append(RatingStep(factor="score", detail=why, level=_level(rank), code=code, params=params))
    critical = open_findings.get("critical", 0)
    if critical:
        rank = max(rank, LEVELS.index("high"))
        steps.append(
            RatingStep(
                factor="critical_findings",
                detail=f"{critical} open critical finding(s): at least high",
                level=_level(rank),
                code="critical_findings",
                params={"count": critical, "floor": "high"},
            )
        )
    high = open_findings.get("high", 0)
    if high:
        floor = "high" if high >= policy.high_findings_for_high else "medium"
        rank = max(rank, LEVELS.index(floor))
        steps.append(
            RatingStep(
                factor="high_findings",
                detail=f"{high} open high finding(s): at least {floor}",
                level=_level(rank),
                code="high_findings",
                params={"count": high, "floor": floor},
            )
        )
    return Rating(
        level=_level(rank),
        tier=tier,
        score=score,
        open_findings={s: open_findings.get(s, 0) for s in ("critical", "high", "medium", "low")},
        steps=steps,
    )


# --- receipt and diff -------------------------------------------------------------------------


class ReceiptPart(msgspec.Struct, frozen=True, kw_only=True):
    questionnaire: str
    version: int
    answers: dict[str, Answer]


class ReceiptEvidence(msgspec.Struct, frozen=True, kw_only=True):
    questionnaire: str
    question_id: str
    sha256: str


def receipt_hash(
    assessment_id: UUID,
    submitted_at: datetime,
    parts: Sequence[ReceiptPart],
    evidence: Sequence[ReceiptEvidence],
) -> str:
    """SHA-256 over the canonical JSON of what was submitted: the answers of each
    questionnaire version and the hash of every evidence file. Both sides can show it to
    prove which answers were meant."""
    document = {
        "assessment_id": str(assessment_id),
        "submitted_at": submitted_at.astimezone(UTC).isoformat(),
        "parts": sorted(parts, key=lambda p: (p.questionnaire, p.version)),
        "evidence": sorted(evidence, key=lambda e: (e.questionnaire, e.question_id, e.sha256)),
    }
    return hashlib.sha256(msgspec.json.encode(document, order="sorted")).hexdigest()


def _same_answer(a: Answer, b: Answer) -> bool:
    def value(x: Answer) -> object:
        return sorted(x.value) if isinstance(x.value, list) else x.value

    return a.na == b.na and value(a) == value(b)


def diff_answers(
    previous: Mapping[str, Mapping[str, Answer]], current: Mapping[str, Mapping[str, Answer]]
) -> list[AnswerChange]:
    """Answers added, removed or changed between two assessments, per questionnaire key
    present in both (keyed ``{questionnaire: {question id: answer}}``); comments aside."""
    changes: list[AnswerChange] = []
    for key in current:
        if key not in previous:
            continue
        before, after = previous[key], current[key]
        for qid in sorted(set(before) | set(after)):
            old, new = before.get(qid), after.get(qid)
            if old is not None and not is_answered(old):
                old = None
            if new is not None and not is_answered(new):
                new = None
            if old is None and new is None:
                continue
            if old is None:
                change: Literal["added", "removed", "changed"] = "added"
            elif new is None:
                change = "removed"
            elif _same_answer(old, new):
                continue
            else:
                change = "changed"
            changes.append(
                AnswerChange(questionnaire=key, question_id=qid, change=change, before=old, after=new)
            )
    return changes


def score_changes(
    previous: Mapping[str | None, float | None], current: Mapping[str | None, float | None]
) -> list[ScoreChange]:
    """The combined score (key ``None``) and each shared questionnaire's, before and after."""
    changes: list[ScoreChange] = []
    for key, after in current.items():
        if key not in previous:
            continue
        before = previous[key]
        delta = None if before is None or after is None else round(after - before, 1)
        changes.append(ScoreChange(questionnaire=key, before=before, after=after, delta=delta))
    return changes


# --- findings ------------------------------------------------------------------------------------


class LiveFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A rule finding of the partner that is still open, being remediated or accepted."""

    id: UUID
    questionnaire: str
    question_id: str
    answer: Answer | None
    accepted: bool


class RaisedFinding(msgspec.Struct, frozen=True, kw_only=True):
    questionnaire: str
    finding: FindingToRaise
    answer: Answer | None


class FindingPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What a submission does to the partner's findings."""

    # New findings to open.
    open: list[RaisedFinding]
    # Live findings raised again: (id, answer now, whether the answer changed).
    keep: list[tuple[UUID, Answer | None, bool]]
    # Live findings whose question no longer fails in the submitted questionnaires.
    resolve: list[UUID]
    # Accepted findings whose acceptance lapses because the answer that raised it changed.
    stale_acceptances: list[UUID]


def reconcile_findings(
    live: Sequence[LiveFinding], raised: Sequence[RaisedFinding], submitted: Collection[str]
) -> FindingPlan:
    """Decide, for a submission covering the questionnaire keys ``submitted``, which
    findings to open, keep, resolve, and whose acceptance goes stale.

    A finding already live for the same questionnaire and question is kept, not
    duplicated. An accepted finding whose answer changed loses its acceptance: if the new
    answer still fails the finding reopens, if it passes the finding is resolved. Findings
    of questionnaires not in this submission are left alone.
    """
    by_question = {(f.questionnaire, f.question_id): f for f in live}
    opened: list[RaisedFinding] = []
    keep: list[tuple[UUID, Answer | None, bool]] = []
    stale: list[UUID] = []
    seen: set[tuple[str, str]] = set()
    for item in raised:
        key = (item.questionnaire, item.finding.question_id)
        seen.add(key)
        existing = by_question.get(key)
        if existing is None:
            opened.append(item)
            continue
        changed = not _answers_equal(existing.answer, item.answer)
        keep.append((existing.id, item.answer, changed))
        if changed and existing.accepted:
            stale.append(existing.id)
    resolve: list[UUID] = []
    for finding in live:
        key = (finding.questionnaire, finding.question_id)
        if key in seen or finding.questionnaire not in submitted:
            continue
        resolve.append(finding.id)
        if finding.accepted:
            stale.append(finding.id)
    return FindingPlan(open=opened, keep=keep, resolve=resolve, stale_acceptances=stale)


def _answers_equal(a: Answer | None, b: Answer | None) -> bool:
    if a is None or b is None:
        return a is b
    return _same_answer(a, b)


# --- reminders -------------------------------------------------------------------------------------


def reminder_due(
    due_on: date, today: date, offsets: Sequence[int] = DEFAULT_POLICY.assessments.reminder_days
) -> int | None:
    """The reminder (days before the due date) that applies today: the nearest offset
    already reached. A reminder missed while the worker was down is sent late, once; a
    later one supersedes it."""
    days_left = (due_on - today).days
    if days_left < 0:
        return None
    reached = [d for d in offsets if days_left <= d]
    return min(reached) if reached else None
