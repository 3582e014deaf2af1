"""Read playbook YAML files and reject anything an incident could trip on.

Every error is one line naming the file and the path inside it, e.g.
``partner-data-leak.yaml: steps[3].depends_on: unknown step 'x'``, so that an author (and
CI) can fix all of them from one run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from vendor_risk import content
from vendor_risk.auth.models import Role
from vendor_risk.incidents.playbook import (
    ACTION_NAMES,
    SEVERITIES,
    Notify,
    Playbook,
    Severity,
    Step,
    action_name,
    parse_duration,
)
from vendor_risk.notify.events import EVENT_TYPES

PLAYBOOKS_DIR = Path(__file__).resolve().parent / "playbooks"
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
EVENT_PATTERN = re.compile(r"^incident\.[a-z]+(?:_[a-z]+)*$")
ROLES = tuple(role.value for role in Role)
DURATION_HINT = "a duration such as 30m, 4h, 3d or 1d12h"


class PlaybookError(content.ContentError):
    """A playbook file is invalid; ``messages`` lists every problem found."""


def _explain(message: str, path: str) -> tuple[str, str] | None:
    if message.startswith("Object missing required field `") and message.endswith(("`en`", "`zh-CN`")):
        # Only bilingual texts have these fields: say what the author forgot.
        lang = message.rsplit("`", 2)[1]
        return (f"{path}.{lang}" if path else lang), "missing translation"
    if message.startswith("Invalid enum value ") and re.search(r"severities\[\d+\]$", path):
        value = message.removeprefix("Invalid enum value ")
        return path, f"unknown severity {value} (severities: {', '.join(SEVERITIES)})"
    if message.startswith("Invalid value ") and path.endswith(".action"):
        return (
            path,
            f"unknown action {message.removeprefix('Invalid value ')} (known: {', '.join(ACTION_NAMES)})",
        )
    return None


def parse_playbook(text: str | bytes, filename: str, *, stem: str | None = None) -> Playbook:
    """Decode and validate one playbook; raises PlaybookError listing every problem.

    ``stem`` is the file name without ``.yaml``, which the playbook's key must equal.
    """
    playbook = content.decode(text, filename, Playbook, PlaybookError, explain=_explain)
    errors = check_playbook(playbook, filename, stem=stem)
    if errors:
        raise PlaybookError(errors)
    return playbook


def load_file(path: Path) -> Playbook:
    """Read and validate ``path``; raises PlaybookError listing every problem."""
    return parse_playbook(content.read_file(path, PlaybookError), path.name, stem=path.stem)


def validate_files(paths: Iterable[Path]) -> list[str]:
    """Every error in every file, in file order; an empty list means all are valid."""
    return content.validate_files(paths, load_file)


def load_directory(directory: Path) -> dict[str, Playbook]:
    """Every playbook in ``directory`` by key; raises PlaybookError if any file is invalid."""
    playbooks: dict[str, Playbook] = {}
    errors: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            playbook = load_file(path)
        except PlaybookError as exc:
            errors.extend(exc.messages)
        else:
            playbooks[playbook.key] = playbook
    if errors:
        raise PlaybookError(errors)
    return playbooks


@functools.cache
def library() -> Mapping[str, Playbook]:
    """The shipped playbooks, read once per process."""
    return load_directory(PLAYBOOKS_DIR)


# --- semantic checks ---------------------------------------------------------------


def check_playbook(playbook: Playbook, filename: str, *, stem: str | None = None) -> list[str]:
    """The semantic errors of a decoded playbook (empty when it is valid)."""
    return _Checker(playbook, filename).run(stem)


class _Checker(content.Checker):
    def __init__(self, playbook: Playbook, filename: str) -> None:
        super().__init__(filename)
        self.playbook = playbook
        self.steps: dict[str, int] = {}

    def run(self, stem: str | None) -> list[str]:
        p = self.playbook
        self.key_and_version(p.key, p.version, stem)
        self.text("title", p.title)
        self.text("description", p.description)
        if not p.severities:
            self.error("severities", "name at least one severity the playbook applies to")
        for i, severity in enumerate(p.severities):
            if severity in p.severities[:i]:
                self.error(f"severities[{i}]", f"{severity!r} is listed twice")
        if not p.steps:
            self.error("steps", "a playbook needs at least one step")

        # Index the steps first so that depends_on may name a later step.
        for i, step in enumerate(p.steps):
            if step.id in self.steps:
                self.error(
                    f"steps[{i}].id", f"duplicate step id {step.id!r} (first at steps[{self.steps[step.id]}])"
                )
            else:
                self.steps[step.id] = i
        in_cycle = self.cycles()
        for i, step in enumerate(p.steps):
            self.step(f"steps[{i}]", step, check_order=step.id not in in_cycle)
        self.escalation()
        return self.errors

    def role(self, path: str, role: str) -> None:
        if role not in ROLES:
            self.error(path, f"unknown role {role!r} (roles: {', '.join(ROLES)})")

    def step(self, path: str, step: Step, *, check_order: bool) -> None:
        if not ID_PATTERN.match(step.id):
            self.error(f"{path}.id", f"{step.id!r} must be lowercase letters, digits, '-' or '_'")
        self.text(f"{path}.title", step.title)
        self.text(f"{path}.instructions", step.instructions)
        self.role(f"{path}.owner", step.owner)
        self.deadline(path, step, check_order=check_order)
        for i, dep in enumerate(step.depends_on):
            if dep == step.id:
                self.error(f"{path}.depends_on", f"step {dep!r} depends on itself")
            elif dep not in self.steps:
                self.error(f"{path}.depends_on", f"unknown step {dep!r}")
            elif dep in step.depends_on[:i]:
                self.error(f"{path}.depends_on", f"{dep!r} is listed twice")
        seen: dict[tuple[str, str], int] = {}
        for i, action in enumerate(step.actions):
            apath = f"{path}.actions[{i}]"
            self.action_severities(apath, action.severities)
            if isinstance(action, Notify):
                self.notify(apath, action)
            else:
                # Notifications may differ by roles or event; any other action twice in the
                # same moment would only run twice.
                first = seen.setdefault((action_name(action), action.when), i)
                if first != i:
                    self.error(
                        apath, f"duplicate of actions[{first}] ({action_name(action)} when {action.when})"
                    )

    def deadline(self, path: str, step: Step, *, check_order: bool) -> None:
        applies = self.playbook.severities
        for severity in SEVERITIES:
            offset = step.deadline.get(severity)
            dpath = f"{path}.deadline.{severity}"
            if offset is None:
                if severity in applies:
                    self.error(dpath, f"missing: the playbook applies to {severity} incidents")
                continue
            if severity not in applies:
                self.error(
                    dpath,
                    f"the playbook does not apply to {severity} incidents (severities: {', '.join(applies)})",
                )
                continue
            duration = parse_duration(offset)
            if duration is None:
                self.error(dpath, f"{offset!r} is not {DURATION_HINT}")
            elif not duration:
                self.error(dpath, "must be after detection (greater than 0)")
            elif check_order:
                self.not_before_dependencies(dpath, step, severity, offset)

    def not_before_dependencies(self, path: str, step: Step, severity: Severity, offset: str) -> None:
        own = parse_duration(offset)
        for dep_id in step.depends_on:
            index = self.steps.get(dep_id)
            if index is None or dep_id == step.id:
                continue
            dep_offset = self.playbook.steps[index].deadline.get(severity)
            dep = parse_duration(dep_offset) if dep_offset else None
            if own is not None and dep is not None and own < dep:
                self.error(
                    path,
                    f"{offset} is earlier than the deadline of its dependency {dep_id!r} ({dep_offset})",
                )

    def action_severities(self, path: str, severities: list[Severity] | None) -> None:
        if severities is None:
            return
        if not severities:
            self.error(f"{path}.severities", "name at least one severity, or leave severities out")
        for i, severity in enumerate(severities):
            if severity not in self.playbook.severities:
                self.error(f"{path}.severities[{i}]", f"the playbook does not apply to {severity} incidents")

    def notify(self, path: str, action: Notify) -> None:
        if not action.roles and action.event is None:
            self.error(path, "notify needs roles, an event, or both")
        for i, role in enumerate(action.roles):
            self.role(f"{path}.roles[{i}]", role)
        if action.event is not None and not EVENT_PATTERN.match(action.event):
            self.error(
                f"{path}.event", f"{action.event!r} must be an incident event such as incident.contained"
            )
        elif action.event is not None and action.event not in EVENT_TYPES:
            # Subscriptions may only name catalogued events: one missing there reaches nobody.
            self.error(
                f"{path}.event",
                f"{action.event!r} is not in the webhook event catalogue (vendor_risk/notify/events.py)",
            )
        if action.message is not None:
            self.text(f"{path}.message", action.message)

    def cycles(self) -> set[str]:
        """Report each dependency cycle once, at its first step; return the steps in one."""
        in_cycle: set[str] = set()
        for i, step in enumerate(self.playbook.steps):
            if step.id in in_cycle or self.steps.get(step.id) != i:
                continue
            chain = self.path_back(step.id)
            if chain:
                self.error(f"steps[{i}].depends_on", "forms a cycle: " + " -> ".join(chain))
                in_cycle.update(chain)
        return in_cycle

    def path_back(self, start: str) -> list[str]:
        """A dependency chain start -> ... -> start, or [] when there is none."""
        stack: list[tuple[str, list[str]]] = [
            (dep, [start, dep]) for dep in reversed(self.dependencies(start)) if dep != start
        ]
        visited: set[str] = set()
        while stack:
            current, chain = stack.pop()
            if current == start:
                return chain
            if current in visited:
                continue
            visited.add(current)
            stack.extend((dep, [*chain, dep]) for dep in reversed(self.dependencies(current)))
        return []

    def dependencies(self, step_id: str) -> list[str]:
        index = self.steps.get(step_id)
        if index is None:
            return []
        return [dep for dep in self.playbook.steps[index].depends_on if dep in self.steps]

    def escalation(self) -> None:
        previous = None
        for i, level in enumerate(self.playbook.escalation):
            path = f"escalation[{i}]"
            after = parse_duration(level.after)
            if after is None:
                self.error(f"{path}.after", f"{level.after!r} is not {DURATION_HINT}")
            elif not after:
                self.error(f"{path}.after", "must be after the deadline (greater than 0), which is level 1")
            elif previous is not None and after <= previous:
                self.error(f"{path}.after", f"{level.after} must be later than the previous level's")
            previous = after if after is not None else previous
            if not level.roles:
                self.error(f"{path}.roles", "name at least one role to escalate to")
            for j, role in enumerate(level.roles):
                self.role(f"{path}.roles[{j}]", role)
