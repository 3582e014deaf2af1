"""Password rules, TOTP steps and recovery codes (no I/O)."""

from __future__ import annotations

import pyotp
import pytest

from vendor_risk.auth.passwords import common_passwords, password_problem
from vendor_risk.auth.secondfactor import (
    matching_step,
    new_recovery_codes,
    normalise_recovery_code,
    qr_svg,
    recovery_hash,
)
from vendor_risk.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short one", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("password1234", "password_common"),
        ("qwertyuiop!!", "password_common"),
        ("dragondragon", "password_common"),
        ("woaini1314520", "password_common"),
        ("aaaaaaaaaaaaaa", "password_common"),
        ("zhang.wei.works.here", "password_common"),  # contains the email's name
        ("a sentence I remember 7", None),
        ("Tr0ub4dor&3-horse", None),
    ],
)
def test_password_rules(password: str, problem: str | None) -> None:
    assert password_problem(password, "zhang.wei@example.com") == problem


def test_the_bundled_list_is_a_few_thousand_words() -> None:
    assert 1500 < len(common_passwords()) < 100_000
    assert "123456" in common_passwords()


def test_a_code_matches_its_step_and_one_step_of_drift_once() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_000.0
    step = int(now // 30)
    assert matching_step(secret, totp.at(now), None, now) == step
    assert matching_step(secret, totp.at(now - 30), None, now) == step - 1
    assert matching_step(secret, totp.at(now + 30), None, now) == step + 1
    assert matching_step(secret, totp.at(now - 60), None, now) is None
    # Spent: not again, nor an earlier one.
    assert matching_step(secret, totp.at(now), step, now) is None
    assert matching_step(secret, totp.at(now - 30), step, now) is None
    assert matching_step(secret, "12345", None, now) is None
    assert matching_step(secret, "abcdef", None, now) is None


def test_recovery_codes_are_distinct_and_typed_loosely() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    code = codes[0]
    assert normalise_recovery_code(code.lower().replace("-", " ")) == code
    assert normalise_recovery_code("123456") == ""
    assert recovery_hash(code) != recovery_hash(codes[1])


def test_the_qr_code_is_inline_svg() -> None:
    svg = qr_svg("otpauth://totp/vendor-risk:a%40b.c?secret=JBSWY3DPEHPK3PXP&issuer=vendor-risk")
    assert svg.startswith("<svg")
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_sign_in_settings_are_checked() -> None:
    # The roles that need a second factor moved to the policy: the old variable stops
    # start-up and says where the rule is now.
    moved = r"VENDOR_RISK_TOTP_REQUIRED_ROLES: no longer .*second_factor_roles"
    with pytest.raises(SettingsError, match=moved):
        load_settings({"VENDOR_RISK_TOTP_REQUIRED_ROLES": "admin"})
    with pytest.raises(SettingsError, match="VENDOR_RISK_PASSWORD_SIGNIN"):
        load_settings({"VENDOR_RISK_PASSWORD_SIGNIN": "false"})
    with pytest.raises(SettingsError, match="VENDOR_RISK_OIDC_CLIENT_ID"):
        load_settings({"VENDOR_RISK_OIDC_ISSUER": "https://id.example.com"})
    sso = load_settings(
        {
            "VENDOR_RISK_OIDC_ISSUER": "https://id.example.com/",
            "VENDOR_RISK_OIDC_CLIENT_ID": "vr",
            "VENDOR_RISK_OIDC_ALLOWED_DOMAINS": "Firm.example.com, @other.example.com",
            "VENDOR_RISK_PASSWORD_SIGNIN": "false",
        }
    )
    assert sso.oidc_issuer == "https://id.example.com"
    assert sso.oidc_allowed_domains == ("firm.example.com", "other.example.com")
    assert sso.password_signin is False
