"""The catalogue of webhook event types: what a subscription may ask for.

Domains emit these names with ``vendor_risk.notify.outbox.emit_event``; a subscription
names some of them, or ``*`` for all. Add a name here when a domain starts emitting it.
"""

from __future__ import annotations

from typing import Final

EVENT_TYPES: Final = frozenset(
    {
        "assessment.sent",
        "assessment.submitted",
        "assessment.reviewed",
        "assessment.overdue",
        "agreement.expiring",
        "agreement.expired",
        "scope.approved",
        "scope.suspended",
        "scope.revoked",
        "scope.expired",
        "partner.status_changed",
        "partner.tier_changed",
        "finding.opened",
        "finding.overdue",
        # The daily walk of the audit chain found it altered (vendor_risk.worker).
        "audit.chain_broken",
        "incident.opened",
        "incident.step_overdue",
        "incident.closed",
        # Emitted by the playbooks' notify actions (vendor_risk/incidents/playbooks).
        "incident.contained",
        "incident.partner_unavailable",
    }
)

# Subscribes to every event type, including those added later.
ALL_EVENTS: Final = "*"
