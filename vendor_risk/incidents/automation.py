"""What the worker does for incidents: run the queued automatic actions, escalate late steps.

Both read PostgreSQL and claim rows with ``FOR UPDATE SKIP LOCKED``, so two workers never
do the same thing and a lost Redis job is found again by the next minute's run. Each
action runs in the transaction that marks it finished, and each escalation level is a
row under a unique index: run twice, they do nothing twice.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from arq.connections import ArqRedis
from redis import exceptions as redis_errors

from vendor_risk import audit
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments import service as assessments_service
from vendor_risk.assessments.models import EDITABLE_STATUSES, Cancel
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem
from vendor_risk.i18n import has_label, translator
from vendor_risk.incidents import messages
from vendor_risk.incidents import repository as repo
from vendor_risk.incidents.models import Incident
from vendor_risk.incidents.playbook import (
    Action,
    Notify,
    Playbook,
    RevokePortalLinks,
    SendTriggeredAssessment,
    SuspendPartner,
    SuspendScopes,
)
from vendor_risk.incidents.rules import (
    escalation_level,
    escalation_roles,
    next_escalation_at,
    scopes_to_suspend,
)
from vendor_risk.incidents.service import MAX_SCOPES, email_roles
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.notify.outbox import emit_event
from vendor_risk.partners import repository as partners_repo
from vendor_risk.partners import service as partners_service
from vendor_risk.partners.models import Transition
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.scopes import service as scopes_service
from vendor_risk.scopes.models import ScopeWithdrawal
from vendor_risk.selfservice import service as selfservice_service
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

log = structlog.get_logger("vendor_risk.incidents")

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
# A run stops after this many actions or steps so the job ends; the next run goes on.
BATCH = 100
# Errors that say "PostgreSQL is unreachable now": the whole job is retried, nothing recorded.
CONNECTION_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)

# Every kick shares this arq job id: a burst of commits becomes one queued job.
KICK_JOB_ID = "run_incident_actions:kick"


async def kick_incident_actions(redis: ArqRedis) -> None:
    """Ask a worker to run queued actions now; call it after committing an incident change.

    A kick only hastens the actions (the minute cron runs whatever a lost kick left), so
    an unreachable Redis is logged, never raised into the committed request.
    """
    try:
        await redis.enqueue_job("run_incident_actions", _job_id=KICK_JOB_ID)
    except (redis_errors.RedisError, OSError) as exc:
        log.warning("incident kick lost; the minute run will do it", error=f"{type(exc).__name__}: {exc}")


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    status: str  # succeeded | skipped | failed
    summary: I18nText
    data: dict[str, Any]


def _text(zh: str, en: str) -> I18nText:
    return I18nText(zh_cn=zh, en=en)


def system_actor(incident: Incident) -> Actor:
    """Who acts when the playbook acts: the system, on behalf of this incident."""
    return Actor(id=None, label=f"system: playbook {incident.playbook_key}, incident {incident.id}")


# --- the actions ------------------------------------------------------------------------


async def _suspend_scopes(
    conn: asyncpg.Connection, incident: Incident, action: SuspendScopes, actor: Actor, settings: Settings
) -> Outcome:
    scopes = await scopes_repo.list_scopes(conn, incident.partner_id, ["approved"], None, MAX_SCOPES)
    codes = {str(s.id): s.category.code for s in scopes}
    names = {str(s.id): s.category.name for s in scopes}
    chosen = scopes_to_suspend(action.categories, incident.affected_categories, codes)
    reason = f"incident containment: {incident.title}"
    for scope_id in chosen:
        await scopes_service.withdraw_scope(
            conn,
            actor,
            incident.partner_id,
            UUID(scope_id),
            ScopeWithdrawal(reason=reason),
            "suspended",
            policy=settings.policy,
        )
    data = {
        "mode": action.categories,
        "affected_categories": incident.affected_categories,
        "suspended": [{"scope_id": s, "category": codes[s]} for s in chosen],
    }
    if not chosen:
        return Outcome(
            status="succeeded",
            summary=_text("没有需要暂停的已批准数据共享范围", "No approved data-sharing scope to suspend"),
            data=data,
        )
    zh = "、".join(dict.fromkeys(names[s].zh_cn for s in chosen))
    en = ", ".join(dict.fromkeys(names[s].en for s in chosen))
    return Outcome(
        status="succeeded",
        summary=_text(
            f"已暂停 {len(chosen)} 个数据共享范围：{zh}",
            f"Suspended {len(chosen)} data-sharing scope(s): {en}",
        ),
        data=data,
    )


async def _suspend_partner(
    conn: asyncpg.Connection, incident: Incident, actor: Actor, settings: Settings
) -> Outcome:
    status = await partners_repo.status_of(conn, incident.partner_id)
    if status != "active":
        return Outcome(
            status="skipped",
            summary=_text(f"合作方当前状态为 {status}，无需暂停", f"Partner not suspended: it is {status}"),
            data={"partner_status": status},
        )
    await partners_service.transition(
        conn,
        actor,
        incident.partner_id,
        Transition(to="suspended", reason=f"incident: {incident.title}"),
        settings,
    )
    return Outcome(status="succeeded", summary=_text("已暂停合作方", "Suspended the partner"), data={})


async def _revoke_portal_links(conn: asyncpg.Connection, incident: Incident, actor: Actor) -> Outcome:
    """Kill the partner's questionnaire links and end its contacts' self-service sessions:
    whoever holds a leaked mailbox loses the partner's side of the portal at once (and
    cannot sign in again until the incident ends: the containment predicate of
    ``selfservice.repository.CONTAINED``)."""
    reason = f"incident containment: {incident.title}"
    revoked = await assessments_service.revoke_partner_links(conn, actor, incident.partner_id, reason)
    sessions = await selfservice_service.revoke_sessions(conn, actor, incident.partner_id)
    data: dict[str, Any] = {"assessment_ids": revoked, "sessions_ended": sessions}
    return Outcome(
        status="succeeded",
        summary=_text(
            f"已作废 {len(revoked)} 个问卷链接，结束 {sessions} 个自助服务会话",
            f"Killed {len(revoked)} questionnaire link(s) and ended {sessions} self-service session(s)",
        ),
        data=data,
    )


async def _send_triggered_assessment(
    conn: asyncpg.Connection,
    incident: Incident,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> Outcome:
    reason = f"incident: {incident.title}"[:500]
    open_id = await assessments_repo.open_assessment_of(conn, incident.partner_id, False)
    cancelled = None
    if open_id is not None:
        state = await assessments_repo.get_state(conn, open_id)
        if state is not None and state.status not in EDITABLE_STATUSES:
            return Outcome(
                status="skipped",
                summary=_text(
                    "该合作方已提交的评估尚待审核，请先完成审核，再发送重新评估",
                    "The partner's submitted assessment awaits review: review it, then send the reassessment",
                ),
                data={"open_assessment_id": open_id},
            )
        # Answers typed while the partner was compromised are not carried into the
        # reassessment: the open assessment gives way to it.
        await assessments_service.cancel(conn, actor, open_id, Cancel(reason=reason), now=now)
        cancelled = open_id
    sent = await assessments_service.send_due_assessment(
        conn,
        incident.partner_id,
        "triggered",
        settings,
        now=now,
        reason=reason,
        actor=actor,
        incident_id=incident.id,
    )
    if sent is None:
        return Outcome(
            status="skipped",
            summary=_text("已有未完成的评估，未重复发送", "An assessment is already open: none sent"),
            data={"cancelled_assessment_id": cancelled},
        )
    # The link (with its token) goes only to the partner, by email; never onto the timeline.
    to = sent.assessment.recipient_email
    return Outcome(
        status="succeeded",
        summary=_text(f"已向 {to} 发送触发式重新评估问卷", f"Sent a triggered reassessment to {to}"),
        data={
            "assessment_id": sent.assessment.id,
            "recipient": to,
            "due_on": sent.assessment.due_on,
            "cancelled_assessment_id": cancelled,
        },
    )


async def _notify(
    conn: asyncpg.Connection,
    incident: Incident,
    action: Notify,
    settings: Settings,
    *,
    run_id: UUID,
    step_title: I18nText,
) -> Outcome:
    link = messages.incident_link(settings.public_url, incident.id)
    emailed = await email_roles(
        conn,
        action.roles,
        topic="incident.notify",
        dedupe_prefix=f"incident-action:{run_id}",
        build=lambda u: messages.notify_email(
            to=u.email,
            lang=u.locale,
            incident_title=incident.title,
            partner_name=incident.partner_name,
            step_title=step_title,
            message=action.message,
            link=link,
        ),
    )
    hooks = 0
    if action.event:
        hooks = await emit_event(
            conn,
            action.event,
            {
                "incident_id": incident.id,
                "partner_id": incident.partner_id,
                "title": incident.title,
                "severity": incident.severity,
            },
            dedupe_key=f"incident-action:{run_id}",
        )
    zh, en = translator("zh-CN"), translator("en")

    def event_label(t: Callable[..., str]) -> str:
        key = f"wk_event_{(action.event or '').replace('.', '_')}"
        return t(key) if has_label(key) else action.event or "-"

    return Outcome(
        status="succeeded",
        summary=_text(
            f"已通知 {emailed} 人（角色：{'、'.join(zh(f'role_{r}') for r in action.roles) or '-'}），"
            f"事件：{event_label(zh)}",
            f"Emailed {emailed} user(s) (roles: {', '.join(en(f'role_{r}') for r in action.roles) or '-'});"
            f" event: {event_label(en)}",
        ),
        data={"emailed": emailed, "roles": action.roles, "event": action.event, "webhooks": hooks},
    )


async def _execute(
    conn: asyncpg.Connection,
    run: repo.ActionRun,
    incident: Incident,
    action: Action,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> Outcome:
    match action:
        case SuspendScopes():
            return await _suspend_scopes(conn, incident, action, actor, settings)
        case SuspendPartner():
            return await _suspend_partner(conn, incident, actor, settings)
        case Notify():
            steps = await repo.get_steps(conn, incident.id)
            title = next(msgspec.convert(s["title"], I18nText) for s in steps if s["id"] == run.step_id)
            return await _notify(conn, incident, action, settings, run_id=run.id, step_title=title)
        case RevokePortalLinks():
            return await _revoke_portal_links(conn, incident, actor)
        case SendTriggeredAssessment():
            return await _send_triggered_assessment(conn, incident, actor, settings, now)


# --- running them -----------------------------------------------------------------------


def retry_delay(attempt: int) -> timedelta:
    """1, 2, 4, 8 minutes after failed attempt 1, 2, 3, 4, with jitter so failures spread."""
    jitter: float = random.uniform(1.0, 1.5)  # noqa: S311 - jitter, not a secret
    doubling: int = 2 ** (attempt - 1)
    return RETRY_BASE * doubling * jitter


async def _attempt(
    conn: asyncpg.Connection,
    run: repo.ActionRun,
    incident: Incident,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> Outcome | None:
    """Run the action in a savepoint; its outcome, or None when it is to be tried again."""
    if incident.status == "dismissed":
        return Outcome(
            status="skipped",
            summary=_text("事件已排除，未执行自动操作", "The incident was dismissed: action not run"),
            data={},
        )
    try:
        # A failed action leaves nothing behind but its failure record.
        async with conn.transaction():
            return await _execute(
                conn, run, incident, msgspec.convert(run.params, Action), actor, settings, now
            )
    except CONNECTION_ERRORS:
        raise
    except Problem as exc:
        # A domain rule refused: trying again will not change its mind.
        error = exc.detail
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if run.attempts + 1 < MAX_ATTEMPTS:
            log.warning("incident action will retry", run_id=str(run.id), action=run.action, error=error)
            await repo.retry_action_run(conn, run.id, error, now + retry_delay(run.attempts + 1))
            return None
        log.error("incident action failed", run_id=str(run.id), action=run.action, exc_info=exc)
    return Outcome(status="failed", summary=messages.action_failed(run.action, error), data={"error": error})


async def _run_one(conn: asyncpg.Connection, run: repo.ActionRun, settings: Settings, now: datetime) -> str:
    incident = await repo.get_incident(conn, run.incident_id, now)
    assert incident is not None  # noqa: S101 - a run's incident is referenced by a foreign key
    actor = system_actor(incident)
    outcome = await _attempt(conn, run, incident, actor, settings, now)
    if outcome is None:
        return "retrying"
    await repo.finish_action_run(conn, run.id, outcome.status, outcome.data, outcome.data.get("error"))
    await repo.append_timeline(
        conn,
        incident.id,
        actor,
        f"action_{outcome.status}",
        outcome.summary,
        step_id=run.step_id,
        data={"action": run.action, "index": run.action_index, "outcome": outcome.data},
    )
    await audit.record(
        conn,
        actor=actor,
        action=f"incident.action_{outcome.status}",
        entity_type="incident",
        entity_id=incident.id,
        after={"action": run.action, "step_id": run.step_id, "run_id": run.id, "outcome": outcome.data},
    )
    return outcome.status


async def run_due_actions(
    pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """Run every queued action due at ``now`` (the current time unless a test injects one),
    each in its own transaction; returns how many ended in each status."""
    counts: Counter[str] = Counter()
    for _ in range(BATCH):
        async with pool.acquire() as conn, conn.transaction():
            at = now or datetime.now(UTC)
            run = await repo.claim_action_run(conn, at)
            if run is None:
                break
            counts[await _run_one(conn, run, settings, at)] += 1
    return dict(counts)


# --- escalation -------------------------------------------------------------------------


async def _escalate(
    conn: asyncpg.Connection, step: repo.OverdueStep, settings: Settings, now: datetime
) -> bool:
    level = escalation_level(step.due_at, now, step.escalation_offsets)
    following = next_escalation_at(step.due_at, level, step.escalation_offsets)
    playbook = msgspec.convert(step.playbook, Playbook)
    roles = escalation_roles(playbook, step.owner_role, level)
    if not await repo.record_escalation(conn, step, level, roles, now, following):
        return False
    link = messages.incident_link(settings.public_url, step.incident_id)
    key = f"incident.step_overdue:{step.incident_id}:{step.step_id}:{level}"
    emailed = await email_roles(
        conn,
        roles,
        topic="incident.step_overdue",
        dedupe_prefix=key,
        build=lambda u: messages.escalation_email(
            to=u.email,
            lang=u.locale,
            incident_title=step.incident_title,
            partner_name=step.partner_name,
            step_title=step.title,
            due_at=step.due_at,
            level=level,
            link=link,
        ),
    )
    data = {
        "incident_id": step.incident_id,
        "partner_id": step.partner_id,
        "title": step.incident_title,
        "severity": step.severity,
        "step_id": step.step_id,
        "owner_role": step.owner_role,
        "due_at": step.due_at,
        "level": level,
    }
    await emit_event(conn, "incident.step_overdue", data, dedupe_key=key)
    actor = Actor(id=None, label="system: incident deadlines")
    await repo.append_timeline(
        conn,
        step.incident_id,
        actor,
        "escalated",
        messages.escalated(step.title, level, roles),
        step_id=step.step_id,
        data={"level": level, "roles": roles, "emailed": emailed, "due_at": step.due_at},
    )
    await audit.record(
        conn,
        actor=actor,
        action="incident.step_escalated",
        entity_type="incident",
        entity_id=step.incident_id,
        after={"step_id": step.step_id, "level": level, "roles": roles, "emailed": emailed},
    )
    return True


async def escalate_overdue_steps(
    pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None
) -> int:
    """Escalate every pending step past its deadline (or its next escalation level) at
    ``now``: email the level's roles, emit ``incident.step_overdue``, once per step and
    level. Returns how many escalations were made."""
    escalated = 0
    at = now or datetime.now(UTC)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            steps = await repo.claim_overdue_steps(conn, at, BATCH)
            for step in steps:
                escalated += await _escalate(conn, step, settings, at)
        if len(steps) < BATCH:
            return escalated


# --- the arq jobs -----------------------------------------------------------------------


async def _kick_outbox(ctx: dict[str, Any]) -> None:
    # The emails and events just written go out now, not at the next minute's sweep.
    if "redis" in ctx:
        await kick_outbox(ctx["redis"])


async def run_incident_actions(ctx: dict[str, Any]) -> dict[str, int]:
    """Run the playbooks' queued actions: kicked after commits, and run every minute."""
    counts = await run_due_actions(ctx["db_pool"], ctx["settings"])
    if counts:
        await _kick_outbox(ctx)
    return counts


async def escalate_incident_steps(ctx: dict[str, Any]) -> int:
    """The minute sweep over incident deadlines."""
    escalated = await escalate_overdue_steps(ctx["db_pool"], ctx["settings"])
    if escalated:
        await _kick_outbox(ctx)
    return escalated
