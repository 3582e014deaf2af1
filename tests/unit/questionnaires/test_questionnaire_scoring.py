import msgspec
import pytest

from vendor_risk.questionnaires.models import Answer, AnswerError, Template
from vendor_risk.questionnaires.scoring import (
    InvalidAnswers,
    check_completeness,
    score,
    validate_answers,
    visibility,
)

WORKED = {
    "ac-1": Answer(value="yes"),
    "ac-2": Answer(value=3),
    "dh-1": Answer(value="other"),
    "dh-3": Answer(value=["offline", "encrypted"]),
}


def test_worked_example_hand_computed(example: Template) -> None:
    """valid-example.yaml by hand.

    access (weight 2): ac-1 yes = 1, ac-2 3 days = 0.5 (band <= 7); mean 0.75.
    data (weight 1): dh-1 other = 0.5 (weight 1), dh-3 offline + encrypted = 0.25 + 0.5
    = 0.75 (weight 2), dh-2 and dh-4 are text and date, not scored; mean 2/3.
    overall = 100 x (2 x 0.75 + 1 x 2/3) / 3 = 72.222... -> 72.2.
    Shares of 100: ac-1 33.33, ac-2 33.33, dh-1 11.11, dh-3 22.22.
    Earned: 33.33, 16.67, 5.56, 16.67 (sum 72.22) -> by largest remainder to tenths that
    sum to 72.2: 33.3, 16.7, 5.5, 16.7. Lost: 0, 16.67, 5.56, 5.56 -> 0, 16.7, 5.6, 5.5.
    """
    result = score(example, WORKED)

    assert result.score == 72.2
    assert result.raw_score == 72.2
    assert result.cap is None
    assert result.findings == []
    access, data = result.sections
    assert (access.score, access.max_points, access.points_earned, access.points_lost) == (
        75.0,
        66.7,
        50.0,
        16.7,
    )
    assert (data.score, data.max_points, data.points_earned, data.points_lost) == (
        66.7,
        33.3,
        22.2,
        11.1,
    )
    assert [
        (q.question_id, q.status, q.score, q.points_earned, q.points_lost)
        for s in result.sections
        for q in s.questions
    ] == [
        ("ac-1", "scored", 1.0, 33.3, 0.0),
        ("ac-2", "scored", 0.5, 16.7, 16.7),
        ("dh-1", "scored", 0.5, 5.5, 5.6),
        ("dh-2", "unscored", None, 0.0, 0.0),
        ("dh-3", "scored", 0.75, 16.7, 5.5),
        ("dh-4", "unscored", None, 0.0, 0.0),
    ]


def test_failed_critical_question_caps_with_its_own_breakdown_line(example: Template) -> None:
    """ac-1 no = 0 (critical), ac-2 1 day = 1: access 0.5, data 2/3; raw = 100 x (1 + 2/3)
    / 3 = 55.56 -> capped at 40, the cap line takes -15.6."""
    answers = {**WORKED, "ac-1": Answer(value="no"), "ac-2": Answer(value=1)}

    result = score(example, answers)

    assert (result.score, result.raw_score) == (40.0, 55.6)
    assert result.cap is not None
    assert (result.cap.cap, result.cap.points, result.cap.failed_critical) == (
        40.0,
        -15.6,
        ["ac-1"],
    )
    assert result.failed_critical == ["ac-1"]
    [finding] = result.findings
    assert (finding.question_id, finding.section_id, finding.severity) == (
        "ac-1",
        "access",
        "critical",
    )
    assert finding.title.en == "MFA is not enforced"
    assert finding.remediation is not None
    assert finding.references.iso27001 == ["A.8.5"]


def test_failed_critical_question_below_the_cap_keeps_its_score(example: Template) -> None:
    answers = {**WORKED, "ac-1": Answer(value="no"), "ac-2": Answer(value=30)}

    result = score(example, answers)

    # access 0, data 2/3: 100 x (2/3) / 3 = 22.2, already under 40.
    assert result.score == 22.2
    assert result.cap is not None
    assert result.cap.points == 0.0


def test_na_and_hidden_questions_are_not_counted(example: Template) -> None:
    answers = {**WORKED, "dh-1": Answer(na=True), "dh-2": Answer(value="ignored, dh-1 is N/A")}

    result = score(example, answers)

    # data now holds only dh-3 (0.75): 100 x (2 x 0.75 + 0.75) / 3 = 75.0
    assert result.score == 75.0
    statuses = {q.question_id: q.status for s in result.sections for q in s.questions}
    assert statuses["dh-1"] == "na"
    assert statuses["dh-2"] == "hidden"


def test_unanswered_optional_counts_as_zero_and_raises_its_finding(example: Template) -> None:
    answers = {k: v for k, v in WORKED.items() if k != "dh-1"}

    result = score(example, answers)

    # data: dh-1 0 (weight 1), dh-3 0.75 (weight 2) = 0.5; 100 x (1.5 + 0.5) / 3 = 66.7
    assert result.score == 66.7
    assert [f.question_id for f in result.findings] == ["dh-1"]
    assert result.findings[0].severity == "medium"


def test_nothing_counted_means_no_score(example: Template) -> None:
    only_text = msgspec.structs.replace(
        example,
        sections=[msgspec.structs.replace(example.sections[1], questions=[example.sections[1].questions[1]])],
    )

    result = score(only_text, {"dh-2": Answer(value="some text")})

    assert result.score is None
    assert result.sections[0].score is None
    assert result.sections[0].questions[0].status == "hidden"


def test_score_refuses_misfit_answers(example: Template) -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score(example, {"ac-1": Answer(value="maybe")})

    assert refused.value.errors == [
        AnswerError(field="answers.ac-1.value", message="'maybe' is not one of: yes, no")
    ]


@pytest.mark.parametrize(
    ("question", "answer", "error"),
    [
        ("zz-1", Answer(value="yes"), ("answers.zz-1", "unknown question 'zz-1'")),
        ("ac-1", Answer(value=1), ("answers.ac-1.value", "expected one choice value")),
        ("ac-1", Answer(na=True), ("answers.ac-1.na", "N/A is not allowed")),
        ("dh-1", Answer(na=True, value="aes256"), ("answers.dh-1", "give a value or N/A, not both")),
        ("dh-1", Answer(value="rot13"), ("answers.dh-1.value", "'rot13' is not one of: aes256, other, none")),
        ("dh-3", Answer(value="offline"), ("answers.dh-3.value", "expected a list of choice values")),
        (
            "dh-3",
            Answer(value=["offline", "x"]),
            ("answers.dh-3.value", "'x' is not one of: offline, encrypted, tested"),
        ),
        ("dh-3", Answer(value=["tested", "tested"]), ("answers.dh-3.value", "a choice is given twice")),
        ("ac-2", Answer(value="3"), ("answers.ac-2.value", "expected a number")),
        ("ac-2", Answer(value=float("nan")), ("answers.ac-2.value", "expected a finite number")),
        ("dh-2", Answer(value=["a"]), ("answers.dh-2.value", "expected text")),
        ("dh-4", Answer(value="31/12/2024"), ("answers.dh-4.value", "expected an ISO date (YYYY-MM-DD)")),
    ],
)
def test_validate_answers_names_the_field(
    example: Template, question: str, answer: Answer, error: tuple[str, str]
) -> None:
    assert validate_answers(example, {question: answer}) == [AnswerError(field=error[0], message=error[1])]


def test_valid_answers_pass(example: Template) -> None:
    answers = {
        **WORKED,
        "dh-1": Answer(value="none", comment="legacy system"),
        "dh-2": Answer(value="we rely on the disk vendor"),
        "dh-4": Answer(value="2024-12-31"),
        "ac-2": Answer(value=0.5),
    }

    assert validate_answers(example, answers) == []


def test_answers_decode_from_json_with_field_errors() -> None:
    payload = b'{"ac-1": {"value": "yes"}, "ac-2": {"value": 2, "note": "x"}}'

    with pytest.raises(msgspec.ValidationError, match=r"unknown field `note` - at `\$\[...\]`"):
        msgspec.json.decode(payload, type=dict[str, Answer])


def test_show_if_visibility(example: Template) -> None:
    assert visibility(example, {})["dh-2"] is False
    assert visibility(example, {"dh-1": Answer(value="none")})["dh-2"] is True
    assert visibility(example, {"dh-1": Answer(value="aes256")})["dh-2"] is False
    # dh-4 shows unless restore tests are among the chosen dh-3 answers.
    assert visibility(example, {})["dh-4"] is True
    assert visibility(example, {"dh-3": Answer(value=["offline", "tested"])})["dh-4"] is False


def test_completeness_lists_missing_answers_and_evidence(example: Template) -> None:
    empty = check_completeness(example, {})
    assert empty.missing_answers == ["ac-1", "ac-2", "dh-1", "dh-3"]
    assert empty.missing_evidence == []
    assert not empty.complete

    without_evidence = check_completeness(example, WORKED)
    assert without_evidence.missing_answers == []
    assert without_evidence.missing_evidence == ["dh-3"]

    done = check_completeness(example, WORKED, evidence={"dh-3"})
    assert done.complete


def test_blank_text_and_empty_selection_are_not_answers(example: Template) -> None:
    answers = {**WORKED, "dh-1": Answer(value="  "), "dh-3": Answer(value=[])}

    assert check_completeness(example, answers).missing_answers == ["dh-1", "dh-3"]


def test_na_completes_a_required_question(example: Template) -> None:
    answers = {**WORKED, "dh-1": Answer(na=True)}

    assert check_completeness(example, answers, evidence={"dh-3"}).complete
