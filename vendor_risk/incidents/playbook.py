"""The playbook format (``vendor_risk/incidents/playbooks/*.yaml``, see docs/playbook-format.md).

Decoded strictly by msgspec; ``loader.py`` adds the checks a type cannot express (roles,
dependencies, deadline coverage, translations).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

import msgspec

from vendor_risk.structs import Base, I18nText

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")

# When an automatic action runs: once the step's dependencies are met (for a step without
# dependencies, as soon as the incident is opened), when the step is completed, or when the
# incident is closed.
When = Literal["ready", "completed", "closed"]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``4h``, ``3d`` or ``1d12h`` as a timedelta; None when it is not one."""
    match = _DURATION.match(text)
    if not text or match is None:
        return None
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


class Offsets(Base):
    """Deadline of a step after detection, per incident severity (durations like ``4h``)."""

    low: str | None = None
    medium: str | None = None
    high: str | None = None
    critical: str | None = None

    def get(self, severity: Severity) -> str | None:
        value: str | None = getattr(self, severity)
        return value


class _Action(Base):
    # Only for incidents of these severities; every severity when left out.
    severities: list[Severity] | None = None

    def applies_to(self, severity: Severity) -> bool:
        return self.severities is None or severity in self.severities


class SuspendScopes(_Action, tag="suspend_scopes", tag_field="action"):
    """Suspend the partner's approved scopes: of the incident's affected categories, or all.

    With ``affected`` and no affected category named yet, every scope is suspended: when
    nobody knows yet what leaked, containment errs on the side of stopping the data.
    """

    categories: Literal["affected", "all"] = "affected"
    when: When = "ready"


class RevokePortalLinks(_Action, tag="revoke_portal_links", tag_field="action"):
    """Kill the partner's open assessment links: a leaked mailbox must not answer for it."""

    when: When = "ready"


class SuspendPartner(_Action, tag="suspend_partner", tag_field="action"):
    """Move an active partner to ``suspended``."""

    when: When = "ready"


class SendTriggeredAssessment(_Action, tag="send_triggered_assessment", tag_field="action"):
    """Send the partner a triggered reassessment, by default when the incident closes."""

    when: When = "closed"


class Notify(_Action, tag="notify", tag_field="action"):
    """Email the users of ``roles`` and/or emit the webhook ``event``."""

    roles: list[str] = msgspec.field(default_factory=list)
    event: str | None = None
    message: I18nText | None = None
    when: When = "ready"


Action = SuspendScopes | RevokePortalLinks | SuspendPartner | SendTriggeredAssessment | Notify
ACTION_NAMES: tuple[str, ...] = (
    "suspend_scopes",
    "revoke_portal_links",
    "suspend_partner",
    "send_triggered_assessment",
    "notify",
)


def action_name(action: Action) -> str:
    tag: str = type(action).__struct_config__.tag  # type: ignore[assignment]
    return tag


class Step(Base):
    id: str
    title: I18nText
    instructions: I18nText
    # A vendor_risk.auth.models.Role value; checked by the loader so the error names it.
    owner: str
    deadline: Offsets
    depends_on: list[str] = msgspec.field(default_factory=list)
    actions: list[Action] = msgspec.field(default_factory=list)


class EscalationLevel(Base):
    """A further escalation ``after`` the deadline, to ``roles`` besides the step's owner."""

    after: str
    roles: list[str]


class Playbook(Base):
    key: str
    version: int
    title: I18nText
    description: I18nText
    # The incident severities this playbook is written for; every step has a deadline for each.
    severities: list[Severity]
    steps: list[Step]
    # Level 1 is the deadline itself (the step's owner role); these add levels 2, 3, …
    escalation: list[EscalationLevel] = msgspec.field(default_factory=list)
    # PIPL art. 57: an incident of this playbook closes only once its notification record
    # holds everything the article requires (see rules.notification_record_gaps).
    notification_record: bool = False

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)
