"""A cursor the API did not make is a 400 naming ``cursor``, never a 500 or a silent page."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from uuid import UUID

import pytest
from litestar.exceptions import HTTPException

from vendor_risk.pagination import decode_cursor, encode_cursor


@pytest.mark.parametrize(
    "cursor",
    ["-script.pyw", "\x03&ã", "", base64.urlsafe_b64encode(b"[1]").decode(), encode_cursor("x\x00", 1)],
)
def test_a_forged_cursor_names_the_parameter(cursor: str) -> None:
    with pytest.raises(HTTPException) as refused:
        decode_cursor(cursor, str, int)
    assert refused.value.status_code == 400
    assert refused.value.detail == "cursor: not a cursor this API returned"


def test_a_cursor_the_api_made_round_trips() -> None:
    when, key = datetime(2026, 12, 1, 8, 0, tzinfo=UTC), UUID(int=7)
    assert decode_cursor(encode_cursor(when.isoformat(), str(key)), datetime, UUID) == [when, key]
