"""Sending outbox emails over SMTP, as configured by ``VENDOR_RISK_SMTP_URL``.

``smtp://`` sends in clear (a local relay or Mailpit), ``smtp+starttls://`` upgrades with
STARTTLS and refuses a server that cannot, ``smtps://`` speaks TLS from the first byte;
``user:password@`` logs in.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
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
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{outbox_id}@{domain}>"


def build_message(outbox_id: UUID, email: Email, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id_for(outbox_id, mail_from)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Content-Language"] = email.lang
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message


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
        self.opened += 1
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def send(self, outbox_id: UUID, email: Email) -> None:
        """Hand one email to the server; raises aiosmtplib's errors on refusal."""
        message = build_message(outbox_id, email, self._mail_from)
        client = self._client if self._client is not None and self._client.is_connected else None
        kept = client is not None
        try:
            if client is None:
                client = await self._open()
            try:
                await client.send_message(message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not kept:
                    raise
                self._drop()
                client = await self._open()
                await client.send_message(message)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
            # A refusal leaves the session reset and usable, unless the server is leaving (421).
            leaving = isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421
            if leaving or client is None or not client.is_connected:
                self._drop()
            raise
        except BaseException:
            self._drop()
            raise

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self._client.quit()
        self._drop()
