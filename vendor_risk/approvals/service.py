"""Two-person approvals: the first approval of a decision a policy rule covers records a
pending decision and tells the other risk owners; a second, distinct risk owner completes
it. Nobody approves their own request or gives both approvals.

The decisions' own services (partner activation, scope approval, risk acceptance) call
``second_approval`` inside their transaction once their gate has passed. When it answers
with a pending decision they commit without applying the decision and raise
``SecondApprovalRequired`` (HTTP 202 with the pending decision) after the commit; when it
answers with a completed one they apply the decision, raising the conditions of both
approvals as findings.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.approvals import repository as repo
from vendor_risk.approvals.models import ApprovalCondition, PendingDecision, SecondApproval
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, not_found, stale_version
from vendor_risk.i18n import translator
from vendor_risk.notify.outbox import Email, enqueue_email
from vendor_risk.policy import ApprovalRule, DecisionKind
from vendor_risk.settings import Settings

ENTITY_OF: dict[DecisionKind, str] = {
    "partner_activation": "partner",
    "scope_approval": "scope",
    "risk_acceptance": "finding",
}


class SecondApprovalRequired(Problem):
    """The first approval is recorded and the decision waits for a second risk owner.

    Not an error: the API answers 202 with ``decision`` (the pending decision); pages show
    that the decision now awaits a second approval.
    """

    def __init__(self, decision: PendingDecision) -> None:
        super().__init__(
            202,
            "second-approval-pending",
            f"your approval is recorded; rule {decision.rule_id!r} needs a second approval "
            "by another risk owner",
            title="Accepted",
            rule=decision.rule_id,
            pending_decision=msgspec.to_builtins(decision),
        )
        self.decision = decision


def refused(rule: ApprovalRule, slug: str, detail: str) -> Problem:
    """A 409 that names the two-person rule."""
    return Problem(409, slug, f"{detail} (rule {rule.id!r})", rule=rule.id)


class Outcome(msgspec.Struct, kw_only=True):
    """What the caller does: ``pending`` set = commit and raise; otherwise apply the
    decision (``completed`` is the decision this approval completed, if any)."""

    pending: PendingDecision | None = None
    completed: PendingDecision | None = None

    def conditions(self, own: Sequence[ApprovalCondition]) -> list[ApprovalCondition]:
        """The first approver's conditions and this approver's."""
        first = self.completed.payload.get("conditions", []) if self.completed else []
        return msgspec.convert(first, list[ApprovalCondition]) + list(own)


async def second_approval(
    conn: asyncpg.Connection,
    actor: Actor,
    rule: ApprovalRule | None,
    *,
    entity_id: UUID,
    partner_id: UUID,
    requested_by: UUID | None,
    payload: Any,
    settings: Settings,
) -> Outcome:
    """Inside the decision's transaction (its gate already passed): record the first
    approval, or complete the pending one with this second approval. Audited; the other
    risk owners are emailed at the first approval."""
    if rule is None or actor.id is None:
        # No rule covers it, or the system acts (automation is not a person's approval).
        return Outcome()
    if requested_by is not None and requested_by == actor.id:
        raise refused(rule, "own-request", "you requested this; another risk owner must approve it")
    existing = await repo.open_for(conn, rule.decision, entity_id)
    if existing is not None:
        if existing.first_by == actor.id:
            raise refused(
                rule, "same-approver", "you gave the first approval; a second risk owner must give this one"
            )
        await repo.complete(conn, existing.id, actor.id, actor.label)
        completed = await repo.get(conn, existing.id)
        assert completed is not None  # noqa: S101 - locked above
        await audit.record(
            conn,
            actor=actor,
            action="approval.completed",
            entity_type=ENTITY_OF[rule.decision],
            entity_id=entity_id,
            before=existing,
            after=completed,
        )
        return Outcome(completed=completed)
    decision_id = await repo.insert(
        conn,
        {
            "rule_id": rule.id,
            "decision": rule.decision,
            "entity_type": ENTITY_OF[rule.decision],
            "entity_id": entity_id,
            "partner_id": partner_id,
            "payload": msgspec.to_builtins(payload),
            "first_by": actor.id,
            "first_by_label": actor.label,
        },
    )
    if decision_id is None:
        # Another first approval of the same decision committed meanwhile: ours is second.
        return await second_approval(
            conn,
            actor,
            rule,
            entity_id=entity_id,
            partner_id=partner_id,
            requested_by=requested_by,
            payload=payload,
            settings=settings,
        )
    pending = await repo.get(conn, decision_id)
    assert pending is not None  # noqa: S101 - inserted above
    await audit.record(
        conn,
        actor=actor,
        action="approval.requested",
        entity_type=ENTITY_OF[rule.decision],
        entity_id=entity_id,
        after=pending,
    )
    for owner in await repo.other_risk_owners(conn, actor.id):
        await enqueue_email(
            conn,
            topic="approval.requested",
            email=request_email(pending, owner["email"], owner["name"], owner["locale"], settings.public_url),
            dedupe_key=f"approval.requested:{pending.id}:{owner['id']}",
        )
    return Outcome(pending=pending)


def request_email(decision: PendingDecision, to: str, name: str, lang: str, public_url: str) -> Email:
    """Asks a risk owner for the second approval, in their language."""
    t = translator(lang)
    what = t(f"approval_decision_{decision.decision}")
    page = f"{public_url}/ui/partners/{decision.partner_id}"
    api = f"{public_url}/api/v1/approvals/{decision.id}/approve"
    paragraphs = [
        t("approval_email_greeting", name=name),
        t(
            "approval_email_body",
            who=decision.first_by_label,
            what=what,
            partner=decision.partner_name,
            rule=decision.rule_id,
        ),
        t("approval_email_action", page=page, api=api),
        t("approval_email_rule"),
    ]
    return Email(
        to=to,
        subject=t("approval_email_subject", what=what, partner=decision.partner_name),
        text="\n\n".join(paragraphs) + "\n",
        html=f'<!doctype html><html lang="{lang}"><body>'
        + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        + "</body></html>",
        lang=lang,
    )


async def raise_conditions(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    conditions: Sequence[ApprovalCondition],
    today: date,
) -> list[UUID]:
    """Each condition of an approval becomes a finding of the partner with its due date
    (audited, ``finding.opened``), inside the caller's transaction."""
    from vendor_risk.findings import service as findings_service
    from vendor_risk.findings.models import FindingCreate

    created = []
    for condition in conditions:
        finding = await findings_service.create_finding(
            conn,
            actor,
            FindingCreate(
                partner_id=partner_id,
                severity=condition.severity,
                title=condition.title,
                description=condition.description,
                due_on=condition.due_on,
            ),
            today,
        )
        created.append(finding.id)
    return created


async def give_second_approval(
    conn: asyncpg.Connection,
    actor: Actor,
    decision_id: UUID,
    data: SecondApproval,
    settings: Settings,
    today: date,
) -> PendingDecision:
    """Complete a pending decision with exactly what the first approver decided (plus any
    conditions of this approval), through the decision's own service and gate."""
    from vendor_risk.findings import service as findings_service
    from vendor_risk.findings.models import AcceptanceCreate
    from vendor_risk.partners import service as partners_service
    from vendor_risk.partners.models import Transition
    from vendor_risk.scopes import service as scopes_service
    from vendor_risk.scopes.models import ScopeApproval

    decision = await repo.get(conn, decision_id)
    if decision is None:
        raise not_found("pending decision", decision_id)
    if data.version is not None and data.version != decision.version:
        raise stale_version("pending decision", data.version, decision.version)
    if decision.status != "pending":
        raise Problem(
            409,
            "decision-completed",
            f"the decision was completed by {decision.second_by_label} (rule {decision.rule_id!r})",
            rule=decision.rule_id,
        )
    payload = decision.payload
    if decision.decision == "partner_activation":
        await partners_service.transition(
            conn,
            actor,
            decision.partner_id,
            Transition(to="active", reason=payload["reason"], conditions=data.conditions),
            settings,
        )
    elif decision.decision == "scope_approval":
        await scopes_service.approve_scope(
            conn,
            actor,
            decision.partner_id,
            decision.entity_id,
            ScopeApproval(note=payload.get("note"), conditions=data.conditions),
            settings,
        )
    else:
        await findings_service.accept_risk(
            conn,
            actor,
            decision.entity_id,
            msgspec.convert(payload, AcceptanceCreate),
            today,
            policy=settings.policy,
        )
    done = await repo.get(conn, decision_id)
    assert done is not None  # noqa: S101 - it existed above
    return done
