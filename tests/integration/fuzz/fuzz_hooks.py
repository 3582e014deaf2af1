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


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    # A notice audience other than `all` needs an `audience_value` that names something that
    # exists (a tier, a data category, a service type of the policy, a partner): a rule
    # across two fields and the database, so a generated value is rightly a 400 naming
    # `audience_value`, which `positive_data_acceptance` would count as a finding. Those
    # refusals are tested in tests/integration/ui/test_notice_pages.py; a schema-valid case
    # here asks for `all`. Schema-violating cases are sent as generated.
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode.name == "POSITIVE"
    if positive and isinstance(body, dict) and body.get("audience") not in (None, "all"):
        body["audience"] = "all"
        body.pop("audience_value", None)
