"""The agreements panel of the partner page: what it lists and which forms each role gets.

Kept apart from ``agreements.pages`` (the routes) so the partner page can build it while
the agreement routes re-render the partner page on a refused form: imports stay one-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import asyncpg
from litestar import Request

from vendor_risk.agreements import repository as repo
from vendor_risk.agreements.routes import requires_document_reader
from vendor_risk.partners.labels import Labels
from vendor_risk.partners.models import Partner
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form
from vendor_risk.ui.web import allows, page_lang

DETAIL_ITEMS = 50


async def agreement_panel(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner: Partner,
    today: date,
    labels: Labels,
    forms: Mapping[str, Form],
) -> dict[str, Any]:
    """The partner's newest agreements (one query), each with its upload and terminate
    forms for those who may use them."""
    items = await repo.list_agreements(
        db, partner.id, None, None, DETAIL_ITEMS, today, settings.agreement_expiring_days
    )
    lang = page_lang(request)
    can_write = partner.status != "offboarded" and await allows(requires_record_keeper, request)
    return {
        "items": [
            {
                "a": a,
                "upload": forms.get(f"upload:{a.id}") or Form(lang),
                "terminate": forms.get(f"terminate:{a.id}") or Form(lang),
                "open": f"upload:{a.id}" in forms or f"terminate:{a.id}" in forms,
            }
            for a in items
        ],
        "can_write": can_write,
        "can_download": await allows(requires_document_reader, request),
    }
