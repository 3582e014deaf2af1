"""Writing to the outbox, in the transaction of the change that causes the message.

The worker delivers what is written here; nothing is sent from a request handler, so a
rolled-back change never sends a message and a committed one always does.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from vendor_risk.db import data_keys_of
from vendor_risk.documents import OUTBOX_PAYLOAD, seal, unseal
from vendor_risk.settings import DataKey
from vendor_risk.structs import I18nText


class Email(msgspec.Struct, kw_only=True):
    to: str
    subject: str
    text: str
    html: str | None = None
    lang: str = "zh-CN"
    # Whom the recipient's Reply reaches, when not the (often no-reply) sender.
    reply_to: str | None = None


def format_day(value: date, lang: str) -> str:
    if lang == "zh-CN":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {value:%b %Y}"


def simple_email(
    to: str, lang: str, subject: I18nText, paragraphs: list[I18nText], items: list[str]
) -> Email:
    """An email in ``lang`` whose text and HTML parts come from the same paragraphs (and
    an optional bulleted list after the first), signed by the product."""
    texts = [p.get(lang) for p in paragraphs]
    signature = (
        "—— vendor-risk 合作方风险管理" if lang == "zh-CN" else "-- vendor-risk partner risk management"
    )
    text_items = [f"  - {item}" for item in items]
    text = "\n\n".join([texts[0], *(["\n".join(text_items)] if items else []), *texts[1:], signature]) + "\n"
    html_items = "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>" if items else ""
    body = "".join(f"<p>{html.escape(t)}</p>" for t in texts[:1]) + html_items
    body += "".join(f"<p>{html.escape(t)}</p>" for t in texts[1:])
    body += f"<p>{html.escape(signature)}</p>"
    return Email(
        to=to,
        subject=subject.get(lang),
        text=text,
        html=f'<!doctype html><html lang="{lang}"><body>{body}</body></html>',
        lang=lang,
    )


def email_metadata(email: Email) -> dict[str, Any]:
    """What stays readable of a sealed email: enough for the admins' outbox list."""
    return {"to": email.to, "subject": email.subject, "lang": email.lang}


async def enqueue_email(
    conn: asyncpg.Connection, *, topic: str, email: Email, dedupe_key: str | None = None
) -> UUID | None:
    """Queue one email; with ``dedupe_key`` a second call for the same key does nothing.

    Emails carry live links (portal, sign-in), so the whole message is sealed with the
    current data key the connection carries (see ``vendor_risk.db.Connection``); only
    its recipient, subject and language stay readable. A connection without keys (a
    test's bare connection) writes the message in the clear.
    """
    message_id = uuid4()
    keys = data_keys_of(conn)
    if keys:
        nonce, sealed = seal(keys[0], OUTBOX_PAYLOAD, message_id, msgspec.json.encode(email))
        payload, key_id = email_metadata(email), keys[0].key_id
    else:
        payload, key_id, nonce, sealed = msgspec.to_builtins(email), None, None, None
    row = await conn.fetchrow(
        """
        INSERT INTO outbox (id, channel, topic, payload, dedupe_key, key_id, nonce, sealed)
        VALUES ($1, 'email', $2, $3, $4, $5, $6, $7)
        ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
        """,
        message_id,
        topic,
        payload,
        dedupe_key,
        key_id,
        nonce,
        sealed,
    )
    return row["id"] if row else None


async def enqueue_emails(conn: asyncpg.Connection, *, topic: str, emails: Sequence[Email]) -> list[UUID]:
    """Queue several emails in one statement, sealed as ``enqueue_email`` seals one; in
    the order given (the order their recipients receive them). Returns their ids."""
    if not emails:
        return []
    keys = data_keys_of(conn)
    ids = [uuid4() for _ in emails]
    payloads: list[Any] = []
    key_ids: list[str | None] = []
    nonces: list[bytes | None] = []
    sealeds: list[bytes | None] = []
    for message_id, email in zip(ids, emails, strict=True):
        if keys:
            nonce, sealed = seal(keys[0], OUTBOX_PAYLOAD, message_id, msgspec.json.encode(email))
            payloads.append(email_metadata(email))
            key_ids.append(keys[0].key_id)
            nonces.append(nonce)
            sealeds.append(sealed)
        else:
            payloads.append(msgspec.to_builtins(email))
            key_ids.append(None)
            nonces.append(None)
            sealeds.append(None)
    await conn.execute(
        """
        INSERT INTO outbox (id, channel, topic, payload, key_id, nonce, sealed)
        SELECT e.id, 'email', $1, e.payload, e.key_id, e.nonce, e.sealed
        FROM unnest($2::uuid[], $3::jsonb[], $4::text[], $5::bytea[], $6::bytea[])
             WITH ORDINALITY AS e(id, payload, key_id, nonce, sealed, ord)
        ORDER BY e.ord
        """,
        topic,
        ids,
        payloads,
        key_ids,
        nonces,
        sealeds,
    )
    return ids


def open_email(
    keys: tuple[DataKey, ...],
    message_id: UUID,
    payload: Any,
    key_id: str | None,
    nonce: bytes | None,
    sealed: bytes | None,
) -> Email:
    """The email an outbox row holds, unsealed when sealed."""
    if sealed is None or key_id is None or nonce is None:
        return msgspec.convert(payload, Email)
    return msgspec.json.decode(unseal(keys, key_id, OUTBOX_PAYLOAD, message_id, nonce, sealed), type=Email)


async def emit_event(
    conn: asyncpg.Connection, event_type: str, data: Any, *, dedupe_key: str | None = None
) -> int:
    """Fan an event out to every active webhook subscribed to it; returns how many.

    Each subscription gets its own outbox row, whose id is the Standard Webhooks
    ``webhook-id``, so retries carry the same id and receivers can deduplicate.
    """
    payload = {
        "type": event_type,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": msgspec.to_builtins(data),
    }
    result: str = await conn.execute(
        """
        INSERT INTO outbox (channel, topic, webhook_id, payload, dedupe_key)
        SELECT 'webhook', $1, w.id, $2, CASE WHEN $3::text IS NULL THEN NULL ELSE $3 || ':' || w.id END
        FROM webhooks w
        WHERE w.disabled_at IS NULL AND ($1 = ANY (w.events) OR '*' = ANY (w.events))
        ON CONFLICT (dedupe_key) DO NOTHING
        """,
        event_type,
        payload,
        dedupe_key,
    )
    # Chat robots subscribed to the event get it too (vendor_risk.notify.chat).
    from vendor_risk.notify.chat import fan_out

    await fan_out(conn, event_type, data, dedupe_key)
    return int(result.rsplit(" ", 1)[-1])


async def emit_events(
    conn: asyncpg.Connection, event_type: str, events: Sequence[tuple[Any, str | None]]
) -> None:
    """``emit_event`` for each ``(data, dedupe_key)``, the webhooks' rows in one statement."""
    if not events:
        return
    timestamp = datetime.now(UTC).isoformat()
    await conn.execute(
        """
        INSERT INTO outbox (channel, topic, webhook_id, payload, dedupe_key)
        SELECT 'webhook', $1, w.id, e.payload, CASE WHEN e.key IS NULL THEN NULL ELSE e.key || ':' || w.id END
        FROM unnest($2::jsonb[], $3::text[]) WITH ORDINALITY AS e(payload, key, ord)
        CROSS JOIN webhooks w
        WHERE w.disabled_at IS NULL AND ($1 = ANY (w.events) OR '*' = ANY (w.events))
        ORDER BY e.ord, w.id
        ON CONFLICT (dedupe_key) DO NOTHING
        """,
        event_type,
        [{"type": event_type, "timestamp": timestamp, "data": msgspec.to_builtins(d)} for d, _ in events],
        [key for _, key in events],
    )
    from vendor_risk.notify.chat import fan_out_many

    await fan_out_many(conn, event_type, events)
