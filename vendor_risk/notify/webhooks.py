"""Webhook deliveries signed per the Standard Webhooks scheme, to checked URLs only.

A receiver verifies ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key,
"{webhook-id}.{webhook-timestamp}.{body}")), where the key is the base64-decoded part of
the subscription's ``whsec_`` secret. ``webhook-id`` is the outbox message id, so a retry
carries the id of the first attempt and the receiver can drop a duplicate.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import msgspec

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
USER_AGENT = "vendor-risk-webhooks/1"


class WebhookUrlRefused(ValueError):
    """The URL may not receive webhooks (wrong scheme, or an address on a private network)."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 reaches 127.0.0.1.
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host resolves to a non-public address.

    Every address the name resolves to is checked, so a name with one public and one
    private record is refused too. The check runs again before each delivery, because
    DNS can change after the subscription was made.

    Raises ``WebhookUrlRefused``, or ``OSError`` when the name does not resolve.
    """
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # "http://[::1/x": an unclosed IPv6 bracket
        raise WebhookUrlRefused("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise WebhookUrlRefused("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise WebhookUrlRefused("must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookUrlRefused("has an invalid port") from None
    if allow_private:
        return
    infos = await asyncio.get_running_loop().getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    refused = sorted({str(info[4][0]) for info in infos if not is_public_address(str(info[4][0]))})
    if refused:
        raise WebhookUrlRefused(
            f"resolves to a private, loopback or reserved address ({', '.join(refused)}); "
            "webhooks may only reach public addresses"
        )


async def send_webhook(
    http: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    message_id: UUID,
    payload: Any,
    allow_private: bool,
) -> None:
    """POST one signed event; returns on a 2xx answer and raises otherwise.

    Redirects are not followed (the client is built so): a redirect could lead to an
    address the URL check would have refused.
    """
    await check_url(url, allow_private=allow_private)
    body = msgspec.json.encode(payload)
    timestamp = int(datetime.now(UTC).timestamp())
    response = await http.post(
        url,
        content=body,
        headers={
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": str(message_id),
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, str(message_id), timestamp, body),
        },
    )
    response.raise_for_status()
