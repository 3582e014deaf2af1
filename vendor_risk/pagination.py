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


class Params:
    """The parameters of a statement assembled from fixed fragments: ``param(value)``
    adds a value and gives the ``$n`` that names it in the SQL; ``values`` go to fetch."""

    __slots__ = ("values",)

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def sql_limit(limit: int) -> str:
    """A list's LIMIT written into its statement, not passed as a parameter. PostgreSQL
    costs a cached generic plan's ``LIMIT $n`` as a tenth of the rows, so at 100k partners
    it found the generic plans of the partner, assessment and incident lists dear and
    planned every call afresh (0.5–0.9 ms each); costed for the page, the generic plan is
    kept. Handlers bound the limit (``check_limit``): a handful of page sizes, each one
    cached statement."""
    return str(int(limit))


def page_first(table: str, conditions: str, order: str, limit: str, *, overdue_of: str | None = None) -> str:
    """SQL for one page of ``table`` ("findings f") meeting ``conditions``, in ``order``,
    to be joined to what its rows show (their partner) only then; with ``overdue_of`` (the
    table's open statuses) the page of overdue rows (``overdue_union``).

    Joined before the LIMIT, a cached generic plan expects the whole table and sizes its
    cache of partners (Memoize) for every partner: at 100k partners setting up and freeing
    that cache cost more than the page's probes themselves (0.35 of 0.65 ms)."""
    if overdue_of is not None:
        return overdue_union(table, overdue_of, conditions, order, limit)
    a = table.split()[1]
    return f"SELECT {a}.* FROM {table} WHERE {conditions} ORDER BY {order} LIMIT {limit}"


def overdue_union(table: str, open_statuses: str, conditions: str, order: str, limit: str) -> str:
    """SQL for the first ``limit`` overdue rows of ``table`` ("findings f", "assessments
    a") meeting ``conditions`` (the list's other filters), in ``order``, with ``$1`` today
    and ``open_statuses`` the table's open ones. Overdue rows come from two places
    (migration 0220): those noted past due (``due_passed``), walked in list order, and the
    others (fallen due since the sweep, or given a past due date), found by their due date
    and sorted. Both halves test the due date, so the union is exact however late the
    notes are.

    The second half states "open, not noted and due before today" only as the expression
    its index and statistics are on, so that no other index offers a range on the due
    date, and ``OFFSET 0`` keeps it from being read in list order: a cached generic plan
    (with no today to estimate by) would otherwise walk every open item newest first, or
    every open item's due date, to find the few fallen due since the sweep."""
    a = table.split()[1]
    open_ = f"{a}.status IN ({open_statuses})"
    pending = f"(CASE WHEN {open_} AND NOT {a}.due_passed THEN {a}.due_on END) < $1::date"
    return f"""
        SELECT * FROM (
            (SELECT {a}.* FROM {table}
             WHERE {conditions} AND {open_} AND {a}.due_passed AND {a}.due_on < $1::date
             ORDER BY {order} LIMIT {limit})
            UNION ALL
            (SELECT * FROM (SELECT {a}.* FROM {table}
                            WHERE {conditions} AND {open_} AND NOT {a}.due_passed AND {pending}
                            OFFSET 0) {a}
             ORDER BY {order} LIMIT {limit})
        ) {a}
        ORDER BY {order} LIMIT {limit}
    """
