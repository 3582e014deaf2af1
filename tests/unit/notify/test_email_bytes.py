"""The outbox's emails as they go on the wire read back as the message that was queued."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendor_risk.notify.email import envelope_addresses, message_bytes, message_id_for
from vendor_risk.notify.outbox import Email

MAIL_FROM = "供应商风险 <noreply@firm.example>"


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def encodings(message: EmailMessage) -> list[str | None]:
    return [part["Content-Transfer-Encoding"] for part in message.walk() if not part.is_multipart()]


@pytest.mark.parametrize("eight_bit", [True, False])
def test_a_chinese_email_reads_back_with_its_headers_and_both_parts(eight_bit: bool) -> None:
    outbox_id = uuid4()
    email = Email(
        to="contact@partner.example",
        subject="请填写安全问卷：某某科技有限公司，截止 2026年12月31日（北京时间）",
        text="您好：\n\n请打开链接填写问卷。\n" * 5,
        html="<p>您好：</p>" * 40,
        reply_to="王芳 <owner@firm.example>",
    )

    message = parsed(message_bytes(outbox_id, email, MAIL_FROM, eight_bit=eight_bit))

    assert message["From"] == MAIL_FROM
    assert message["To"] == email.to
    assert message["Subject"] == email.subject
    assert message["Reply-To"] == email.reply_to
    assert message["Message-ID"] == message_id_for(outbox_id, MAIL_FROM)
    assert message["Content-Language"] == "zh-CN"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    # An 8bit part keeps the wire's CRLF line ends, as the stdlib's own messages did.
    assert text.get_content().replace("\r\n", "\n") == email.text
    assert html.get_content() == email.html + "\n"
    # Short lines go as they are when the server takes 8BITMIME, else in base64.
    assert encodings(message) == (["8bit", "base64"] if eight_bit else ["base64", "base64"])
    assert all(len(line) <= 78 for line in message_bytes(outbox_id, email, MAIL_FROM).split(b"\r\n"))


def test_an_english_text_only_email_is_plain_ascii() -> None:
    email = Email(to="a@partner.example", subject="Please fill in", text="Open the link.\n", lang="en")

    message = parsed(message_bytes(uuid4(), email, "vendor-risk <noreply@firm.example>"))

    assert not message.is_multipart()
    assert message.get_content().replace("\r\n", "\n") == "Open the link.\n"
    assert encodings(message) == ["7bit"]
    assert message["Content-Language"] == "en"


def test_an_address_not_in_ascii_is_written_in_utf8_and_a_line_break_is_refused() -> None:
    email = Email(to="赵敏@partner.example", subject="通知", text="文字")

    message = parsed(message_bytes(uuid4(), email, MAIL_FROM, eight_bit=True))

    assert message["To"] == "赵敏@partner.example"
    assert envelope_addresses(MAIL_FROM) == ["noreply@firm.example"]
    with pytest.raises(ValueError, match="line break"):
        message_bytes(uuid4(), Email(to="a@b.example", subject="x\r\nBcc: c@d.example", text="x"), MAIL_FROM)


def test_long_mostly_ascii_lines_go_quoted_printable_and_read_back() -> None:
    text = "Answer through your personal link, 合作方 (no account or password needed): " * 3 + "\n= end \n"
    email = Email(to="a@partner.example", subject="Questionnaire 问卷 ✅ " * 4, text=text, lang="en")

    data = message_bytes(uuid4(), email, MAIL_FROM, eight_bit=True)
    message = parsed(data)

    assert encodings(message) == ["quoted-printable"]
    assert message.get_content().replace("\r\n", "\n") == text
    assert message["Subject"] == email.subject
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))


HEADER_TEXT = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs")) | st.just(" ")


@given(
    subject=st.text(HEADER_TEXT, max_size=120),
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=600),
    eight_bit=st.booleans(),
)
def test_any_subject_and_text_read_back_as_written(subject: str, text: str, eight_bit: bool) -> None:
    email = Email(to="a@partner.example", subject=subject, text=text)

    message = parsed(message_bytes(uuid4(), email, MAIL_FROM, eight_bit=eight_bit))

    # A header's outer spaces are folding whitespace, which a reader may drop or keep.
    assert message["Subject"].strip() == subject.strip()
    content = message.get_content().replace("\r\n", "\n")
    # A part always ends with a line break.
    assert content == (text if text.endswith("\n") else text + "\n")
