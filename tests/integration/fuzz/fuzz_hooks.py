"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS) for the OpenAPI fuzz test."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    # A `cursor` is opaque: only one the API itself returned is valid, so a generated one is
    # always (rightly) a 400, which `positive_data_acceptance` would count as a finding. Forged
    # cursors are refused by tests/unit/test_forged_cursors.py.
    if query:
        query.pop("cursor", None)
    return query
