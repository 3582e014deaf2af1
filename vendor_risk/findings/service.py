"""Findings: raised on submission from the questionnaire rules or by hand, remediated,
resolved, or accepted as a risk until a date."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response

from vendor_risk import audit, documents
from vendor_risk.approvals.service import SecondApprovalRequired, second_approval
from vendor_risk.assessments.rules import LiveFinding, RaisedFinding, reconcile_findings
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, field_error, not_found, stale_version
from vendor_risk.findings import reminders
from vendor_risk.findings import repository as repo
from vendor_risk.findings.models import (
    PARTNER_ACTIONABLE,
    AcceptanceCreate,
    EventSide,
    Finding,
    FindingCreate,
    FindingDetail,
    FindingUpdate,
    FindingVerify,
)
from vendor_risk.notify.outbox import emit_event
from vendor_risk.partners import rating
from vendor_risk.policy import DEFAULT_POLICY, Policy, Severity, approval_rule
from vendor_risk.questionnaires.models import Answer
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

# A risk is accepted for at most a year: it must be looked at again at least that often.
MAX_ACCEPTANCE_DAYS = 366
# Columns a PATCH may change, named after the Struct fields.
_UPDATABLE = ("status", "owner_id", "due_on", "remediation_plan", "resolution_note")


async def load(conn: asyncpg.Connection, finding_id: UUID, today: date) -> Finding:
    finding = await repo.get_finding(conn, finding_id, today)
    if finding is None:
        raise not_found("finding", finding_id)
    return finding


async def detail(conn: asyncpg.Connection, finding_id: UUID, today: date) -> FindingDetail:
    """A finding with every risk acceptance recorded on it."""
    found = await repo.get_detail(conn, finding_id, today)
    if found is None:
        raise not_found("finding", finding_id)
    return found


async def proof_download(
    conn: asyncpg.Connection, settings: Settings, finding_id: UUID, document_id: UUID
) -> Response[bytes]:
    """A proof file of this finding as an attachment; a document of anything else is a 404."""
    found = None
    if await repo.proof_of(conn, finding_id, document_id):
        found = await documents.read_document(conn, settings.data_keys, document_id)
    if found is None:
        raise not_found("proof", document_id)
    return documents.download(*found)


async def _history(
    conn: asyncpg.Connection,
    actor: Actor,
    finding: Finding,
    kind: str,
    *,
    side: EventSide = "staff",
    note: str | None = None,
) -> None:
    """Append one line to the finding's history (``finding_events``, append-only)."""
    await repo.add_events(
        conn,
        [(finding.id, kind, finding.status, note or "")],
        actor_id=actor.id,
        actor_label=actor.label,
        side=side,
    )


async def _check_owner(conn: asyncpg.Connection, owner_id: UUID | None) -> None:
    if owner_id is None:
        return
    exists = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL)", owner_id
    )
    if not exists:
        raise field_error("owner_id", "must be an enabled user")


async def create_finding(
    conn: asyncpg.Connection,
    actor: Actor,
    data: FindingCreate,
    today: date,
    *,
    due_days: Mapping[Severity, int] = DEFAULT_POLICY.findings.due_days,
) -> Finding:
    """Raise a finding by hand (a reviewer's own observation); audited, ``finding.opened``.
    Without a due date it is due the policy's days for its severity from today."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1)", data.partner_id):
            raise field_error("partner_id", "no such partner")
        if data.assessment_id is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM assessments WHERE id = $1 AND partner_id = $2)",
            data.assessment_id,
            data.partner_id,
        ):
            raise field_error("assessment_id", "no such assessment of this partner")
        await _check_owner(conn, data.owner_id)
        if data.due_on is not None and data.due_on < today:
            raise field_error("due_on", "must not be in the past")
        finding_id = await repo.insert_finding(
            conn,
            {
                "partner_id": data.partner_id,
                "assessment_id": data.assessment_id,
                "last_assessment_id": data.assessment_id,
                "source": "manual",
                "severity": data.severity,
                "title": I18nText(zh_cn=data.title, en=data.title),
                "description": data.description,
                "remediation": I18nText(zh_cn=data.remediation, en=data.remediation)
                if data.remediation
                else None,
                "owner_id": data.owner_id,
                "due_on": data.due_on or today + timedelta(days=due_days[data.severity]),
                "created_by": actor.id,
            },
        )
        finding = await load(conn, finding_id, today)
        await _history(conn, actor, finding, "opened", note=data.description or None)
        await audit.record(
            conn,
            actor=actor,
            action="finding.opened",
            entity_type="finding",
            entity_id=finding_id,
            after=finding,
        )
        await rating.recompute(conn, actor, [data.partner_id], reason="finding opened", today=today)
        await _announce_opened(conn, [finding])
    return finding


async def update_finding(
    conn: asyncpg.Connection, actor: Actor, finding_id: UUID, data: FindingUpdate, today: date
) -> Finding:
    """Change status (open, remediating, resolved), owner, due date or plan; a stale
    ``version`` is a 409. Accepting a risk has its own endpoint."""
    async with conn.transaction():
        before = await repo.get_finding(conn, finding_id, today, for_update=True)
        if before is None:
            raise not_found("finding", finding_id)
        if before.version != data.version:
            raise stale_version("finding", data.version, before.version)
        changes = {
            name: getattr(data, name) for name in _UPDATABLE if getattr(data, name) is not msgspec.UNSET
        }
        if "owner_id" in changes:
            await _check_owner(conn, changes["owner_id"])
        status = changes.get("status")
        if status is not None and status != before.status:
            if before.status == "accepted":
                # Leaving `accepted` by hand ends the acceptance: it must not linger and
                # silently count again.
                await repo.stale_acceptances(conn, [finding_id], f"finding set to {status} by {actor.label}")
            changes["resolved_at"] = datetime.now(UTC) if status == "resolved" else None
        await repo.update_finding(conn, finding_id, changes)
        after = await load(conn, finding_id, today)
        if after.status != before.status:
            kind = {"resolved": "resolved", "open": "reopened"}.get(after.status, "status_changed")
            await _history(
                conn, actor, after, kind, note=after.resolution_note if kind == "resolved" else None
            )
        if (after.owner_id, after.due_on) != (before.owner_id, before.due_on):
            await _history(
                conn, actor, after, "assigned", note=after.due_on.isoformat() if after.due_on else None
            )
        elif after.remediation_plan != before.remediation_plan and after.status == before.status:
            await _history(conn, actor, after, "status_changed", note=after.remediation_plan)
        await audit.record(
            conn,
            actor=actor,
            action="finding.updated",
            entity_type="finding",
            entity_id=finding_id,
            before=before,
            after=after,
        )
        if after.status != before.status:
            await rating.recompute(
                conn, actor, [after.partner_id], reason=f"finding {after.status}", today=today
            )
    return after


async def accept_risk(
    conn: asyncpg.Connection,
    actor: Actor,
    finding_id: UUID,
    data: AcceptanceCreate,
    today: date,
    *,
    policy: Policy = DEFAULT_POLICY,
    settings: Settings | None = None,
) -> FindingDetail:
    """Record a risk acceptance until a date (an immutable row) and mark the finding accepted.

    A finding a two-person rule covers (by default: critical ones) is accepted by two
    distinct risk owners: the first acceptance records a pending decision and raises
    ``SecondApprovalRequired`` (202) after the commit; the second completes it with the
    first one's date and justification. ``settings`` gives the links of the email to the
    other risk owners (the policy's own when given)."""
    if settings is not None:
        policy = settings.policy
    if data.until <= today:
        raise field_error("until", "must be after today")
    if data.until > today + timedelta(days=MAX_ACCEPTANCE_DAYS):
        raise field_error(
            "until", f"must be within {MAX_ACCEPTANCE_DAYS} days: accepted risks are reviewed yearly"
        )
    async with conn.transaction():
        before = await repo.get_finding(conn, finding_id, today, for_update=True)
        if before is None:
            raise not_found("finding", finding_id)
        if before.status == "resolved":
            raise Problem(409, "finding-resolved", "a resolved finding has no risk left to accept")
        outcome = await second_approval(
            conn,
            actor,
            approval_rule(policy.approvals, "risk_acceptance", severity=before.severity),
            entity_id=finding_id,
            partner_id=before.partner_id,
            requested_by=await repo.created_by(conn, finding_id),
            payload=data,
            settings=settings or Settings(policy=policy),
        )
        if outcome.pending is None:
            if outcome.completed is not None:
                # The second approval completes what the first decided.
                data = msgspec.convert(outcome.completed.payload, AcceptanceCreate)
            # A new acceptance replaces the current one, which is kept and marked stale.
            await repo.stale_acceptances(conn, [finding_id], f"replaced by a new acceptance by {actor.label}")
            acceptance = await repo.insert_acceptance(
                conn, finding_id, data.until, data.justification, actor.id, actor.label, today
            )
            await repo.update_finding(conn, finding_id, {"status": "accepted"})
            await repo.add_events(
                conn,
                [(finding_id, "accepted", "accepted", data.justification)],
                actor_id=actor.id,
                actor_label=actor.label,
                side="staff",
            )
            await audit.record(
                conn,
                actor=actor,
                action="finding.risk_accepted",
                entity_type="finding",
                entity_id=finding_id,
                before=before,
                after=acceptance,
            )
            await rating.recompute(
                conn, actor, [before.partner_id], reason="risk accepted", today=today, policy=policy.rating
            )
    if outcome.pending is not None:
        raise SecondApprovalRequired(outcome.pending)
    return await detail(conn, finding_id, today)


async def respond(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    finding_id: UUID,
    plan: str,
    planned_on: date,
    today: date,
) -> None:
    """The partner's remediation plan and date for one of its open findings (from the
    portal or self-service); an open finding becomes ``remediating``. Another partner's
    finding, or one no longer the partner's to act on, is a 404."""
    async with conn.transaction():
        before = await repo.get_finding(conn, finding_id, today, for_update=True)
        if before is None or before.partner_id != partner_id or before.status not in PARTNER_ACTIONABLE:
            raise not_found("finding", finding_id)
        await repo.update_finding(
            conn,
            finding_id,
            {
                "partner_plan": plan,
                "partner_planned_on": planned_on,
                "partner_responded_at": datetime.now(UTC),
                "status": "remediating",
            },
        )
        after = await load(conn, finding_id, today)
        await _history(
            conn, actor, after, "planned", side="partner", note=f"{planned_on.isoformat()}: {plan}"
        )
        await audit.record(
            conn,
            actor=actor,
            action="finding.partner_responded",
            entity_type="finding",
            entity_id=finding_id,
            before=before,
            after=after,
        )


class ProofUpload(msgspec.Struct, kw_only=True):
    filename: str
    data: bytes


# A fix carries a few proof files at most (each up to the document limit).
MAX_PROOFS: Final = 5


async def submit_fix(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    finding_id: UUID,
    note: str,
    proofs: Sequence[ProofUpload],
    settings: Settings,
    today: date,
) -> Finding:
    """The partner says it fixed one of its findings, with what it did and proof files
    (checked by content, stored encrypted): the finding goes to ``verifying`` for a
    reviewer, never to ``resolved``. The owner (else the partner's owner) is told.

    Shared by the assessment portal and the partner self-service portal; ``partner_id`` is
    the partner the caller is signed in as, and another partner's finding is a 404."""
    if not note.strip():
        raise field_error("note", "say what was done")
    if not proofs:
        raise field_error("proof", "attach at least one proof file")
    if len(proofs) > MAX_PROOFS:
        raise field_error("proof", f"at most {MAX_PROOFS} files")
    checked = [
        (p, documents.check_upload(p.data, documents.clean_filename(p.filename), "proof")) for p in proofs
    ]
    async with conn.transaction():
        before = await repo.get_finding(conn, finding_id, today, for_update=True)
        if before is None or before.partner_id != partner_id or before.status not in PARTNER_ACTIONABLE:
            raise not_found("finding", finding_id)
        for proof, content_type in checked:
            info = await documents.store_document(
                conn,
                key=settings.current_data_key,
                data=proof.data,
                filename=documents.stored_filename(proof.filename, content_type),
                content_type=content_type,
                purpose="finding_proof",
                actor=actor,
            )
            await repo.add_proof(conn, finding_id, info.id)
        await repo.update_finding(
            conn,
            finding_id,
            {"status": "verifying", "partner_fix_note": note.strip(), "partner_fixed_at": datetime.now(UTC)},
        )
        after = await load(conn, finding_id, today)
        await _history(conn, actor, after, "fixed", side="partner", note=note.strip())
        await audit.record(
            conn,
            actor=actor,
            action="finding.partner_fixed",
            entity_type="finding",
            entity_id=finding_id,
            before=before,
            after={"status": after.status, "note": after.partner_fix_note, "proofs": len(checked)},
        )
        await reminders.fix_received(conn, after, settings)
    return after


async def verify(
    conn: asyncpg.Connection, actor: Actor, finding_id: UUID, data: FindingVerify, today: date
) -> Finding:
    """A reviewer's decision on a finding in ``verifying``: ``resolve`` closes it,
    ``reopen`` sends it back to the partner (``remediating``) with a note saying why.
    Only a risk owner calls it (the route's guard); a stale ``version`` is a 409."""
    if data.decision == "reopen" and not data.note.strip():
        raise field_error("note", "say why the fix is sent back")
    async with conn.transaction():
        before = await repo.get_finding(conn, finding_id, today, for_update=True)
        if before is None:
            raise not_found("finding", finding_id)
        if before.version != data.version:
            raise stale_version("finding", data.version, before.version)
        if before.status != "verifying":
            raise Problem(
                409,
                "finding-not-verifying",
                "only a finding awaiting verification can be resolved or sent back here",
            )
        note = data.note.strip() or None
        if data.decision == "resolve":
            changes: dict[str, object] = {
                "status": "resolved",
                "resolved_at": datetime.now(UTC),
                "resolution_note": note,
            }
        else:
            changes = {"status": "remediating", "resolved_at": None}
        await repo.update_finding(conn, finding_id, changes)
        after = await load(conn, finding_id, today)
        await _history(
            conn, actor, after, "resolved" if data.decision == "resolve" else "reopened", note=note
        )
        await audit.record(
            conn,
            actor=actor,
            action=f"finding.{'resolved' if data.decision == 'resolve' else 'reopened'}",
            entity_type="finding",
            entity_id=finding_id,
            before=before,
            after=after,
        )
        if data.decision == "resolve":
            await rating.recompute(conn, actor, [after.partner_id], reason="finding resolved", today=today)
    return after


async def apply_submission(
    conn: asyncpg.Connection,
    actor: Actor,
    *,
    partner_id: UUID,
    assessment_id: UUID,
    raised: Sequence[RaisedFinding],
    submitted_keys: Collection[str],
    today: date,
    due_days: Mapping[Severity, int] = DEFAULT_POLICY.findings.due_days,
) -> list[Finding]:
    """Bring the partner's rule findings in line with a submission, inside its transaction:
    open new ones (due the policy's days for their severity from today), keep (not
    duplicate) those raised again, resolve those whose question now passes, and lapse
    acceptances whose answer changed. Returns the findings opened."""
    live = await repo.live_rule_findings(conn, partner_id, today)
    plan = reconcile_findings(
        [
            LiveFinding(
                id=f.id,
                questionnaire=f.questionnaire,
                question_id=f.question_id,
                answer=msgspec.convert(f.answer, Answer) if f.answer is not None else None,
                accepted=f.accepted,
            )
            for f in live
        ],
        raised,
        submitted_keys,
    )
    status_of = {f.id: f.status for f in live}
    lapsed = set(
        await repo.stale_acceptances(conn, plan.stale_acceptances, "the answer that raised it changed")
    )
    for finding_id, answer, changed in plan.keep:
        changes: dict[str, object] = {"last_assessment_id": assessment_id, "answer": answer}
        if finding_id in lapsed or (status_of[finding_id] == "accepted" and changed):
            changes["status"] = "open"
        await repo.update_finding(conn, finding_id, changes)
    # An answer that no longer fails is the partner's word, not a reviewer's: the finding
    # waits in `verifying` for one (it used to resolve itself, even a high finding).
    to_verify = [f for f in plan.resolve if status_of[f] != "verifying"]
    for finding_id in to_verify:
        await repo.update_finding(
            conn,
            finding_id,
            {
                "status": "verifying",
                "last_assessment_id": assessment_id,
                "partner_fixed_at": datetime.now(UTC),
            },
        )
    await repo.add_events(
        conn,
        [(f, "answer_changed", "verifying", "") for f in to_verify],
        actor_id=actor.id,
        actor_label=actor.label,
        side="partner",
    )
    opened: list[Finding] = []
    for item in plan.open:
        rule = item.finding
        finding_id = await repo.insert_finding(
            conn,
            {
                "partner_id": partner_id,
                "assessment_id": assessment_id,
                "last_assessment_id": assessment_id,
                "source": "rule",
                "template_key": item.questionnaire,
                "question_id": rule.question_id,
                "section_id": rule.section_id,
                "severity": rule.severity,
                "title": rule.title,
                "remediation": rule.remediation,
                "refs": rule.references,
                "answer": item.answer,
                "due_on": today + timedelta(days=due_days[rule.severity]),
            },
        )
        opened.append(await load(conn, finding_id, today))
    await repo.add_events(
        conn,
        [(f.id, "opened", "open", "") for f in opened],
        actor_id=actor.id,
        actor_label=actor.label,
        side="system",
    )
    if plan.keep or plan.resolve or opened:
        await audit.record(
            conn,
            actor=actor,
            action="findings.reconciled",
            entity_type="assessment",
            entity_id=assessment_id,
            after={
                "opened": [f.id for f in opened],
                "kept": [k[0] for k in plan.keep],
                "verifying": to_verify,
                "acceptances_lapsed": sorted(lapsed),
            },
        )
    await _announce_opened(conn, opened)
    if to_verify or opened or lapsed:
        await rating.recompute(
            conn, actor, [partner_id], reason="findings reconciled with a submission", today=today
        )
    return opened


async def _announce_opened(conn: asyncpg.Connection, findings: Sequence[Finding]) -> None:
    for finding in findings:
        await emit_event(
            conn,
            "finding.opened",
            {
                "finding_id": finding.id,
                "partner_id": finding.partner_id,
                "assessment_id": finding.assessment_id,
                "severity": finding.severity,
                "title": finding.title,
                "source": finding.source,
            },
            dedupe_key=f"finding.opened:{finding.id}",
        )


async def lapse_expired_acceptances(conn: asyncpg.Connection, actor: Actor, today: date) -> list[UUID]:
    """For the worker's daily sweep: acceptances past ``until`` go stale and their findings
    reopen. Idempotent; returns the reopened findings."""
    async with conn.transaction():
        reopened = await repo.lapse_expired(conn, today)
        await repo.add_events(
            conn,
            [(f, "reopened", "open", "") for f in reopened],
            actor_id=actor.id,
            actor_label=actor.label,
            side="system",
        )
        for finding_id in reopened:
            await audit.record(
                conn,
                actor=actor,
                action="finding.acceptance_expired",
                entity_type="finding",
                entity_id=finding_id,
                after={"status": "open"},
            )
        partners = await conn.fetch(
            "SELECT DISTINCT partner_id FROM findings WHERE id = ANY($1::uuid[])", reopened
        )
        await rating.recompute(
            conn, actor, [r["partner_id"] for r in partners], reason="risk acceptance expired", today=today
        )
    return reopened
