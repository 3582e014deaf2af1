"""Delivery rules without I/O: signatures, backoff, what counts as temporary, SMTP URLs."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.notify.delivery import RETRY_BASE, RETRY_CAP, Undeliverable, describe_failure, retry_delay
from vendor_risk.notify.email import SmtpServer, smtp_server
from vendor_risk.notify.webhooks import WebhookUrlRefused, is_public_address, sign


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # The example in the Standard Webhooks specification.
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@given(st.integers(min_value=1, max_value=1000))
def test_backoff_stays_between_half_a_minute_and_the_cap(attempt: int) -> None:
    assert RETRY_BASE / 2 <= retry_delay(attempt) <= RETRY_CAP
    if attempt >= 8:
        assert retry_delay(attempt) >= RETRY_CAP / 2


def test_backoff_doubles() -> None:
    assert retry_delay(1) <= timedelta(minutes=1) < timedelta(minutes=2) <= retry_delay(3)


def http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://example.com/hook")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError("failed", request=request, response=response)


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        (http_error(500), True),
        (http_error(503), True),
        (http_error(429), True),
        (http_error(408), True),
        (http_error(400), False),
        (http_error(404), False),
        (http_error(301), False),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (aiosmtplib.SMTPResponseException(451, "greylisted"), True),
        (aiosmtplib.SMTPResponseException(552, "too big"), False),
        (aiosmtplib.SMTPAuthenticationError(535, "bad password"), True),
        (aiosmtplib.SMTPServerDisconnected("gone"), True),
        (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "a@x.cn")]), True),
        (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "none", "a@x.cn")]), False),
        (WebhookUrlRefused("resolves to 10.0.0.1"), False),
        (Undeliverable("the webhook subscription was deleted"), False),
    ],
)
def test_temporary_and_permanent_failures(error: Exception, temporary: bool) -> None:
    assert describe_failure(error)[1] is temporary


def test_failure_descriptions_are_short_and_plain() -> None:
    assert describe_failure(http_error(502)) == ("HTTP 502 Bad Gateway", True)
    assert describe_failure(aiosmtplib.SMTPResponseException(451, "4.3.0 later")) == (
        "SMTP 451 4.3.0 later",
        True,
    )


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://127.0.0.1:1025", SmtpServer("127.0.0.1", 1025, False, False, None, None)),
        ("smtp://mail.example.com", SmtpServer("mail.example.com", 25, False, False, None, None)),
        (
            "smtp+starttls://bot%40example.com:p%3Ass@mail.example.com",
            SmtpServer("mail.example.com", 587, False, True, "bot@example.com", "p:ss"),
        ),
        ("smtps://u:p@mail.example.com:2465", SmtpServer("mail.example.com", 2465, True, False, "u", "p")),
    ],
)
def test_smtp_url(url: str, server: SmtpServer) -> None:
    assert smtp_server(url) == server


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:85e5", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, nothing binds it
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public
