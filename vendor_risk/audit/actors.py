"""How a recorded actor reads on a page.

An actor's label is written once, into the audit trail and the timelines, as the code that
acted made it, and it stays as written (the chain hashes it). A member of staff's label is
their name and address and is shown as it is; the labels of the system's own actors (its
sweeps and playbooks, a partner's link or contact, a sign-in attempt, the command line) are
read here into the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Labels the system writes as they are, and their messages.
FIXED = {
    "system": "au_actor_system",
    "system: rating sweep": "au_actor_rating_sweep",
    "system: remediation sweep": "au_actor_remediation_sweep",
    "system: notice sweep": "au_actor_notice_sweep",
    "system: expiry sweep": "au_actor_expiry_sweep",
    "system: reassessment sweep": "au_actor_reassessment_sweep",
    "system: incident deadlines": "au_actor_incident_deadlines",
}

# Labels with a part that varies, and their messages, which take the named groups.
PATTERNS = tuple(
    (re.compile(pattern, re.DOTALL), key)
    for pattern, key in (
        (r"system: playbook (?P<playbook>\S+), incident \S+", "au_actor_playbook"),
        (r"partner contact: (?P<who>.*)", "au_actor_partner_contact"),
        (r"self-service sign-in: (?P<who>.*)", "au_actor_selfservice_sign_in"),
        (r"self-service: (?P<who>.*)", "au_actor_selfservice"),
        (r"sign-in:(?P<who>.*)", "au_actor_sign_in"),
        (r"reset:(?P<who>.*)", "au_actor_reset"),
        (r"sso:(?P<who>.*)", "au_actor_sso"),
        (r"cli:(?P<who>.*)", "au_actor_cli"),
        (r"(?P<who>.*) \((?P<partner>.*), portal link\)", "au_actor_portal_link"),
    )
)


def read(label: str, actor_id: object, t: Callable[..., str]) -> str:
    """``label`` in the language of ``t``: a system actor's (one with no ``actor_id``, no
    account) put in words, a member of staff's as it is."""
    if actor_id is not None:
        return label
    if key := FIXED.get(label):
        return t(key)
    for pattern, key in PATTERNS:
        if found := pattern.fullmatch(label):
            return t(key, **found.groupdict())
    return label
