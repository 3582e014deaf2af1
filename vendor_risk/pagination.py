"""Keyset pagination with opaque cursors.

A cursor is the sort key of the last row served, encoded so clients treat it as opaque;
lists never use OFFSET, so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar
from uuid import UUID

import msgspec
from litestar.params import Parameter, QueryParameter

from vendor_risk.errors import field_error
from vendor_risk.structs import ONE_LINE_PATTERN

T = TypeVar("T")


class _Created(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> UUID: ...


CreatedT = TypeVar("CreatedT", bound=_Created)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# A text filter of a list (search, action, entity type): one line without control
# characters, so NUL is a 400 naming the parameter rather than a driver error.
FilterText = Annotated[str | None, Parameter(max_length=100, pattern=ONE_LINE_PATTERN)]


# A moment in a query (`from`, `to`): RFC 3339 text only. Parsed here rather than by the
# framework, which would also take a bare number as a Unix time the document does not name.
def moment_parameter(name: str) -> Any:
    return QueryParameter(name=name, max_length=40, schema_extra={"format": "date-time"})


def parse_moment(field: str, value: str | None) -> datetime | None:
    """``value`` as a datetime; a 400 naming ``field`` unless it is an RFC 3339 date-time."""
    if value is None:
        return None
    try:
        if not value[:4].isdigit() or value[4:5] != "-":
            raise ValueError(value)
        return datetime.fromisoformat(value)
    except ValueError:
        raise field_error(field, "expected an RFC 3339 date-time, like 2026-12-01T08:00:00+08:00") from None


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
        values: list[Any] = [
            msgspec.convert(value, t, strict=False) for value, t in zip(key, types, strict=True)
        ]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ValueError("NUL")
        return values
    except (binascii.Error, ValueError, RecursionError, msgspec.DecodeError, msgspec.ValidationError):
        raise field_error("cursor", "not a cursor this API returned") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise field_error("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def created_after(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The (created_at, id) key a ``paged`` cursor resumes after; None for the first page."""
    key = decode_cursor(cursor, datetime, UUID)
    return (key[0], key[1]) if key else None


def paged(rows: list[CreatedT], limit: int) -> Page[CreatedT]:
    """A page from ``limit + 1`` rows ordered by (created_at, id): the extra row only says
    that there is a next page."""
    page = rows[:limit]
    more = len(rows) > limit
    return Page(items=page, next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None)
