"""Keyset pagination with opaque cursors.

A cursor is the sort key of the last row served, encoded so clients treat it as opaque;
lists never use OFFSET, so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Generic, TypeVar

import msgspec

from vendor_risk.errors import field_error

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> list[Any] | None:
    """Decode a cursor made by ``encode_cursor`` into values of ``types``.

    A forged or foreign cursor is a 400 naming the ``cursor`` parameter.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=list[Any])
        if len(key) != len(types):
            raise ValueError("arity")
        return [msgspec.convert(value, t, strict=False) for value, t in zip(key, types, strict=True)]
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise field_error("cursor", "not a cursor this API returned") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise field_error("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit
