"""Opening and running incidents; every change is audited and written to the timeline.

A change and what it causes (its timeline line, audit event, queued automatic actions,
emails and webhook events) commit together. The worker runs the queued actions and the
escalations (``automation.py``); nothing here waits for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.auth import repository as auth_repo
from vendor_risk.auth.models import CurrentUser, Role, User
from vendor_risk.errors import Problem, field_error, not_found, stale_version
from vendor_risk.incidents import messages
from vendor_risk.incidents import repository as repo
from vendor_risk.incidents.export import notification_record_markdown
from vendor_risk.incidents.loader import library
from vendor_risk.incidents.models import (
    CandidateCategory,
    Incident,
    IncidentClose,
    IncidentCreate,
    IncidentDetail,
    IncidentDismiss,
    IncidentStep,
    IncidentUpdate,
    NotificationRecord,
    NotificationRecordUpdate,
    StepAction,
    StepComplete,
    StepSkip,
)
from vendor_risk.incidents.playbook import Playbook, Severity, When, action_name
from vendor_risk.incidents.rules import (
    StepState,
    actions_due,
    escalation_level,
    escalation_offsets,
    is_overdue,
    newly_ready,
    notification_record_gaps,
    open_steps,
    plan_steps,
    ready_steps,
    unmet_dependencies,
)
from vendor_risk.notify.outbox import Email, emit_event, enqueue_email
from vendor_risk.partners import service as partners_service
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

# A detection time a little ahead of ours is another machine's clock, not the future.
CLOCK_SKEW = timedelta(minutes=5)
# Scopes under which the partner may have received data: candidates for what leaked.
SHARED_SCOPE_STATUSES = ("approved", "suspended", "expired", "revoked")
# More scopes than any partner has: the lists below read them all.
MAX_SCOPES = 1000


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _actor(user: CurrentUser) -> Actor:
    return Actor(id=user.id, label=user.label)


def _playbook(key: str) -> Playbook:
    playbooks = library()
    if key not in playbooks:
        raise field_error("playbook", f"unknown playbook {key!r} (playbooks: {', '.join(sorted(playbooks))})")
    return playbooks[key]


async def _check_categories(conn: asyncpg.Connection, field: str, codes: Sequence[str]) -> list[str]:
    """The codes without repeats, in the order given; 400 naming any unknown one."""
    known = {c.code for c in await scopes_repo.list_categories(conn)}
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise field_error(field, f"unknown data category {', '.join(map(repr, unknown))}")
    return list(dict.fromkeys(codes))


async def _users_with_roles(conn: asyncpg.Connection, roles: Sequence[str]) -> list[User]:
    users: dict[UUID, User] = {}
    for role in roles:
        for user in await auth_repo.list_users(conn, role, None, 10_000):
            if not user.disabled:
                users.setdefault(user.id, user)
    return list(users.values())


async def email_roles(
    conn: asyncpg.Connection,
    roles: Sequence[str],
    *,
    topic: str,
    dedupe_prefix: str,
    build: Callable[[User], Email],
    exclude: UUID | None = None,
) -> int:
    """Queue one email per active user of ``roles`` (in the user's language), each once."""
    sent = 0
    for user in await _users_with_roles(conn, roles):
        if user.id == exclude:
            continue
        queued = await enqueue_email(
            conn, topic=topic, email=build(user), dedupe_key=f"{dedupe_prefix}:{user.id}"
        )
        sent += queued is not None
    return sent


# --- reading ----------------------------------------------------------------------------


async def load(conn: asyncpg.Connection, incident_id: UUID, *, now: datetime | None = None) -> Incident:
    incident = await repo.get_incident(conn, incident_id, _now(now))
    if incident is None:
        raise not_found("incident", incident_id)
    return incident


async def load_detail(
    conn: asyncpg.Connection, incident_id: UUID, *, now: datetime | None = None
) -> IncidentDetail:
    """The incident with its steps (readiness, deadlines, actions and how they ran), its
    timeline, and the categories the partner's scopes suggest were affected."""
    now = _now(now)
    incident = await load(conn, incident_id, now=now)
    snapshot, offsets = await repo.playbook_of(conn, incident_id)
    playbook = msgspec.convert(snapshot, Playbook)
    rows = await repo.get_steps(conn, incident_id)
    ready = set(ready_steps(repo.step_states(rows)))
    runs = {(r["step_id"], r["action_index"]): r for r in await repo.action_runs_of(conn, incident_id)}
    steps = []
    for row in rows:
        actions = []
        for index, action in enumerate(playbook.steps[row["position"]].actions):
            if not action.applies_to(incident.severity):
                continue
            run = runs.get((row["id"], index), {})
            actions.append(
                StepAction(
                    index=index,
                    action=action_name(action),
                    when=action.when,
                    status=run.get("status"),
                    outcome=run.get("outcome"),
                    finished_at=run.get("finished_at"),
                )
            )
        pending = row["status"] == "pending"
        steps.append(
            IncidentStep(
                **row,
                ready=row["id"] in ready,
                overdue=is_overdue(row["due_at"], now, row["status"]),
                escalation_level=escalation_level(row["due_at"], now, offsets) if pending else 0,
                actions=actions,
            )
        )
    return IncidentDetail(
        **msgspec.structs.asdict(incident),
        steps=steps,
        timeline=await repo.get_timeline(conn, incident_id),
        candidate_categories=await candidate_categories(conn, incident),
    )


async def candidate_categories(conn: asyncpg.Connection, incident: Incident) -> list[CandidateCategory]:
    """Every category the partner received under a scope, affected or not: where the
    assessment of what leaked starts (PIPL art. 57 needs the categories)."""
    scopes = await scopes_repo.list_scopes(conn, incident.partner_id, SHARED_SCOPE_STATUSES, None, MAX_SCOPES)
    by_code: dict[str, CandidateCategory] = {}
    for scope in scopes:
        category = by_code.setdefault(
            scope.category.code,
            CandidateCategory(
                code=scope.category.code,
                name=scope.category.name,
                sensitivity=scope.category.sensitivity,
                scope_ids=[],
                scope_statuses=[],
                volume_bands=[],
                affected=scope.category.code in incident.affected_categories,
            ),
        )
        category.scope_ids.append(scope.id)
        category.scope_statuses.append(scope.status)
        category.volume_bands.append(scope.volume_band)
    return list(by_code.values())


# --- opening ----------------------------------------------------------------------------


async def _queue_actions(
    conn: asyncpg.Connection,
    incident_id: UUID,
    playbook: Playbook,
    severity: Severity,
    step_ids: Sequence[str],
    when: When,
    actor: Actor,
) -> list[str]:
    """Queue the actions of ``step_ids`` due at ``when``; a line on the timeline names them."""
    queued = [
        repo.QueuedAction(
            step_id=step_id, index=index, action=action_name(action), params=msgspec.to_builtins(action)
        )
        for step_id in step_ids
        for index, action in actions_due(playbook, step_id, when, severity)
    ]
    if await repo.queue_actions(conn, incident_id, queued, actor):
        names = [q.action for q in queued]
        await repo.append_timeline(
            conn,
            incident_id,
            actor,
            "actions_queued",
            messages.actions_queued(names),
            data={"actions": [{"step_id": q.step_id, "index": q.index, "action": q.action} for q in queued]},
        )
    return [q.action for q in queued]


async def open_incident(
    conn: asyncpg.Connection,
    user: CurrentUser,
    partner_id: UUID,
    data: IncidentCreate,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> IncidentDetail:
    """Open an incident for a partner from a playbook: its steps get absolute deadlines
    from ``detected_at`` and the severity, and the actions of the steps that are ready
    at once (containment) are queued for the worker.

    Procurement may only report an incident as ``suspected``; its actions wait until a
    risk owner confirms it.
    """
    if user.role == Role.PROCUREMENT and not data.suspected:
        raise Problem(
            403,
            "forbidden",
            "procurement may report an incident only as suspected (suspected: true); "
            "a risk owner confirms it",
        )
    return await open_as(
        conn, _actor(user), partner_id, data, settings, now=now, created_by=user.id, exclude=user.id
    )


async def open_as(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: IncidentCreate,
    settings: Settings,
    *,
    now: datetime | None = None,
    created_by: UUID | None = None,
    exclude: UUID | None = None,
) -> IncidentDetail:
    """Open an incident on behalf of ``actor`` (a staff user through ``open_incident``, or a
    partner contact's own report from self-service, then ``created_by`` None): the same
    playbook, deadlines, queued actions, audit event, webhook and emails to risk owners
    (but ``exclude``)."""
    now = _now(now)
    playbook = _playbook(data.playbook)
    if data.severity not in playbook.severities:
        raise field_error(
            "severity",
            f"playbook {playbook.key!r} is for {', '.join(playbook.severities)} incidents, "
            f"not {data.severity}",
        )
    if data.detected_at > now + CLOCK_SKEW:
        raise field_error("detected_at", "must not be in the future")
    categories = await _check_categories(conn, "affected_categories", data.affected_categories)
    status = "suspected" if data.suspected else "open"
    planned = plan_steps(playbook, data.severity, data.detected_at)
    async with conn.transaction():
        await partners_service.ensure_exists(conn, partner_id)
        incident_id = await repo.insert_incident(
            conn,
            {
                "partner_id": partner_id,
                "title": data.title,
                "severity": data.severity,
                "status": status,
                "detected_at": data.detected_at,
                "description": data.description,
                "affected_categories": categories,
                "playbook_key": playbook.key,
                "playbook_version": playbook.version,
                "playbook": msgspec.to_builtins(playbook),
                "escalation_offsets": list(escalation_offsets(playbook)),
                "created_by": created_by,
                "created_by_label": actor.label,
            },
        )
        await repo.insert_steps(conn, incident_id, planned)
        await repo.refresh_next_due(conn, incident_id)
        await repo.append_timeline(
            conn,
            incident_id,
            actor,
            "reported" if data.suspected else "opened",
            messages.opened(playbook.title, data.severity, data.suspected),
            data={"severity": data.severity, "playbook": playbook.key, "version": playbook.version},
        )
        if status == "open":
            states = [StepState(id=s.id, status="pending", depends_on=s.depends_on) for s in planned]
            await _queue_actions(
                conn, incident_id, playbook, data.severity, ready_steps(states), "ready", actor
            )
        incident = await load(conn, incident_id, now=now)
        await audit.record(
            conn,
            actor=actor,
            action="incident.opened",
            entity_type="incident",
            entity_id=incident_id,
            after=incident,
        )
        await emit_event(
            conn,
            "incident.opened",
            {
                "incident_id": incident_id,
                "partner_id": partner_id,
                "title": data.title,
                "severity": data.severity,
                "status": status,
                "playbook": playbook.key,
                "detected_at": data.detected_at,
            },
            dedupe_key=f"incident.opened:{incident_id}",
        )
        await email_roles(
            conn,
            [Role.RISK_OWNER.value],
            topic="incident.opened",
            dedupe_prefix=f"incident.opened:{incident_id}",
            exclude=exclude,
            build=lambda u: messages.opened_email(
                to=u.email,
                lang=u.locale,
                incident_title=data.title,
                partner_name=incident.partner_name,
                severity=data.severity,
                suspected=data.suspected,
                reported_by=actor.label,
                link=messages.incident_link(settings.public_url, incident_id),
            ),
        )
        return await load_detail(conn, incident_id, now=now)


# --- running ----------------------------------------------------------------------------


async def _locked(conn: asyncpg.Connection, incident_id: UUID, now: datetime) -> Incident:
    incident = await repo.get_incident(conn, incident_id, now, for_update=True)
    if incident is None:
        raise not_found("incident", incident_id)
    return incident


def _refuse_unless(incident: Incident, *statuses: str, action: str) -> None:
    if incident.status in statuses:
        return
    why = {
        "suspected": "it is only suspected: a risk owner confirms it first",
        "open": "it is open",
        "closed": "it is closed",
        "dismissed": "it was dismissed",
    }[incident.status]
    # current_status, as scopes name it: `status` is the HTTP status of an RFC 9457 problem.
    raise Problem(
        409, "incident-state", f"cannot {action} this incident: {why}", current_status=incident.status
    )


async def _snapshot(conn: asyncpg.Connection, incident_id: UUID) -> Playbook:
    snapshot, _ = await repo.playbook_of(conn, incident_id)
    return msgspec.convert(snapshot, Playbook)


async def _audit_change(
    conn: asyncpg.Connection, actor: Actor, action: str, incident_id: UUID, before: Incident, now: datetime
) -> None:
    """Audit ``action`` with the incident as it was and as it is now."""
    after = await load(conn, incident_id, now=now)
    await audit.record(
        conn,
        actor=actor,
        action=action,
        entity_type="incident",
        entity_id=incident_id,
        before=before,
        after=after,
    )


async def confirm_incident(
    conn: asyncpg.Connection, user: CurrentUser, incident_id: UUID, *, now: datetime | None = None
) -> IncidentDetail:
    """A risk owner confirms a suspected incident: it opens and its ready actions run."""
    now = _now(now)
    actor = _actor(user)
    async with conn.transaction():
        before = await _locked(conn, incident_id, now)
        _refuse_unless(before, "suspected", action="confirm")
        await repo.update_incident(conn, incident_id, {"status": "open", "confirmed_at": now})
        await repo.append_timeline(
            conn, incident_id, actor, "confirmed", messages.text("确认事件", "Confirmed the incident")
        )
        states = repo.step_states(await repo.get_steps(conn, incident_id))
        playbook = await _snapshot(conn, incident_id)
        await _queue_actions(
            conn, incident_id, playbook, before.severity, ready_steps(states), "ready", actor
        )
        await _audit_change(conn, actor, "incident.confirmed", incident_id, before, now)
        return await load_detail(conn, incident_id, now=now)


async def dismiss_incident(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    data: IncidentDismiss,
    *,
    now: datetime | None = None,
) -> IncidentDetail:
    """A risk owner dismisses a suspected incident that turned out not to be one."""
    now = _now(now)
    actor = _actor(user)
    async with conn.transaction():
        before = await _locked(conn, incident_id, now)
        _refuse_unless(before, "suspected", action="dismiss")
        await repo.update_incident(
            conn,
            incident_id,
            {"status": "dismissed", "closed_at": now, "closed_by": user.id, "close_note": data.reason},
        )
        await repo.append_timeline(
            conn,
            incident_id,
            actor,
            "dismissed",
            messages.text(f"排除事件：{data.reason}", f"Dismissed the incident: {data.reason}"),
        )
        await _audit_change(conn, actor, "incident.dismissed", incident_id, before, now)
        return await load_detail(conn, incident_id, now=now)


# How the timeline names what an update changed.
_CHANGED_ZH = {"title": "标题", "description": "事件经过", "affected_categories": "受影响的数据类别"}
_CHANGED_EN = {"title": "title", "description": "description", "affected_categories": "affected categories"}


async def update_incident(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    data: IncidentUpdate,
    *,
    now: datetime | None = None,
) -> IncidentDetail:
    """Correct the title or description, or name the affected categories as the
    assessment establishes them (later ``suspend_scopes`` actions use them)."""
    now = _now(now)
    actor = _actor(user)
    changes: dict[str, Any] = {
        f: getattr(data, f)
        for f in ("title", "description", "affected_categories")
        if getattr(data, f) is not msgspec.UNSET
    }
    if "affected_categories" in changes:
        changes["affected_categories"] = await _check_categories(
            conn, "affected_categories", changes["affected_categories"]
        )
    async with conn.transaction():
        before = await _locked(conn, incident_id, now)
        if data.version != before.version:
            raise stale_version("incident", data.version, before.version)
        _refuse_unless(before, "suspected", "open", action="change")
        if changes:
            await repo.update_incident(conn, incident_id, changes)
            await repo.append_timeline(
                conn,
                incident_id,
                actor,
                "updated",
                messages.text(
                    "更新事件信息：" + "、".join(_CHANGED_ZH[f] for f in changes),
                    "Updated the " + ", ".join(_CHANGED_EN[f] for f in changes),
                ),
                data=changes,
            )
            await _audit_change(conn, actor, "incident.updated", incident_id, before, now)
        return await load_detail(conn, incident_id, now=now)


async def _finish_step(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    step_id: str,
    *,
    skip_reason: str | None,
    note: str = "",
    evidence: Sequence[str] = (),
    now: datetime,
) -> IncidentDetail:
    actor = _actor(user)
    skipped = skip_reason is not None
    verb = "skip" if skipped else "complete"
    async with conn.transaction():
        incident = await _locked(conn, incident_id, now)
        _refuse_unless(incident, "open", action=f"{verb} a step of")
        rows = await repo.get_steps(conn, incident_id, for_update=True)
        step = next((r for r in rows if r["id"] == step_id), None)
        if step is None:
            raise not_found("step", step_id)
        if user.role != Role.RISK_OWNER and user.role != step["owner_role"]:
            raise Problem(
                403,
                "forbidden",
                f"step {step_id!r} belongs to the role {step['owner_role']}; "
                "a risk owner or that role completes it",
            )
        if step["status"] != "pending":
            raise Problem(
                409,
                "step-finished",
                f"step {step_id!r} is already {step['status']}",
                current_status=step["status"],
            )
        before = repo.step_states(rows)
        unmet = unmet_dependencies(step_id, before)
        if unmet:
            raise Problem(
                409,
                "step-blocked",
                f"step {step_id!r} waits for {', '.join(map(repr, unmet))}: complete or skip them first",
                unmet=unmet,
            )
        await repo.finish_step(
            conn,
            incident_id,
            step_id,
            status="skipped" if skipped else "done",
            by=actor,
            note=note,
            evidence=evidence,
            skip_reason=skip_reason,
        )
        after = [
            StepState(
                id=s.id,
                status=("skipped" if skipped else "done") if s.id == step_id else s.status,
                depends_on=s.depends_on,
            )
            for s in before
        ]
        await repo.refresh_next_due(conn, incident_id)
        await repo.update_incident(conn, incident_id, {})
        title = msgspec.convert(step["title"], I18nText)
        await repo.append_timeline(
            conn,
            incident_id,
            actor,
            "step_skipped" if skipped else "step_completed",
            messages.step_finished(title, skipped, skip_reason),
            step_id=step_id,
            data={"note": note, "evidence": list(evidence)} if not skipped else {"reason": skip_reason},
        )
        playbook = await _snapshot(conn, incident_id)
        if not skipped:
            await _queue_actions(
                conn, incident_id, playbook, incident.severity, [step_id], "completed", actor
            )
        await _queue_actions(
            conn, incident_id, playbook, incident.severity, newly_ready(before, after), "ready", actor
        )
        finished = next(r for r in await repo.get_steps(conn, incident_id) if r["id"] == step_id)
        await audit.record(
            conn,
            actor=actor,
            action=f"incident.step_{'skipped' if skipped else 'completed'}",
            entity_type="incident",
            entity_id=incident_id,
            before={"step": step},
            after={"step": finished},
        )
        return await load_detail(conn, incident_id, now=now)


async def complete_step(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    step_id: str,
    data: StepComplete,
    *,
    now: datetime | None = None,
) -> IncidentDetail:
    """Mark a step done once its dependencies are done or skipped; queues the step's
    ``completed`` actions and the ``ready`` actions of the steps it unblocks."""
    return await _finish_step(
        conn,
        user,
        incident_id,
        step_id,
        skip_reason=None,
        note=data.note,
        evidence=data.evidence,
        now=_now(now),
    )


async def skip_step(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    step_id: str,
    data: StepSkip,
    *,
    now: datetime | None = None,
) -> IncidentDetail:
    """Skip a step that does not apply, with the reason; its dependencies still come first."""
    return await _finish_step(conn, user, incident_id, step_id, skip_reason=data.reason, now=_now(now))


async def close_incident(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    data: IncidentClose,
    *,
    now: datetime | None = None,
) -> IncidentDetail:
    """Close the incident once every step is done or skipped (or 409 listing the open
    ones) and, for a playbook that requires it (a data leak), once the art. 57 record
    holds everything the article requires (or 409 naming each missing field); queues the
    playbook's ``closed`` actions (the triggered reassessment)."""
    now = _now(now)
    actor = _actor(user)
    async with conn.transaction():
        before = await _locked(conn, incident_id, now)
        _refuse_unless(before, "open", action="close")
        states = repo.step_states(await repo.get_steps(conn, incident_id))
        still_open = open_steps(states)
        if still_open:
            raise Problem(
                409,
                "steps-open",
                f"cannot close: {len(still_open)} step(s) neither done nor skipped: {', '.join(still_open)}",
                open_steps=still_open,
            )
        missing = await notification_record_missing(conn, before)
        if missing:
            raise notification_record_incomplete(incident_id, missing)
        await repo.update_incident(
            conn,
            incident_id,
            {"status": "closed", "closed_at": now, "closed_by": user.id, "close_note": data.note},
        )
        await repo.append_timeline(
            conn,
            incident_id,
            actor,
            "closed",
            messages.text("关闭事件", "Closed the incident"),
            data={"note": data.note},
        )
        playbook = await _snapshot(conn, incident_id)
        await _queue_actions(
            conn, incident_id, playbook, before.severity, [s.id for s in states], "closed", actor
        )
        await _audit_change(conn, actor, "incident.closed", incident_id, before, now)
        await emit_event(
            conn,
            "incident.closed",
            {"incident_id": incident_id, "partner_id": before.partner_id, "title": before.title},
            dedupe_key=f"incident.closed:{incident_id}",
        )
        return await load_detail(conn, incident_id, now=now)


# --- the art. 57 notification record ----------------------------------------------------
# --- the art. 57 notification record ----------------------------------------------------


async def notification_record_missing(conn: asyncpg.Connection, incident: Incident) -> list[str]:
    """The art. 57 record's missing fields that keep the incident from closing; none when
    its playbook needs no record. The snapshot or the current version of the playbook
    decides: an incident opened before the rule was written down is a leak all the same."""
    snapshot = await _snapshot(conn, incident.id)
    current = library().get(incident.playbook_key)
    if not (snapshot.notification_record or (current is not None and current.notification_record)):
        return []
    return notification_record_gaps(await notification_record(conn, incident))


def notification_record_incomplete(incident_id: UUID, missing: Sequence[str]) -> Problem:
    """409 naming each field of the art. 57 record still missing: as ``missing``, as
    ``errors`` (one per field, like a validation problem, so a form shows each beside its
    field) and as ``unmet`` conditions with the stable code ``art57_missing``."""
    return Problem(
        409,
        "notification-record-incomplete",
        "cannot close: the PIPL art. 57 notification record lacks " + ", ".join(missing),
        missing=list(missing),
        errors=[{"field": name, "message": "required by PIPL art. 57 before closing"} for name in missing],
        unmet=[
            {
                "code": "art57_missing",
                "field": name,
                "message": f"notification record: {name} is required by PIPL art. 57",
                "entity_type": "incident",
                "entity_id": str(incident_id),
            }
            for name in missing
        ],
    )


async def notification_record(conn: asyncpg.Connection, incident: Incident) -> NotificationRecord:
    """The saved record, or an empty one (version 0) listing the incident's categories."""
    record = await repo.get_notification_record(conn, incident.id)
    if record is not None:
        return record
    empty = NotificationRecordUpdate(version=0, categories=incident.affected_categories)
    return NotificationRecord(
        incident_id=incident.id,
        **{f: getattr(empty, f) for f in repo.RECORD_FIELDS},
        updated_at=None,
        updated_by_label=None,
        version=0,
    )


async def save_notification_record(
    conn: asyncpg.Connection,
    user: CurrentUser,
    incident_id: UUID,
    data: NotificationRecordUpdate,
    *,
    now: datetime | None = None,
) -> NotificationRecord:
    """Replace the record whole; ``version`` 0 creates it, a stale version is a 409."""
    now = _now(now)
    actor = _actor(user)
    await _check_categories(conn, "categories", data.categories)
    async with conn.transaction():
        incident = await _locked(conn, incident_id, now)
        before = await notification_record(conn, incident)
        if not await repo.save_notification_record(conn, incident_id, data, actor):
            raise stale_version("notification record", data.version, before.version)
        after = await notification_record(conn, incident)
        await repo.append_timeline(
            conn,
            incident_id,
            actor,
            "notification_record_saved",
            messages.text(
                "更新《个人信息保护法》第五十七条通知记录", "Updated the PIPL art. 57 notification record"
            ),
            data={"version": after.version},
        )
        await audit.record(
            conn,
            actor=actor,
            action="incident.notification_record_saved",
            entity_type="incident",
            entity_id=incident_id,
            before=before,
            after=after,
        )
    return after


async def export_notification_record(
    conn: asyncpg.Connection, incident_id: UUID, lang: str, *, now: datetime | None = None
) -> str:
    """The art. 57 record as Markdown in ``lang``, for the authority."""
    now = _now(now)
    incident = await load(conn, incident_id, now=now)
    record = await notification_record(conn, incident)
    names = {c.code: c.name for c in await scopes_repo.list_categories(conn)}
    return notification_record_markdown(incident, record, names, lang, now)
