"""Sending outbox emails over SMTP, as configured by ``VENDOR_RISK_SMTP_URL``.

``smtp://`` sends in clear (a local relay or Mailpit), ``smtp+starttls://`` upgrades with
STARTTLS and refuses a server that cannot, ``smtps://`` speaks TLS from the first byte;
``user:password@`` logs in.
"""

from __future__ import annotations

import binascii
import contextlib
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from functools import lru_cache
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib

from vendor_risk.notify.outbox import Email

SMTP_TIMEOUT = 30.0

# scheme -> (default port, TLS from the start, STARTTLS required)
_SCHEMES = {
    "smtp": (25, False, False),
    "smtp+starttls": (587, False, True),
    "smtps": (465, True, False),
}


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None


def smtp_server(url: str) -> SmtpServer:
    parts = urlsplit(url)
    default_port, use_tls, start_tls = _SCHEMES[parts.scheme]
    return SmtpServer(
        hostname=parts.hostname or "localhost",
        port=parts.port or default_port,
        use_tls=use_tls,
        start_tls=start_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def message_id_for(outbox_id: UUID, mail_from: str) -> str:
    """The same ``Message-ID`` on every attempt, so a resend after an uncertain send
    (the connection dropped after DATA) can be recognised as a duplicate downstream."""
    return f"<{outbox_id}@{_domain(mail_from)}>"


@lru_cache(maxsize=16)
def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


# Lines of a text part longer than this are encoded (as the stdlib's policies do).
_MAX_LINE = 78
_CRLF = b"\r\n"
_WORD_BYTES = 39


def _header(name: str, value: str) -> bytes:
    """``Name: value``, as RFC 2047 encoded words (UTF-8, base64) of whole characters
    when not ASCII or too long for a line; a line break in a value is refused, as
    ``email.message.EmailMessage`` refuses it (no header injection)."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} may not contain a line break")
    if value.isascii() and len(name) + len(value) + 2 <= _MAX_LINE:
        return f"{name}: {value}".encode() + _CRLF
    # email.header.Header does the same in ~1 ms a subject; a word here is at most 39
    # bytes of text, so that ``Subject: `` and one word stay within a line.
    data = value.encode()
    words: list[str] = []
    start = 0
    while start < len(data):
        end = start + _WORD_BYTES
        # A word ends before a UTF-8 continuation byte (0b10xxxxxx), never inside a character.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(_encoded_word(data[start:end]))
        start = end
    return f"{name}: ".encode() + "\r\n ".join(words).encode() + _CRLF


@lru_cache(maxsize=1)
def _date_header(second: int) -> bytes:
    """The ``Date`` header of the emails built within one second: formatting it was a
    tenth of building an email."""
    return _header("Date", format_datetime(datetime.fromtimestamp(second, UTC)))


def _encoded_word(data: bytes) -> str:
    return f"=?utf-8?b?{binascii.b2a_base64(data, newline=False).decode()}?="


@lru_cache(maxsize=16)
def _address(name: str, value: str) -> bytes:
    """An address header; a display name that is not ASCII is RFC 2047 encoded."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} may not contain a line break")
    if value.isascii():
        return f"{name}: {value}".encode() + _CRLF
    display, address = parseaddr(value)
    if not address.isascii():
        # An address itself not in ASCII goes in UTF-8 as it is: the message is sent with
        # SMTPUTF8, whose headers are UTF-8 (as the stdlib's SMTPUTF8 policy writes them).
        return f"{name}: {value}".encode() + _CRLF
    return f"{name}: {formataddr((display, address), charset='utf-8')}".encode() + _CRLF


# The bytes quoted-printable writes as three (``=XX``); tabs and spaces only at a line's end.
_QP_ESCAPED = bytes(b for b in range(256) if b >= 127 or b == ord("=") or (b < 32 and b not in b"\t\n\r"))


def _part(subtype: str, content: str, eight_bit: bool) -> tuple[bytes, bytes]:
    """(headers, body) of one text part in UTF-8, its transfer encoding chosen as the
    stdlib's ``set_content`` chooses it: 7bit for short ASCII lines, 8bit for short lines
    when the server takes 8BITMIME, else the shorter of quoted-printable and base64."""
    lines = content.encode().splitlines()
    if max(map(len, lines), default=0) <= _MAX_LINE:
        if content.isascii():
            return _content_headers(subtype, "7bit"), _CRLF.join(lines) + _CRLF
        if eight_bit:
            return _content_headers(subtype, "8bit"), _CRLF.join(lines) + _CRLF
    # The stdlib compares the two on the first ten lines with its pure-Python
    # quoted-printable encoder, a quarter of an email's CPU; binascii's are C. Quoted-printable
    # is encoded only when its lower bound (three bytes for each escaped one) is shorter than
    # base64: a Chinese part never is.
    body = b"\n".join(lines) + b"\n"
    encoded = _base64_lines(body)
    if len(body) + 2 * (len(body) - len(body.translate(None, _QP_ESCAPED))) < len(encoded):
        quoted = binascii.b2a_qp(_CRLF.join(lines) + _CRLF, istext=True)
        if len(quoted) <= len(encoded):
            return _content_headers(subtype, "quoted-printable"), quoted
    return _content_headers(subtype, "base64"), encoded


def _base64_lines(data: bytes) -> bytes:
    """``base64.encodebytes`` with CRLF line ends, in one call to the encoder."""
    flat = binascii.b2a_base64(data, newline=False)
    return b"".join(flat[i : i + 76] + _CRLF for i in range(0, len(flat), 76))


def _content_headers(subtype: str, cte: str) -> bytes:
    return f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'.encode()


def message_bytes(outbox_id: UUID, email: Email, mail_from: str, *, eight_bit: bool = False) -> bytes:
    """The email as it goes on the wire: headers, then the text part, or text and HTML as
    ``multipart/alternative``; ``eight_bit`` when the server takes 8BITMIME.

    Built directly rather than through ``email.message.EmailMessage``, whose header
    objects and generator cost ~20 ms a message on a busy machine, most of the outbox's
    time; what a mail client parses is the same (the integration tests read each email
    back with the stdlib parser).
    """
    head = b"".join(
        [
            _address("From", mail_from),
            _address("To", email.to),
            _header("Subject", email.subject),
            _date_header(int(time.time())),
            _header("Message-ID", message_id_for(outbox_id, mail_from)),
            _address("Reply-To", email.reply_to) if email.reply_to else b"",
            _header("Content-Language", email.lang),
            b"MIME-Version: 1.0\r\n",
        ]
    )
    text_headers, text = _part("plain", email.text, eight_bit)
    if not email.html:
        return head + text_headers + _CRLF + text
    html_headers, html = _part("html", email.html, eight_bit)
    boundary = f"==============={random.randrange(sys.maxsize):019d}=="  # noqa: S311 - not a secret
    marker = f"--{boundary}".encode()
    while marker in text or marker in html:
        boundary = f"==============={random.randrange(sys.maxsize):019d}=="  # noqa: S311
        marker = f"--{boundary}".encode()
    return b"".join(
        [
            head,
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode(),
            # The line break before a boundary belongs to the boundary, not to the part.
            marker + _CRLF + text_headers + _CRLF + text + _CRLF,
            marker + _CRLF + html_headers + _CRLF + html + _CRLF,
            marker + b"--" + _CRLF,
        ]
    )


def envelope_addresses(value: str) -> list[str]:
    """The bare addresses of a header value (``Name <a@b>, c@d`` -> ``a@b``, ``c@d``) for
    MAIL FROM and RCPT TO, as aiosmtplib takes them from the headers."""
    if value.isascii() and not any(c in value for c in '<>,("'):
        return [value.strip()]
    return [address for _, address in getaddresses([value]) if address] or [value]


class SmtpConnection:
    """One SMTP connection for a run of emails, opened at the first send.

    A connection per email costs a TCP (and TLS) handshake, EHLO and login each time: about
    a quarter of the rate one connection sustains. A server may close a connection it kept
    (an idle timeout, a limit of messages per connection): an email that finds it closed is
    sent once more on a fresh one, and only a failure there is the email's own (retried
    with backoff by the caller, as before). After any failure that may leave the session
    midway (a timeout, a cancelled send) the connection is dropped, never reused.
    """

    def __init__(self, smtp_url: str, mail_from: str) -> None:
        self._server = smtp_server(smtp_url)
        self._mail_from = mail_from
        self._sender = envelope_addresses(mail_from)[0]
        self._client: aiosmtplib.SMTP | None = None
        self.opened = 0

    async def _open(self) -> aiosmtplib.SMTP:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.hostname,
            port=server.port,
            use_tls=server.use_tls,
            start_tls=server.start_tls,
            username=server.username,
            password=server.password,
            timeout=SMTP_TIMEOUT,
        )
        await client.connect()
        # EHLO now rather than at the first send, to know the server's extensions (8BITMIME)
        # before the message is built; a server that refuses it is greeted with HELO.
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()
        self.opened += 1
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def send(self, outbox_id: UUID, email: Email) -> None:
        """Hand one email to the server; raises aiosmtplib's errors on refusal."""
        client = self._client if self._client is not None and self._client.is_connected else None
        kept = client is not None
        try:
            if client is None:
                client = await self._open()
            try:
                await self._sendmail(client, outbox_id, email)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not kept:
                    raise
                self._drop()
                client = await self._open()
                await self._sendmail(client, outbox_id, email)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
            # A refusal leaves the session reset and usable, unless the server is leaving (421).
            leaving = isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421
            if leaving or client is None or not client.is_connected:
                self._drop()
            raise
        except BaseException:
            self._drop()
            raise

    async def _sendmail(self, client: aiosmtplib.SMTP, outbox_id: UUID, email: Email) -> None:
        """The envelope and options ``send_message`` would derive from the message's
        headers (8BITMIME when the server has it, SMTPUTF8 for an address not in ASCII),
        with the message built as bytes once."""
        eight_bit = client.supports_extension("8bitmime")
        data = message_bytes(outbox_id, email, self._mail_from, eight_bit=eight_bit)
        recipients = envelope_addresses(email.to)
        options = ["BODY=8BITMIME"] if eight_bit else []
        if not (self._sender.isascii() and all(r.isascii() for r in recipients)):
            options.append("SMTPUTF8")
        await client.sendmail(self._sender, recipients, data, mail_options=options)

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self._client.quit()
        self._drop()
