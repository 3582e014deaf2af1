"""Pure incident rules: deadlines, step readiness, closing, escalation levels.

The service and the worker call these with what they read from PostgreSQL; nothing here
does I/O or reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import msgspec

from vendor_risk.incidents.models import NotificationRecord
from vendor_risk.incidents.playbook import Action, Playbook, Severity, When, parse_duration
from vendor_risk.structs import I18nText

FINISHED = frozenset({"done", "skipped"})


class PlannedStep(msgspec.Struct, frozen=True, kw_only=True):
    """A playbook step made concrete for one incident."""

    id: str
    position: int
    title: I18nText
    instructions: I18nText
    owner_role: str
    depends_on: tuple[str, ...]
    due_at: datetime


class StepState(msgspec.Struct, frozen=True, kw_only=True):
    """What the readiness rules need to know of a step."""

    id: str
    status: str
    depends_on: tuple[str, ...] = ()


def plan_steps(playbook: Playbook, severity: Severity, detected_at: datetime) -> list[PlannedStep]:
    """Each step with its absolute deadline: detection time plus the offset for ``severity``.

    Raises ValueError when the playbook does not apply to ``severity``.
    """
    if severity not in playbook.severities:
        raise ValueError(
            f"playbook {playbook.key!r} applies to {', '.join(playbook.severities)} incidents, not {severity}"
        )
    planned = []
    for position, step in enumerate(playbook.steps):
        offset = parse_duration(step.deadline.get(severity) or "")
        if offset is None:  # a validated playbook has one for each severity it applies to
            raise ValueError(f"step {step.id!r} has no deadline for {severity}")
        planned.append(
            PlannedStep(
                id=step.id,
                position=position,
                title=step.title,
                instructions=step.instructions,
                owner_role=step.owner,
                depends_on=tuple(step.depends_on),
                due_at=detected_at + offset,
            )
        )
    return planned


def unmet_dependencies(step_id: str, steps: Iterable[StepState]) -> list[str]:
    """The dependencies of ``step_id`` that are neither done nor skipped, in playbook order."""
    by_id = {s.id: s for s in steps}
    step = by_id[step_id]
    return [dep for dep in step.depends_on if by_id[dep].status not in FINISHED]


def ready_steps(steps: Sequence[StepState]) -> list[str]:
    """Pending steps whose dependencies are all done or skipped."""
    finished = {s.id for s in steps if s.status in FINISHED}
    return [s.id for s in steps if s.status == "pending" and finished.issuperset(s.depends_on)]


def newly_ready(before: Sequence[StepState], after: Sequence[StepState]) -> list[str]:
    """Steps that a change (``before`` → ``after``) made ready: their ``ready`` actions are due."""
    was_ready = set(ready_steps(before))
    return [step_id for step_id in ready_steps(after) if step_id not in was_ready]


def open_steps(steps: Iterable[StepState]) -> list[str]:
    """What still blocks closing: every step neither done nor skipped."""
    return [s.id for s in steps if s.status not in FINISHED]


# PIPL art. 57, para. 1: a notification states the categories (and roughly how many
# persons), the cause, the possible harm, the measures taken, what individuals can do and
# how to reach the handler, and the authority and the persons are told: when and how.
# Para. 2 lets a recorded reason stand in for telling the persons.
ART57_STATEMENTS = ("cause", "possible_harm", "remedial_measures", "individual_measures", "contact")


def notification_record_gaps(record: NotificationRecord) -> list[str]:
    """The fields of the art. 57 record still missing, in the record's order; empty when
    the record holds everything the article requires."""
    filled = {
        "categories": bool(record.categories),
        "persons_affected_approx": record.persons_affected_approx is not None,
        **{name: bool(getattr(record, name).strip()) for name in ART57_STATEMENTS},
        "authority_name": bool(record.authority_name.strip()),
        "authority_notified_at": record.authority_notified_at is not None,
        "authority_notified_how": bool(record.authority_notified_how.strip()),
    }
    if not record.persons_not_notified_reason.strip():
        filled["persons_notified_at"] = record.persons_notified_at is not None
        filled["persons_notified_how"] = bool(record.persons_notified_how.strip())
    return [name for name, ok in filled.items() if not ok]


def actions_due(playbook: Playbook, step_id: str, when: When, severity: Severity) -> list[tuple[int, Action]]:
    """The automatic actions of a step that run at ``when`` for an incident of ``severity``,
    with their index in the step (part of each run's idempotency key)."""
    step = playbook.step(step_id)
    if step is None:
        return []
    return [
        (i, action)
        for i, action in enumerate(step.actions)
        if action.when == when and action.applies_to(severity)
    ]


# --- deadlines and escalation -------------------------------------------------------


def escalation_offsets(playbook: Playbook) -> tuple[timedelta, ...]:
    """When each escalation level starts, measured from a step's deadline (level 1 at 0)."""
    later = (parse_duration(level.after) for level in playbook.escalation)
    return (timedelta(0), *(offset for offset in later if offset is not None))


def is_overdue(due_at: datetime, now: datetime, status: str = "pending") -> bool:
    return status == "pending" and now >= due_at


def escalation_level(due_at: datetime, now: datetime, offsets: Sequence[timedelta]) -> int:
    """0 before the deadline; then the number of escalation levels whose start has passed."""
    return sum(1 for offset in offsets if now >= due_at + offset)


def next_escalation_at(due_at: datetime, level: int, offsets: Sequence[timedelta]) -> datetime | None:
    """When a step escalated to ``level`` reaches the next level; None after the last one."""
    return due_at + offsets[level] if level < len(offsets) else None


def escalation_roles(playbook: Playbook, owner_role: str, level: int) -> list[str]:
    """Who hears of an overdue step at ``level``: its owner role, plus the level's roles."""
    roles = [owner_role]
    if level >= 2:
        roles.extend(r for r in playbook.escalation[level - 2].roles if r not in roles)
    return roles


def incident_overdue(steps: Iterable[tuple[datetime, str]], now: datetime) -> bool:
    """Whether any (due_at, status) step is pending past its deadline."""
    return any(is_overdue(due_at, now, status) for due_at, status in steps)


def scopes_to_suspend(mode: str, affected: Sequence[str], scopes: Mapping[str, str]) -> list[str]:
    """The scope ids a ``suspend_scopes`` action stops, from ``scopes`` (id → category code).

    ``affected`` with no category named yet stops every scope: when nobody knows yet what
    leaked, containment errs on the side of stopping the data.
    """
    if mode == "all" or not affected:
        return list(scopes)
    wanted = set(affected)
    return [scope_id for scope_id, code in scopes.items() if code in wanted]
