"""Chat alerts: 企业微信 (WeCom) group robots, 钉钉 (DingTalk) custom robots and 飞书 / Lark
custom bots, subscribed per event type and delivered through the outbox.

``fan_out`` runs inside ``emit_event``: every event a channel subscribes to becomes one
outbox row per channel, written in the channel's language from the message catalogue in
the transaction of the change, with a dedupe key derived from the event's, so the worker
delivers it with the retries, backoff and dead letters of every outbox message. The
signature is made at each attempt, because both DingTalk and Feishu refuse a timestamp
older than an hour.

What each platform documents, and this sends:

- WeCom: ``POST {url}`` (``…/cgi-bin/webhook/send?key=…``) with
  ``{"msgtype": "markdown", "markdown": {"content": …}}``; success ``{"errcode": 0, …}``.
- DingTalk: ``POST {url}&timestamp={ms}&sign={urlencoded base64(HMAC-SHA256(secret,
  "{ms}\\n{secret}"))}`` with ``{"msgtype": "markdown", "markdown": {"title", "text"}}``;
  success ``{"errcode": 0, …}``, a bad signature ``{"errcode": 310000, …}``.
- Feishu: ``POST {url}`` (``…/open-apis/bot/v2/hook/…``) with ``{"timestamp": "{s}",
  "sign": base64(HMAC-SHA256(key="{s}\\n{secret}", message=b"")), "msg_type": "text",
  "content": {"text": …}}``; success ``{"code": 0, …}``, a bad signature ``{"code": 19021, …}``.

An answer whose body carries an error code is a failure like an HTTP 5xx: tried again,
then dead with the platform's code and message as the last error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import quote_plus
from uuid import UUID

import asyncpg
import httpx
import msgspec

from vendor_risk.i18n import translator
from vendor_risk.notify.webhooks import USER_AGENT, check_url

Platform = Literal["wecom", "dingtalk", "feishu"]
PLATFORMS: Final[tuple[Platform, ...]] = ("wecom", "dingtalk", "feishu")

# The events a chat channel may subscribe to, and the staff page each one links to.
CHAT_EVENTS: Final[Mapping[str, str]] = {
    "assessment.submitted": "/ui/assessments/{assessment_id}",
    "finding.overdue": "/ui/findings?status=open",
    "incident.opened": "/ui/incidents/{incident_id}",
    "incident.step_overdue": "/ui/incidents/{incident_id}",
    "agreement.expiring": "/ui/partners/{partner_id}",
    "audit.verify_failed": "/ui",
}


class ChatRefused(Exception):
    """The platform answered with an error code in its body (HTTP 200 or not)."""

    def __init__(self, platform: str, code: object, message: object) -> None:
        super().__init__(f"{platform} refused the message: {code} {message}")
        self.code = code


def _format(template: str, data: Mapping[str, Any]) -> str:
    class Missing(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "—"

    return template.format_map(Missing(data))


def render(event_type: str, data: Mapping[str, Any], lang: str) -> tuple[str, str, str]:
    """(title, text, page path) of the alert for an event, in ``lang``: the catalogue's
    entries ``chat_<event>_title`` and ``chat_<event>_text`` filled from the event's data."""
    t = translator(lang)
    key = event_type.replace(".", "_")
    values = dict(data)
    if "severity" in values and values["severity"] in ("low", "medium", "high", "critical"):
        values["severity"] = t(f"severity_{values['severity']}")
    title = _format(t(f"chat_{key}_title"), values)
    text = _format(t(f"chat_{key}_text"), values)
    return title, text, _format(CHAT_EVENTS[event_type], values)


def body_for(platform: Platform, title: str, text: str, link: str, lang: str) -> dict[str, Any]:
    """The message in the platform's documented shape, without any signature."""
    more = translator(lang)("chat_open_page")
    if platform == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{text}\n[{more}]({link})"}}
    if platform == "dingtalk":
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": f"#### {title}\n\n{text}\n\n[{more}]({link})"},
        }
    return {"msg_type": "text", "content": {"text": f"{title}\n{text}\n{more}：{link}"}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` URL parameter (not yet URL-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign`` body field: the key is ``"{timestamp}\\n{secret}"``, the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_request(
    platform: str, url: str, secret: str | None, body: Mapping[str, Any], now: float
) -> tuple[str, dict[str, Any]]:
    """The URL and body of one attempt, signed with ``now`` as the platform requires."""
    if platform == "dingtalk" and secret:
        ms = int(now * 1000)
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}timestamp={ms}&sign={quote_plus(dingtalk_sign(secret, ms))}", dict(body)
    if platform == "feishu" and secret:
        seconds = int(now)
        return url, {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds), **body}
    return url, dict(body)


class ChatPayload(msgspec.Struct, kw_only=True):
    """An alert as the outbox keeps it: written in the channel's language at the change,
    shaped and signed for the platform at each attempt (links on the configured host)."""

    platform: Platform
    lang: str
    title: str
    text: str
    path: str


async def send_chat(
    http: httpx.AsyncClient,
    *,
    url: str,
    secret: str | None,
    payload: ChatPayload,
    public_url: str,
    allow_private: bool,
) -> None:
    """POST one alert; returns when the platform says it took it, raises otherwise."""
    await check_url(url, allow_private=allow_private)
    platform = payload.platform
    body = body_for(platform, payload.title, payload.text, public_url + payload.path, payload.lang)
    target, signed = signed_request(platform, url, secret, body, time.time())
    response = await http.post(
        target,
        content=msgspec.json.encode(signed),
        headers={"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT},
    )
    response.raise_for_status()
    try:
        answer = response.json()
    except ValueError:
        raise ChatRefused(platform, "?", f"not JSON: {response.text[:200]}") from None
    code_field, message_field = ("code", "msg") if platform == "feishu" else ("errcode", "errmsg")
    # Older Feishu bots answered {"StatusCode": 0, "StatusMessage": "success"}.
    code = answer.get(code_field, answer.get("StatusCode")) if isinstance(answer, dict) else None
    if code != 0:
        message = (
            answer.get(message_field, answer.get("StatusMessage")) if isinstance(answer, dict) else answer
        )
        raise ChatRefused(platform, code, message)


async def fan_out(conn: asyncpg.Connection, event_type: str, data: Any, dedupe_key: str | None) -> int:
    """Queue the alert for every active chat channel subscribed to ``event_type``, in the
    transaction of the change; returns how many were queued."""
    return await fan_out_many(conn, event_type, [(data, dedupe_key)])


async def fan_out_many(
    conn: asyncpg.Connection, event_type: str, events: Sequence[tuple[Any, str | None]]
) -> int:
    """``fan_out`` for several events: the channels and partner names read once."""
    if event_type not in CHAT_EVENTS or not events:
        return 0
    channels = await conn.fetch(
        """
        SELECT id, platform, lang FROM chat_channels
        WHERE disabled_at IS NULL AND $1 = ANY (events)
        """,
        event_type,
    )
    if not channels:
        return 0
    values_of = [dict(msgspec.to_builtins(d)) if isinstance(d, Mapping) else {} for d, _ in events]
    unnamed = {str(v["partner_id"]) for v in values_of if v.get("partner_id") and "partner_name" not in v}
    names = {
        str(r["id"]): r["name"]
        for r in await conn.fetch(
            "SELECT id, name FROM partners WHERE id = ANY($1::uuid[])", [UUID(p) for p in unnamed]
        )
    }
    rows = []
    for values, (_, dedupe_key) in zip(values_of, events, strict=True):
        partner_id = values.get("partner_id")
        if partner_id is not None and "partner_name" not in values:
            values["partner_name"] = names.get(str(partner_id))
        for channel in channels:
            title, text, path = render(event_type, values, channel["lang"])
            payload = ChatPayload(
                platform=channel["platform"], lang=channel["lang"], title=title, text=text, path=path
            )
            rows.append(
                (
                    event_type,
                    channel["id"],
                    msgspec.to_builtins(payload),
                    None if dedupe_key is None else f"{dedupe_key}:chat:{channel['id']}",
                )
            )
    await conn.executemany(
        """
        INSERT INTO outbox (channel, topic, chat_channel_id, payload, dedupe_key)
        VALUES ('chat', $1, $2, $3, $4)
        ON CONFLICT (dedupe_key) DO NOTHING
        """,
        rows,
    )
    return len(rows)
