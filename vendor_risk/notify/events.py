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
        "incident.opened",
        "incident.step_overdue",
        "incident.closed",
        # Emitted by the playbooks' notify actions (vendor_risk/incidents/playbooks).
        "incident.contained",
        "incident.partner_unavailable",
        # The audit trail: a signed head (hourly and on demand), a failed scheduled verify.
        "audit.checkpoint",
        "audit.verify_failed",
        # Security notices (vendor_risk/notices): published, acknowledged, a partner late.
        "notice.published",
        "notice.acknowledged",
        "notice.overdue",
    }
)

# Subscribes to every event type, including those added later.
ALL_EVENTS: Final = "*"
