"""Pure assessment rules: defaults, completeness, combined score, rating, receipt, diff,
pre-fill and the reconciliation of findings."""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import msgspec
import pytest

from vendor_risk.assessments.rules import (
    LiveFinding,
    PartState,
    RaisedFinding,
    ReceiptEvidence,
    ReceiptPart,
    combine_scores,
    default_questionnaires,
    diff_answers,
    link_expiry,
    merge_section,
    missing_items,
    prefill,
    rate,
    receipt_hash,
    reconcile_findings,
    reminder_due,
    score_changes,
    validate_section,
)
from vendor_risk.questionnaires.models import Answer, FindingToRaise, References, Template
from vendor_risk.questionnaires.scoring import score
from vendor_risk.structs import I18nText

COMPLETE = {
    "ac-1": Answer(value="yes"),
    "ac-2": Answer(value=1),
    "dh-1": Answer(value="aes256"),
    "dh-3": Answer(value=["encrypted", "tested"]),
}


def test_default_questionnaires_follow_tier_service_types_and_kind() -> None:
    assert default_questionnaires("low", "onboarding") == ("lite-screening",)
    assert default_questionnaires("medium", "onboarding", ["cloud_saas"]) == (
        "lite-screening",
        "service-controls",
    )
    assert default_questionnaires("high", "periodic") == ("baseline-security", "pipl-entrusted-processing")
    assert default_questionnaires("critical", "periodic", ["payroll_social_insurance", "tax_agent"]) == (
        "baseline-security",
        "pipl-entrusted-processing",
        "bookkeeping-partner",
        "service-controls",
    )
    assert default_questionnaires("critical", "offboarding") == ("offboarding-attestation",)


def test_a_link_never_dies_before_its_due_date_and_grace() -> None:
    now = datetime(2025, 1, 1, 8, tzinfo=UTC)
    assert link_expiry(now, date(2025, 1, 10), 30) == datetime(2025, 1, 31, 8, tzinfo=UTC)
    late = link_expiry(now, date(2025, 3, 1), 30)
    assert late.date() == date(2025, 3, 15)


def test_section_validation_refuses_questions_of_other_sections(example: Template) -> None:
    errors = validate_section(
        example, "access", {"dh-1": Answer(value="aes256"), "ac-1": Answer(value="maybe")}
    )
    assert {e.field for e in errors} == {"answers.dh-1", "answers.ac-1.value"}


def test_saving_a_section_keeps_every_other_answer() -> None:
    stored = {"ac-1": Answer(value="no"), "dh-1": Answer(value="none"), "dh-2": Answer(value="paper")}
    merged = merge_section(
        stored, ["dh-1", "dh-2", "dh-3", "dh-4"], {"dh-1": Answer(value="aes256"), "dh-3": None}
    )
    assert merged == {
        "ac-1": Answer(value="no"),
        "dh-1": Answer(value="aes256"),
        "dh-2": Answer(value="paper"),
    }
    with pytest.raises(KeyError):
        merge_section(stored, ["dh-1"], {"ac-1": Answer(value="yes")})


def test_missing_items_list_answers_evidence_and_unconfirmed_sections_in_order(example: Template) -> None:
    answers = {"ac-1": Answer(value="yes"), "dh-1": Answer(value="other"), "dh-3": Answer(value=["offline"])}
    missing = missing_items(
        [PartState(template=example, answers=answers, unconfirmed_sections=frozenset({"data"}))]
    )
    assert [(m.section_id, m.question_id, m.kind) for m in missing] == [
        ("access", "ac-2", "answer"),
        ("data", None, "confirm"),
        ("data", "dh-3", "evidence"),
    ]
    assert missing_items([PartState(template=example, answers=COMPLETE, evidence=frozenset({"dh-3"}))]) == []


def test_combined_score_is_the_mean_and_a_failed_critical_question_caps_it(example: Template) -> None:
    good = score(example, COMPLETE)
    combined = combine_scores([(example, good), (example, good)])
    assert combined.score == good.score
    assert sum(p.contribution for p in combined.parts) == pytest.approx(combined.raw_score)

    failing = score(example, {**COMPLETE, "ac-1": Answer(value="no")})
    assert failing.failed_critical == ["ac-1"]
    combined = combine_scores([(example, good), (example, failing)])
    assert combined.raw_score == pytest.approx(((good.score or 0) + (failing.score or 0)) / 2, abs=0.05)
    assert combined.score == example.critical_cap
    assert combined.raw_score + combined.cap_points == pytest.approx(combined.score)
    assert combined.failed_critical == ["valid-example:ac-1"]


def test_combined_score_of_nothing_counted_is_none(example: Template) -> None:
    nothing = score(example, {"dh-1": Answer(na=True)})
    assert nothing.score is not None  # unanswered required questions count as 0
    assert combine_scores([]).score is None


@pytest.mark.parametrize(
    ("tier", "score_", "findings", "level"),
    [
        ("medium", 90.0, {}, "low"),
        ("low", 90.0, {}, "low"),
        ("medium", 75.0, {}, "medium"),
        ("medium", 60.0, {}, "high"),
        ("medium", 40.0, {}, "critical"),
        ("critical", 95.0, {}, "high"),
        ("low", None, {}, "medium"),
        ("low", 95.0, {"critical": 1}, "high"),
        ("low", 95.0, {"high": 1}, "medium"),
        ("low", 95.0, {"high": 3}, "high"),
        ("high", 40.0, {"critical": 2}, "critical"),
    ],
)
def test_rating_from_tier_score_and_open_findings(
    tier: str, score_: float | None, findings: dict[str, int], level: str
) -> None:
    rating = rate(tier, score_, findings)  # type: ignore[arg-type]
    assert rating.level == level
    assert rating.steps[0].factor == "tier"
    assert rating.steps[-1].level == level
    assert rating.open_findings.keys() == {"critical", "high", "medium", "low"}


def test_receipt_hash_covers_answers_and_evidence_but_not_their_order() -> None:
    assessment = uuid4()
    at = datetime(2025, 5, 1, 12, tzinfo=UTC)
    parts = [
        ReceiptPart(questionnaire="a", version=1, answers={"q1": Answer(value="yes"), "q2": Answer(value=3)}),
        ReceiptPart(questionnaire="b", version=2, answers={}),
    ]
    evidence = [ReceiptEvidence(questionnaire="a", question_id="q1", sha256="0" * 64)]
    digest = receipt_hash(assessment, at, parts, evidence)
    assert len(digest) == 64
    assert receipt_hash(assessment, at, list(reversed(parts)), evidence) == digest
    changed = [
        msgspec.structs.replace(parts[0], answers={"q1": Answer(value="no"), "q2": Answer(value=3)}),
        parts[1],
    ]
    assert receipt_hash(assessment, at, changed, evidence) != digest
    assert receipt_hash(assessment, at, parts, []) != digest


def test_diff_lists_added_removed_and_changed_answers_of_shared_questionnaires() -> None:
    before = {
        "a": {"q1": Answer(value="yes"), "q2": Answer(value=["x", "y"]), "q3": Answer(value=5)},
        "old": {},
    }
    after = {
        "a": {"q1": Answer(value="no"), "q2": Answer(value=["y", "x"]), "q4": Answer(na=True)},
        "new": {"q9": Answer(value="yes")},
    }
    changes = diff_answers(before, after)
    assert [(c.question_id, c.change) for c in changes] == [
        ("q1", "changed"),
        ("q3", "removed"),
        ("q4", "added"),
    ]
    scores = score_changes({None: 70.0, "a": 60.0}, {None: 82.5, "a": None, "new": 90.0})
    assert [(s.questionnaire, s.delta) for s in scores] == [(None, 12.5), ("a", None)]


def test_prefill_keeps_only_answers_that_still_fit(example: Template) -> None:
    previous = {
        "ac-1": Answer(value="yes"),
        "ac-2": Answer(value="not a number"),
        "dh-1": Answer(value="retired-choice"),
        "gone": Answer(value="yes"),
        "dh-3": Answer(value=[]),
    }
    answers, sections = prefill(example, previous)
    assert answers == {"ac-1": Answer(value="yes")}
    assert sections == {"access"}


def _raised(key: str, qid: str, value: str) -> RaisedFinding:
    finding = FindingToRaise(
        question_id=qid,
        section_id="s",
        severity="high",
        title=I18nText(zh_cn="标题", en="Title"),
        remediation=None,
        references=References(),
    )
    return RaisedFinding(questionnaire=key, finding=finding, answer=Answer(value=value))


def test_reconcile_keeps_resolves_opens_and_lapses_acceptances() -> None:
    kept, accepted_same, accepted_changed, fixed, other = (UUID(int=i) for i in range(1, 6))
    live = [
        LiveFinding(id=kept, questionnaire="a", question_id="q1", answer=Answer(value="no"), accepted=False),
        LiveFinding(
            id=accepted_same, questionnaire="a", question_id="q2", answer=Answer(value="no"), accepted=True
        ),
        LiveFinding(
            id=accepted_changed, questionnaire="a", question_id="q3", answer=Answer(value="no"), accepted=True
        ),
        LiveFinding(id=fixed, questionnaire="a", question_id="q4", answer=Answer(value="no"), accepted=True),
        LiveFinding(id=other, questionnaire="b", question_id="q1", answer=Answer(value="no"), accepted=False),
    ]
    raised = [
        _raised("a", "q1", "no"),
        _raised("a", "q2", "no"),
        _raised("a", "q3", "partly"),
        _raised("a", "q5", "no"),
    ]
    plan = reconcile_findings(live, raised, {"a"})
    assert [f.finding.question_id for f in plan.open] == ["q5"]
    assert [(i, changed) for i, _, changed in plan.keep] == [
        (kept, False),
        (accepted_same, False),
        (accepted_changed, True),
    ]
    assert plan.resolve == [fixed]
    assert plan.stale_acceptances == [accepted_changed, fixed]


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(10, None), (7, 7), (5, 7), (3, 3), (2, 3), (1, 1), (0, 1), (-1, None)],
)
def test_reminder_due_is_the_nearest_offset_reached(days_left: int, expected: int | None) -> None:
    today = date(2025, 6, 1)
    assert reminder_due(date.fromordinal(today.toordinal() + days_left), today) == expected
