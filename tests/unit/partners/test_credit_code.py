"""Unified social credit code (GB 32100-2015) and legal identity rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.partners.rules import (
    CREDIT_CODE_ALPHABET,
    credit_code_check_char,
    credit_code_problem,
    legal_id_problems,
    normalize_credit_code,
    org_code_check_char,
)

# Codes published on the business licences of well-known companies.
REAL_CODES = ["91350100M000100Y43", "91330100716105852F", "9144030071526726XG"]


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    alphabet = st.sampled_from(CREDIT_CODE_ALPHABET)
    head = draw(st.text(alphabet, min_size=2, max_size=2))
    division = draw(st.text(st.sampled_from("0123456789"), min_size=6, max_size=6))
    org = draw(st.text(alphabet, min_size=8, max_size=8))
    first17 = head + division + org + org_code_check_char(org)
    return first17 + credit_code_check_char(first17)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "must be 18 characters, got 17"),
        ("91350100M000100Y433", "must be 18 characters, got 19"),
        ("91350100M000100Y44", "check character (18th) should be '3', got '4'"),
        ("91350100M000100Y53", "characters 9-17 are not a valid organization code"),
        ("9135010OM000100Y43", "character 8 'O' is not allowed"),
        ("91350100M00010OY43", "character 15 'O' is not allowed"),
        ("9135A100M000100Y43", "characters 3-8 must be the six-digit administrative division"),
        ("91350100m000100Y43", "character 9 'm' is not allowed"),
    ],
)
def test_invalid_codes_say_why(code: str, reason: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None
    assert problem.startswith(reason)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (" 91350100m000100y43 ", "91350100M000100Y43"),
        ("9135-0100-M000-100Y43", "91350100M000100Y43"),
        ("913501 00M000100Y43", "91350100M000100Y43"),
    ],
)
def test_normalization_accepts_what_people_paste(raw: str, normalized: str) -> None:
    assert normalize_credit_code(raw) == normalized
    assert credit_code_problem(normalize_credit_code(raw)) is None


@given(valid_codes())
def test_generated_codes_are_valid(code: str) -> None:
    assert credit_code_problem(code) is None


@given(valid_codes(), st.integers(0, 17), st.sampled_from(CREDIT_CODE_ALPHABET))
def test_any_single_changed_character_is_refused(code: str, index: int, char: str) -> None:
    changed = code[:index] + char + code[index + 1 :]
    if changed != code:
        assert credit_code_problem(changed) is not None


@pytest.mark.parametrize(
    ("country", "credit_code", "registration_number", "problems"),
    [
        ("CN", "91350100M000100Y43", None, []),
        ("CN", None, "12345", [("credit_code", "required for a partner registered in China")]),
        (
            "CN",
            "91350100M000100Y44",
            None,
            [("credit_code", "check character (18th) should be '3', got '4'")],
        ),
        ("DE", None, "HRB 12345", []),
        ("HK", "91350100M000100Y43", None, []),
        (
            "US",
            None,
            None,
            [("registration_number", "required for a foreign partner without a credit code")],
        ),
        ("US", None, "", [("registration_number", "required for a foreign partner without a credit code")]),
    ],
)
def test_legal_identity(
    country: str,
    credit_code: str | None,
    registration_number: str | None,
    problems: list[tuple[str, str]],
) -> None:
    assert (
        legal_id_problems(country=country, credit_code=credit_code, registration_number=registration_number)
        == problems
    )
