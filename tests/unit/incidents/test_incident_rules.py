from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vendor_risk.incidents.loader import library, load_file
from vendor_risk.incidents.playbook import Notify, SuspendPartner, SuspendScopes, parse_duration
from vendor_risk.incidents.rules import (
    StepState,
    actions_due,
    escalation_level,
    escalation_offsets,
    escalation_roles,
    incident_overdue,
    newly_ready,
    next_escalation_at,
    open_steps,
    plan_steps,
    ready_steps,
    scopes_to_suspend,
    unmet_dependencies,
)

EXAMPLE = load_file(Path(__file__).parents[2] / "fixtures" / "playbooks" / "valid-example.yaml")
DETECTED = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d2h30m", timedelta(days=1, hours=2, minutes=30)),
        ("0m", timedelta(0)),
        ("", None),
        ("2 days", None),
        ("h", None),
        ("4H", None),
        ("12h1d", None),
    ],
)
def test_durations(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


def test_steps_get_absolute_deadlines_for_the_severity() -> None:
    high = plan_steps(EXAMPLE, "high", DETECTED)
    critical = plan_steps(EXAMPLE, "critical", DETECTED)

    assert [(s.id, s.due_at - DETECTED) for s in high] == [
        ("contain", timedelta(hours=2)),
        ("assess", timedelta(days=1)),
        ("notify", timedelta(days=2)),
        ("review", timedelta(days=30)),
    ]
    assert [s.due_at - DETECTED for s in critical] == [
        timedelta(hours=1),
        timedelta(hours=12),
        timedelta(days=1),
        timedelta(days=14),
    ]
    assert [s.position for s in high] == [0, 1, 2, 3]
    assert high[3].depends_on == ("assess", "notify")
    assert high[0].owner_role == "risk_owner"
    assert high[1].title.en == "Assess"


def test_a_severity_the_playbook_does_not_cover_is_refused() -> None:
    with pytest.raises(ValueError, match="applies to high, critical incidents, not low"):
        plan_steps(EXAMPLE, "low", DETECTED)


def test_the_shipped_data_leak_playbook_contains_within_an_hour_when_critical() -> None:
    planned = plan_steps(library()["partner-data-leak"], "critical", DETECTED)

    assert planned[0].id == "contain"
    assert planned[0].due_at == DETECTED + timedelta(hours=1)


def states(**statuses: str) -> list[StepState]:
    deps = {s.id: tuple(s.depends_on) for s in EXAMPLE.steps}
    return [
        StepState(id=step_id, status=status, depends_on=deps[step_id]) for step_id, status in statuses.items()
    ]


def test_readiness_follows_dependencies() -> None:
    fresh = states(contain="pending", assess="pending", notify="pending", review="pending")
    contained = states(contain="done", assess="pending", notify="pending", review="pending")
    assessed_by_skip = states(contain="done", assess="skipped", notify="pending", review="pending")

    assert ready_steps(fresh) == ["contain"]
    assert ready_steps(contained) == ["assess"]
    assert ready_steps(assessed_by_skip) == ["notify"]
    assert unmet_dependencies("review", contained) == ["assess", "notify"]
    assert unmet_dependencies("review", assessed_by_skip) == ["notify"]
    assert unmet_dependencies("contain", fresh) == []


def test_newly_ready_names_only_the_steps_a_change_unblocked() -> None:
    before = states(contain="done", assess="pending", notify="pending", review="pending")
    after = states(contain="done", assess="done", notify="pending", review="pending")

    assert newly_ready(before, after) == ["notify"]
    assert newly_ready(after, after) == []


def test_closing_is_blocked_by_every_open_step() -> None:
    assert open_steps(states(contain="done", assess="skipped", notify="pending", review="pending")) == [
        "notify",
        "review",
    ]
    assert open_steps(states(contain="done", assess="skipped", notify="done", review="done")) == []


def test_actions_due_by_moment_and_severity() -> None:
    leak = library()["partner-data-leak"]

    ready_high = [(i, type(a)) for i, a in actions_due(leak, "contain", "ready", "high")]
    ready_critical = [type(a) for _, a in actions_due(leak, "contain", "ready", "critical")]
    completed = actions_due(leak, "contain", "completed", "high")

    assert ready_high[0] == (0, SuspendScopes)
    assert SuspendPartner not in [t for _, t in ready_high]
    assert SuspendPartner in ready_critical
    assert [type(a) for _, a in completed] == [Notify]
    # The index is the action's place in the step, the same whatever the severity.
    assert [i for i, _ in actions_due(leak, "contain", "completed", "critical")] == [completed[0][0]]
    assert actions_due(leak, "review", "closed", "low")[0][1].when == "closed"
    assert actions_due(leak, "no-such-step", "ready", "low") == []


# --- escalation ---------------------------------------------------------------------

DUE = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
OFFSETS = escalation_offsets(EXAMPLE)  # level 1 at the deadline, level 2 four hours later


@pytest.mark.parametrize(
    ("now", "level"),
    [
        (DUE - timedelta(minutes=1), 0),
        (DUE, 1),
        (DUE + timedelta(hours=3, minutes=59), 1),
        (DUE + timedelta(hours=4), 2),
        (DUE + timedelta(days=30), 2),
    ],
)
def test_escalation_level_grows_as_time_passes_the_deadline(now: datetime, level: int) -> None:
    assert escalation_level(DUE, now, OFFSETS) == level


def test_next_escalation_time_and_the_last_level() -> None:
    assert escalation_offsets(EXAMPLE) == (timedelta(0), timedelta(hours=4))
    assert next_escalation_at(DUE, 0, OFFSETS) == DUE
    assert next_escalation_at(DUE, 1, OFFSETS) == DUE + timedelta(hours=4)
    assert next_escalation_at(DUE, 2, OFFSETS) is None


def test_escalation_reaches_the_owner_first_then_the_level_roles() -> None:
    leak = library()["partner-data-leak"]

    assert escalation_roles(leak, "risk_owner", 1) == ["risk_owner"]
    assert escalation_roles(leak, "risk_owner", 2) == ["risk_owner", "admin"]
    assert escalation_roles(leak, "risk_owner", 3) == ["risk_owner", "admin", "auditor"]
    assert escalation_roles(leak, "admin", 2) == ["admin"]


def test_an_incident_is_overdue_while_a_pending_step_is_past_its_deadline() -> None:
    now = DUE + timedelta(minutes=1)

    assert incident_overdue([(DUE, "pending"), (DUE + timedelta(days=1), "pending")], now)
    assert not incident_overdue([(DUE, "done"), (DUE + timedelta(days=1), "pending")], now)
    assert not incident_overdue([(DUE, "skipped")], now)


# --- containment --------------------------------------------------------------------

SCOPES = {"s1": "bank_accounts", "s2": "invoices", "s3": "bank_accounts", "s4": "payroll_employee_data"}


def test_suspend_scopes_stops_the_affected_categories_only() -> None:
    assert scopes_to_suspend("affected", ["bank_accounts"], SCOPES) == ["s1", "s3"]
    assert scopes_to_suspend("affected", ["contracts"], SCOPES) == []


def test_suspend_scopes_stops_everything_when_asked_or_when_nothing_is_known_yet() -> None:
    assert scopes_to_suspend("all", ["bank_accounts"], SCOPES) == ["s1", "s2", "s3", "s4"]
    assert scopes_to_suspend("affected", [], SCOPES) == ["s1", "s2", "s3", "s4"]
