"""Sending outbox emails over SMTP, as configured by ``VENDOR_RISK_SMTP_URL``.

``smtp://`` sends in clear (a local relay or Mailpit), ``smtp+starttls://`` upgrades with
STARTTLS and refuses a server that cannot, ``smtps://`` speaks TLS from the first byte;
``user:password@`` logs in.
"""

from __future__ import annotations

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


async def send_email(smtp_url: str, mail_from: str, outbox_id: UUID, email: Email) -> None:
    """Hand one email to the SMTP server; raises aiosmtplib's errors on refusal."""
    server = smtp_server(smtp_url)
    await aiosmtplib.send(
        build_message(outbox_id, email, mail_from),
        hostname=server.hostname,
        port=server.port,
        use_tls=server.use_tls,
        start_tls=server.start_tls,
        username=server.username,
        password=server.password,
        timeout=SMTP_TIMEOUT,
    )
