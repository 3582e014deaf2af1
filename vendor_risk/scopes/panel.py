"""The scopes panel of the partner page: scopes with the approval gate's answer shown
before the button is pressed, sub-processors and impact assessments.

Kept apart from ``scopes.pages`` (the routes) so the partner page can build it while the
scope routes re-render the partner page on a refused form: imports stay one-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
from litestar import Request

from vendor_risk.auth.guards import requires_risk_owner
from vendor_risk.partners.labels import Labels
from vendor_risk.partners.models import Partner
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import SCOPE_TRANSITIONS, LifecycleFacts
from vendor_risk.scopes import repository as repo
from vendor_risk.scopes import service
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form
from vendor_risk.ui.web import allows, page_lang

DETAIL_ITEMS = 50


async def scope_panel(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    settings: Settings,
    partner: Partner,
    facts: LifecycleFacts,
    labels: Labels,
    forms: Mapping[str, Form],
) -> dict[str, Any]:
    """Scopes (newest first) each with the forms the user's role may use and, for one
    awaiting approval, what the approval gate would refuse now; the partner's
    sub-processors and impact assessments. A fixed number of queries."""
    lang = page_lang(request)
    scopes = await repo.list_scopes(db, partner.id, None, None, DETAIL_ITEMS)
    previews = await service.approval_previews(
        db, partner.id, partner.status, facts.scopes, facts.today, settings
    )
    sub_processors = await repo.list_sub_processors(db, partner.id, None, DETAIL_ITEMS)
    impact_assessments = await repo.list_impact_assessments(db, partner.id, None, DETAIL_ITEMS)
    can_decide = await allows(requires_risk_owner, request)
    can_write = partner.status not in service.CLOSED_PARTNER_STATUSES and await allows(
        requires_record_keeper, request
    )
    can_revoke = await allows(requires_record_keeper, request)
    items = []
    for s in scopes:
        allowed = SCOPE_TRANSITIONS[s.status]
        reasons = [labels.unmet(u) for u in previews.get(s.id, [])]
        approve = forms.get(f"approve:{s.id}")
        if approve is not None and approve.unmet:
            reasons = [u["message"] for u in approve.unmet]
        items.append(
            {
                "s": s,
                "can_approve": can_decide and "approved" in allowed,
                "can_suspend": can_decide and "suspended" in allowed,
                "can_revoke": can_revoke and "revoked" in allowed,
                "reasons": reasons,
                "approve": approve or Form(lang),
                "withdraw": forms.get(f"withdraw:{s.id}") or Form(lang),
                "refused": approve is not None,
                "unlisted": forms.get(f"unlisted:{s.id}")
                or Form(
                    lang,
                    {
                        "unlisted_clients_approx": ""
                        if s.unlisted_clients_approx is None
                        else str(s.unlisted_clients_approx)
                    },
                ),
            }
        )
    pending_subs = [{"sp": sp, "form": forms.get(f"decide:{sp.id}") or Form(lang)} for sp in sub_processors]
    return {
        "items": items,
        "sub_processors": pending_subs,
        "impact_assessments": impact_assessments,
        # A scope's category in the page language (tier factors name it by scope).
        "names": {str(s.id): s.category.name.get(lang) for s in scopes},
        "new_sub_processor": forms.get("sub_processor") or Form(lang),
        "can_write": can_write,
        "can_decide": can_decide,
    }
