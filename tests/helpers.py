"""Helpers the test packages share: free ports, a real SMTP server, valid credit codes."""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import msgspec
import structlog
from aiosmtpd.controller import Controller

from vendor_risk.logging import access_log
from vendor_risk.partners.rules import CREDIT_CODE_ALPHABET, credit_code_check_char, org_code_check_char


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def captured_app_log(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """The structlog lines and the access lines (which bypass structlog's chain) the
    app writes while inside, in one buffer."""
    buffer = io.StringIO()
    previous = structlog.get_config()
    saved = access_log.stream, access_log.enabled
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    access_log.stream, access_log.enabled = buffer, True
    try:
        yield buffer
    finally:
        structlog.configure(**previous)
        access_log.stream, access_log.enabled = saved


def new_credit_code() -> str:
    """A fresh valid 统一社会信用代码 (check characters computed per GB 11714 / 32100)."""
    org = "".join(secrets.choice(CREDIT_CODE_ALPHABET) for _ in range(8))
    first17 = "91" + "310115" + org + org_code_check_char(org)
    return first17 + credit_code_check_char(first17)


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and can refuse the next messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_next = 0
        self.refusals = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refusals += 1
            return "451 4.3.0 greylisted, try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def with_message_id(self, message_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Message-ID"] == message_id]


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free loopback port: its mailbox and its port."""
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


async def outbox_emails(conn: Any, keys: Any, condition: str, *args: Any) -> list[dict[str, Any]]:
    """The emails of the outbox rows matching ``condition`` (SQL over ``outbox``), oldest
    first, unsealed: their content is stored encrypted, only to/subject/lang in the clear."""
    from vendor_risk.notify.outbox import open_email

    rows = await conn.fetch(
        "SELECT id, payload, key_id, nonce, sealed FROM outbox"
        f" WHERE channel = 'email' AND {condition} ORDER BY created_at",
        *args,
    )
    return [
        msgspec.to_builtins(open_email(keys, r["id"], r["payload"], r["key_id"], r["nonce"], r["sealed"]))
        for r in rows
    ]


async def database_dump(url: str) -> str:
    """What a stolen ``pg_dump`` of the database would show (plain SQL, every table)."""
    done = await asyncio.to_thread(
        subprocess.run,
        ["pg_dump", "--format=plain", "--no-owner", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout
