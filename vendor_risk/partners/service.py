"""Partner records, lifecycle and tiering: transactions, audit and events.

Every change locks the partner row first, so concurrent changes to one partner (a scope
requested while another is approved, say) are serialised and its tier never goes stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.agreements import repository as agreements_repo
from vendor_risk.approvals.service import Outcome, SecondApprovalRequired, raise_conditions, second_approval
from vendor_risk.assessments import service as assessments_service
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, gate_refused, not_found, stale_version
from vendor_risk.notify.outbox import emit_event
from vendor_risk.partners import repository as repo
from vendor_risk.partners.models import (
    AgreementDue,
    ContactIn,
    Dashboard,
    OffboardingProgress,
    Partner,
    PartnerAttention,
    PartnerCreate,
    PartnerUpdate,
    ScopeAwaiting,
    StatusTierCount,
    Transition,
    TransitionResult,
)

# Re-exported: callers kept reaching these through the partner service.
from vendor_risk.partners.records import ensure_exists as ensure_exists
from vendor_risk.partners.records import invalid as invalid
from vendor_risk.partners.records import lock as lock
from vendor_risk.partners.records import recompute_tier as recompute_tier
from vendor_risk.partners.records import today_utc as today_utc
from vendor_risk.partners.rules import (
    PARTNER_TRANSITIONS,
    SERVICE_TYPES,
    TIERS,
    LifecycleFacts,
    compute_tier,
    legal_id_problems,
    normalize_credit_code,
    transition_gate,
)
from vendor_risk.policy import approval_rule
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.scopes.service import revoke_all_scopes
from vendor_risk.selfservice.certificates import valid_certificate_kinds
from vendor_risk.settings import Settings


async def load(conn: asyncpg.Connection, partner_id: UUID, settings: Settings) -> Partner:
    """The partner as the API shows it; 404 if it does not exist."""
    partner = await repo.get_partner(conn, partner_id, today_utc(), settings.agreement_expiring_days)
    if partner is None:
        raise not_found("partner", partner_id)
    return partner


# --- create and update -------------------------------------------------------------------


def _contact_problems(contacts: Sequence[ContactIn]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if contacts and not any(c.primary for c in contacts):
        problems.append(("contacts", "mark at least one contact primary: questionnaires go there"))
    emails = [c.email.lower() for c in contacts]
    if len(set(emails)) != len(emails):
        problems.append(("contacts", "each contact needs its own email address"))
    return problems


async def _validated_fields(
    conn: asyncpg.Connection, fields: dict[str, Any], contacts: Sequence[ContactIn] | None
) -> dict[str, Any]:
    """Normalize and check a partner's full set of fields; a 400 lists every problem."""
    if fields["credit_code"] is not None:
        fields["credit_code"] = normalize_credit_code(fields["credit_code"]) or None
    fields["service_types"] = sorted(set(fields["service_types"]), key=SERVICE_TYPES.index)
    problems = legal_id_problems(
        country=fields["country"],
        credit_code=fields["credit_code"],
        registration_number=fields["registration_number"],
    )
    if fields["website"] and not fields["domain"]:
        try:
            fields["domain"] = (urlsplit(fields["website"]).hostname or "").lower() or None
        except ValueError:  # "https://[::1/x": an unclosed IPv6 bracket
            problems.append(("website", "is not a valid URL"))
    if contacts is not None:
        problems += _contact_problems(contacts)
    owner = fields["owner_id"]
    if owner is not None and not await repo.is_active_risk_owner(conn, owner):
        problems.append(("owner_id", "must be an enabled user with the risk_owner role"))
    if problems:
        raise invalid(problems)
    return fields


async def _refuse_duplicate(
    conn: asyncpg.Connection, fields: dict[str, Any], exclude: UUID | None = None
) -> None:
    existing = await repo.find_by_legal_id(
        conn, fields["credit_code"], fields["country"], fields["registration_number"], exclude
    )
    if existing is not None:
        existing_id, name, field = existing
        raise Problem(
            409,
            "duplicate-partner",
            f"{field}: partner {name!r} ({existing_id}) already has this legal id",
            existing_partner_id=str(existing_id),
            existing_partner_name=name,
            errors=[{"field": field, "message": f"already used by partner {existing_id}"}],
        )


async def create_partner(
    conn: asyncpg.Connection, actor: Actor, data: PartnerCreate, settings: Settings
) -> Partner:
    """Register a partner (status ``proposed``) with its contacts; audited.

    A legal id that a former partner held (offboarded, perhaps after an incident) is a 409
    ``partner-history`` naming those partners, unless ``confirm_history`` says the user
    saw them; the audit event then records which history was acknowledged."""
    fields = msgspec.structs.asdict(data)
    contacts = fields.pop("contacts")
    fields.pop("confirm_history")
    async with conn.transaction():
        fields = await _validated_fields(conn, fields, contacts)
        await _refuse_duplicate(conn, fields)
        history = await repo.legal_id_history(
            conn, fields["credit_code"], fields["country"], fields["registration_number"]
        )
        if history and not data.confirm_history:
            raise Problem(
                409,
                "partner-history",
                f"this legal id was held by {len(history)} former partner(s): "
                + "; ".join(f"{h.name} ({h.id}), offboarded, {h.incidents} incident(s)" for h in history)
                + "; send confirm_history: true to register it again",
                history=msgspec.to_builtins(history),
                confirm="confirm_history",
            )
        tier = compute_tier(data.business_criticality, [], settings.policy.tiers)
        try:
            async with conn.transaction():
                partner_id = await repo.insert_partner(conn, fields, tier, actor.id)
        except asyncpg.UniqueViolationError:
            # Another request registered the same legal id between our check and insert.
            await _refuse_duplicate(conn, fields)
            raise
        await repo.replace_contacts(conn, partner_id, [_without_id(c) for c in contacts])
        partner = await load(conn, partner_id, settings)
        await audit.record(
            conn,
            actor=actor,
            action="partner.created",
            entity_type="partner",
            entity_id=partner_id,
            after={**msgspec.to_builtins(partner), "history_acknowledged": [h.id for h in history]}
            if history
            else partner,
        )
    return partner


def _without_id(contact: ContactIn) -> ContactIn:
    return msgspec.structs.replace(contact, id=None)


async def update_partner(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: PartnerUpdate,
    settings: Settings,
) -> Partner:
    """Change the fields sent; a stale ``version`` is a 409. Audited, tier recomputed."""
    async with conn.transaction():
        await lock(conn, partner_id)
        before = await load(conn, partner_id, settings)
        if before.version != data.version:
            raise stale_version("partner", data.version, before.version)
        if before.status == "offboarded":
            raise Problem(409, "partner-offboarded", "an offboarded partner is read-only")
        fields = {name: getattr(before, name) for name in repo.PARTNER_WRITABLE}
        changes = {
            name: value
            for name, value in msgspec.structs.asdict(data).items()
            if value is not msgspec.UNSET and name not in ("version", "contacts")
        }
        fields |= changes
        contacts = None if data.contacts is msgspec.UNSET else data.contacts
        if contacts is not None:
            unknown = {c.id for c in contacts if c.id is not None} - await repo.contact_ids(conn, partner_id)
            if unknown:
                raise invalid([("contacts", f"unknown contact id {sorted(map(str, unknown))[0]}")])
        fields = await _validated_fields(conn, fields, contacts)
        await _refuse_duplicate(conn, fields, exclude=partner_id)
        try:
            async with conn.transaction():
                await repo.update_partner(conn, partner_id, fields)
        except asyncpg.UniqueViolationError:
            await _refuse_duplicate(conn, fields, exclude=partner_id)
            raise
        if contacts is not None:
            await repo.replace_contacts(conn, partner_id, contacts)
        if fields["business_criticality"] != before.business_criticality:
            await recompute_tier(
                conn, actor, partner_id, reason="business criticality changed", policy=settings.policy.tiers
            )
        after = await load(conn, partner_id, settings)
        await audit.record(
            conn,
            actor=actor,
            action="partner.updated",
            entity_type="partner",
            entity_id=partner_id,
            before=before,
            after=after,
        )
    return after


# --- lifecycle ---------------------------------------------------------------------------


async def lifecycle_facts(
    conn: asyncpg.Connection, partner: Partner, today: date, settings: Settings
) -> LifecycleFacts:
    """Everything the lifecycle gates need about a partner."""
    facts = await repo.partner_facts(conn, partner.id)
    return LifecycleFacts(
        partner_id=partner.id,
        status=partner.status,
        tier=partner.tier,
        has_owner=facts.has_owner,
        has_primary_contact=facts.has_primary_contact,
        agreements=tuple(
            await agreements_repo.agreement_facts(conn, partner.id, today, settings.agreement_expiring_days)
        ),
        scopes=tuple(await scopes_repo.scope_facts(conn, partner.id)),
        unaccepted_critical_findings=tuple(facts.unaccepted_critical_findings),
        onboarding_assessment_approved_on=facts.onboarding_assessment_approved_on,
        offboarding_attestation_approved_on=facts.offboarding_attestation_approved_on,
        ever_shared_data=facts.ever_shared_data,
        required_certificates=settings.policy.certificates.activation.get(partner.tier, ()),
        valid_certificates=await valid_certificate_kinds(conn, partner.id, today),
        today=today,
    )


async def transition(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: Transition,
    settings: Settings,
) -> TransitionResult:
    """Move the partner through its lifecycle, or 409 listing every unmet condition.

    Moving to ``offboarding`` revokes every live scope, cancels the partner's other open
    assessments (and their waiting reminders) and sends the offboarding attestation to the
    primary contact, all in the same transaction; ``offboarded`` then needs it approved.
    Activating a partner a two-person rule covers (the policy's ``approvals``) records the
    first approval and raises ``SecondApprovalRequired`` (202) after the commit; the second
    risk owner's activation completes it. Conditions become findings once the move is made.
    """
    async with conn.transaction():
        await lock(conn, partner_id)
        before = await load(conn, partner_id, settings)
        if data.version is not None and data.version != before.version:
            raise stale_version("partner", data.version, before.version)
        facts = await lifecycle_facts(conn, before, today_utc(), settings)
        unmet = transition_gate(facts, data.to, cadence=settings.policy.cadence_months)
        if unmet:
            raise gate_refused(f"move the partner to {data.to}", unmet)
        outcome = Outcome()
        if data.to == "active":
            outcome = await second_approval(
                conn,
                actor,
                approval_rule(settings.policy.approvals, "partner_activation", tier=before.tier),
                entity_id=partner_id,
                partner_id=partner_id,
                requested_by=await repo.created_by(conn, partner_id),
                payload={"reason": data.reason, "conditions": data.conditions},
                settings=settings,
            )
        if outcome.pending is None:
            after, revoked, cancelled, attestation = await _move(conn, actor, before, data, settings)
            await raise_conditions(conn, actor, partner_id, outcome.conditions(data.conditions), today_utc())
    if outcome.pending is not None:
        raise SecondApprovalRequired(outcome.pending)
    return TransitionResult(
        partner=after,
        revoked_scope_ids=revoked,
        cancelled_assessment_ids=cancelled,
        offboarding_assessment_id=attestation,
    )


async def offboarding_progress(conn: asyncpg.Connection, partner_id: UUID) -> OffboardingProgress | None:
    """How far the partner's offboarding has come (one query): its live scopes, its other
    open assessments, the latest offboarding attestation with its status; None while the
    partner is not offboarding and no attestation was ever sent."""
    row = await conn.fetchrow(
        """
        SELECT p.id AS partner_id, p.status, p.ever_shared_data AS attestation_required,
               EXISTS (SELECT 1 FROM partner_contacts c
                       WHERE c.partner_id = p.id AND c.is_primary) AS has_primary_contact,
               (SELECT count(*) FROM scopes s WHERE s.partner_id = p.id
                  AND s.status IN ('requested', 'approved', 'suspended')) AS live_scopes,
               (SELECT count(*) FROM assessments a WHERE a.partner_id = p.id AND a.kind <> 'offboarding'
                  AND a.status IN ('sent', 'in_progress', 'changes_requested')) AS open_assessments,
               (SELECT jsonb_build_object(
                         'id', a.id, 'status', a.status, 'recipient_name', a.recipient_name,
                         'recipient_email', a.recipient_email, 'sent_at', a.sent_at, 'due_on', a.due_on,
                         'submitted_at', a.submitted_at, 'reviewed_at', a.reviewed_at,
                         'overdue', a.status IN ('sent', 'in_progress', 'changes_requested')
                                    AND a.due_on < (now() AT TIME ZONE 'UTC')::date)
                FROM assessments a WHERE a.partner_id = p.id AND a.kind = 'offboarding'
                ORDER BY a.sent_at DESC, a.id DESC LIMIT 1) AS attestation
        FROM partners p WHERE p.id = $1
        """,
        partner_id,
    )
    if row is None:
        raise not_found("partner", partner_id)
    if row["status"] not in ("offboarding", "offboarded") and row["attestation"] is None:
        return None
    progress = msgspec.convert(dict(row), OffboardingProgress, strict=False)
    approved = progress.attestation is not None and progress.attestation.status == "approved"
    return msgspec.structs.replace(
        progress,
        ready=progress.live_scopes == 0 and (approved or not progress.attestation_required),
    )


async def _move(
    conn: asyncpg.Connection, actor: Actor, before: Partner, data: Transition, settings: Settings
) -> tuple[Partner, list[UUID], list[UUID], UUID | None]:
    """Apply a transition whose gate passed: when offboarding, revoke scopes, cancel the other
    open assessments and send the attestation; set the status, audit and announce it."""
    partner_id = before.id
    revoked: list[UUID] = []
    cancelled: list[UUID] = []
    attestation: UUID | None = None
    if data.to == "offboarding":
        why = f"partner offboarding: {data.reason}"
        now = datetime.now(UTC)
        revoked = await revoke_all_scopes(conn, actor, partner_id, reason=why, policy=settings.policy)
        cancelled = await assessments_service.cancel_partner_assessments(
            conn, actor, partner_id, why, now=now
        )
        attestation = await assessments_service.send_offboarding_attestation(
            conn, actor, partner_id, settings, now=now, reason=why
        )
    await repo.set_status(conn, partner_id, data.to, data.reason)
    after = await load(conn, partner_id, settings)
    await audit.record(
        conn,
        actor=actor,
        action="partner.status_changed",
        entity_type="partner",
        entity_id=partner_id,
        before=before,
        after=after,
    )
    await emit_event(
        conn,
        "partner.status_changed",
        {
            "partner_id": partner_id,
            "from": before.status,
            "to": data.to,
            "reason": data.reason,
        },
    )
    return after, revoked, cancelled, attestation


# The first items of each dashboard list; the counts cover all of them.
DASHBOARD_ITEMS = 10


async def dashboard(conn: asyncpg.Connection, settings: Settings) -> Dashboard:
    """Partners by status and tier, agreements expiring and expired (not renewed), scopes
    awaiting approval and partners needing attention, with the first items of each list:
    one database round trip. The API's dashboard and the staff pages both show this."""
    row = await repo.dashboard(conn, today_utc(), settings.agreement_expiring_days, DASHBOARD_ITEMS)
    cells = msgspec.convert(row["partners"], list[StatusTierCount])
    by_status = dict.fromkeys(PARTNER_TRANSITIONS, 0)
    by_tier = dict.fromkeys(TIERS, 0)
    for cell in cells:
        by_status[cell.status] += cell.count
        by_tier[cell.tier] += cell.count
    return Dashboard(
        partners_total=sum(by_status.values()),
        partners_by_status=by_status,
        partners_by_tier=by_tier,
        partners_by_status_and_tier=sorted(
            cells, key=lambda c: (list(by_status).index(c.status), TIERS.index(c.tier))
        ),
        agreements_expiring_count=row["expiring_count"],
        agreements_expiring=msgspec.convert(row["expiring"], list[AgreementDue]),
        agreements_expired_count=row["expired_count"],
        agreements_expired=msgspec.convert(row["expired"], list[AgreementDue]),
        scopes_awaiting_approval_count=row["awaiting_count"],
        scopes_awaiting_approval=msgspec.convert(row["awaiting"], list[ScopeAwaiting]),
        partners_needing_attention_count=row["attention_count"],
        partners_needing_attention=msgspec.convert(row["attention"], list[PartnerAttention]),
        expiring_within_days=settings.agreement_expiring_days,
    )
