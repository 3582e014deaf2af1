"""Reading a section form: typed text kept, N/A, unknown choices, cleared answers."""

from vendor_risk.assessments.forms import parse_section_form, raw_from_answer
from vendor_risk.assessments.views import ERROR_KEYS
from vendor_risk.i18n import translator
from vendor_risk.questionnaires.models import Answer, Template


def test_values_of_every_type_are_read(example: Template) -> None:
    form = {
        "present": ["dh-1", "dh-2", "dh-3", "dh-4"],
        "a:dh-1": ["other"],
        "a:dh-2": ["  <script>alert(1)</script>  "],
        "a:dh-3": ["offline", "tested", "offline"],
        "a:dh-4": ["2025-03-01"],
        "c:dh-1": ["we use SM4"],
    }
    parsed = parse_section_form(example, "data", form)
    assert parsed.errors == {}
    assert parsed.answers == {
        "dh-1": Answer(value="other", comment="we use SM4"),
        "dh-2": Answer(value="<script>alert(1)</script>"),
        "dh-3": Answer(value=["offline", "tested"]),
        "dh-4": Answer(value="2025-03-01"),
    }


def test_numbers_accept_commas_and_full_width_digits(example: Template) -> None:
    for typed, value in (
        ("3", 3),
        ("2.5", 2.5),
        ("２", 2),
        ("1,5", 1.5),
        # Thousands grouped with commas, as partners write counts: never read as 1.000.
        ("1,000", 1000),
        ("１２，０００", 12000),
        ("1,234,567.5", 1234567.5),
    ):
        parsed = parse_section_form(example, "access", {"present": ["ac-2"], "a:ac-2": [typed]})
        assert parsed.answers["ac-2"] == Answer(value=value), typed


def test_bad_input_is_an_error_and_what_was_typed_is_kept(example: Template) -> None:
    form = {"present": ["ac-1", "ac-2"], "a:ac-1": ["maybe"], "a:ac-2": ["a week"]}
    parsed = parse_section_form(example, "access", form)
    assert parsed.errors == {"ac-1": "choice", "ac-2": "number"}
    assert parsed.raw["ac-2"].values == ["a week"]


def test_a_negative_number_is_refused_and_kept_as_typed(example: Template) -> None:
    # "-1 days to revoke access" would otherwise earn the best band.
    parsed = parse_section_form(example, "access", {"present": ["ac-2"], "a:ac-2": ["-1"]})
    assert parsed.errors == {"ac-2": "negative"}
    assert parsed.raw["ac-2"].values == ["-1"]
    assert parse_section_form(example, "access", {"present": ["ac-2"], "a:ac-2": ["0"]}).errors == {}
    assert translator("zh-CN")(ERROR_KEYS["negative"]) == "请输入不小于 0 的数字。"


def test_na_wins_and_is_refused_where_not_allowed(example: Template) -> None:
    parsed = parse_section_form(
        example, "data", {"present": ["dh-1", "dh-3"], "na:dh-1": ["1"], "a:dh-1": ["none"], "na:dh-3": ["1"]}
    )
    assert parsed.answers == {"dh-1": Answer(na=True)}
    assert parsed.errors == {"dh-3": "na_not_allowed"}


def test_only_rendered_questions_of_the_section_change(example: Template) -> None:
    form = {"present": ["dh-1", "ac-1"], "a:ac-1": ["no"], "a:dh-2": ["sneaked in"]}
    parsed = parse_section_form(example, "data", form)
    # dh-1 was rendered and left blank: cleared; dh-2 was not rendered; ac-1 is elsewhere.
    assert parsed.answers == {"dh-1": None}


def test_a_stored_answer_renders_back_as_typed() -> None:
    assert raw_from_answer(Answer(value=5.0)).values == ["5"]
    assert raw_from_answer(Answer(value=["a", "b"], comment="c")).comment == "c"
    assert raw_from_answer(Answer(na=True)).na
