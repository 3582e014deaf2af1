"""Data categories, data-sharing scopes, sub-processors and impact assessments.

A scope is the permission for one partner to receive one category of client data for one
purpose; the approval gate (PIPL art. 21, 55) lives in ``partners.rules``. Each change to a
scope recomputes the partner's tier in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.agreements import repository as agreements_repo
from vendor_risk.approvals.service import SecondApprovalRequired, raise_conditions, second_approval
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, gate_refused, not_found, stale_version
from vendor_risk.notify.outbox import emit_event
from vendor_risk.partners import repository as partners_repo
from vendor_risk.partners.records import invalid, lock, recompute_tier, today_utc
from vendor_risk.partners.rules import (
    SCOPE_TRANSITIONS,
    PartnerStatus,
    ScopeApprovalFacts,
    ScopeFact,
    ScopeStatus,
    Unmet,
    add_months,
    period_problem,
    scope_approval_gate,
)
from vendor_risk.policy import DEFAULT_POLICY, Policy, approval_rule
from vendor_risk.scopes import repository as repo
from vendor_risk.scopes.models import (
    DataCategory,
    DataCategoryCreate,
    DataCategoryUpdate,
    ImpactAssessment,
    ImpactAssessmentCreate,
    Scope,
    ScopeApproval,
    ScopeCreate,
    ScopeWithdrawal,
    SubProcessor,
    SubProcessorCreate,
    SubProcessorDecision,
    UnlistedClientsUpdate,
)
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

# Gate codes meaning "no agreement backs this scope any more".
COVERAGE_CODES = frozenset({"agreement_missing", "dpa_missing", "dpa_clauses_missing"})
CLOSED_PARTNER_STATUSES = frozenset({"offboarding", "offboarded"})


# --- data categories ---------------------------------------------------------------------


async def create_category(conn: asyncpg.Connection, actor: Actor, data: DataCategoryCreate) -> DataCategory:
    """Add a data category (admin); its code is unique."""
    description = data.description or I18nText(zh_cn="", en="")
    async with conn.transaction():
        try:
            async with conn.transaction():
                category = await repo.insert_category(
                    conn, data.code, data.name, description, data.sensitivity
                )
        except asyncpg.UniqueViolationError:
            raise Problem(
                409,
                "duplicate-category",
                f"code: a category with code {data.code!r} already exists",
                errors=[{"field": "code", "message": "already used"}],
            ) from None
        await audit.record(
            conn,
            actor=actor,
            action="data_category.created",
            entity_type="data_category",
            entity_id=category.id,
            after=category,
        )
    return category


async def update_category(
    conn: asyncpg.Connection, actor: Actor, category_id: UUID, data: DataCategoryUpdate
) -> DataCategory:
    """Rename or redescribe a category; its sensitivity changes only while it is unused,
    since tiers and approvals already given were based on it."""
    async with conn.transaction():
        before = await repo.get_category(conn, category_id, for_update=True)
        if before is None:
            raise not_found("data category", category_id)
        if before.version != data.version:
            raise stale_version("data category", data.version, before.version)
        sensitivity = before.sensitivity if data.sensitivity is msgspec.UNSET else data.sensitivity
        if sensitivity != before.sensitivity and await repo.category_in_use(conn, category_id):
            raise Problem(
                409,
                "category-in-use",
                "sensitivity: the category is used by scopes or agreements; add a new category instead",
                errors=[{"field": "sensitivity", "message": "cannot change while in use"}],
            )
        after = await repo.update_category(
            conn,
            category_id,
            before.name if data.name is msgspec.UNSET else data.name,
            before.description if data.description is msgspec.UNSET else data.description,
            sensitivity,
        )
        await audit.record(
            conn,
            actor=actor,
            action="data_category.updated",
            entity_type="data_category",
            entity_id=category_id,
            before=before,
            after=after,
        )
    return after


async def delete_category(conn: asyncpg.Connection, actor: Actor, category_id: UUID) -> None:
    """Delete an unused category; one used by a scope or an agreement is a 409."""
    async with conn.transaction():
        before = await repo.get_category(conn, category_id, for_update=True)
        if before is None:
            raise not_found("data category", category_id)
        if await repo.category_in_use(conn, category_id):
            raise Problem(
                409,
                "category-in-use",
                f"category {before.code!r} is used by scopes or agreements and cannot be deleted",
            )
        await repo.delete_category(conn, category_id)
        await audit.record(
            conn,
            actor=actor,
            action="data_category.deleted",
            entity_type="data_category",
            entity_id=category_id,
            before=before,
        )


# --- sub-processors ----------------------------------------------------------------------


async def create_sub_processor(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, data: SubProcessorCreate
) -> SubProcessor:
    """Record one of the partner's own processors (pending until a risk owner decides)."""
    async with conn.transaction():
        status = await lock(conn, partner_id)
        _refuse_closed_partner(status)
        created = await repo.insert_sub_processor(
            conn, partner_id, data.name, data.country, data.receives, actor.id
        )
        await audit.record(
            conn,
            actor=actor,
            action="sub_processor.created",
            entity_type="sub_processor",
            entity_id=created.id,
            after=created,
        )
    return created


async def decide_sub_processor(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    sub_processor_id: UUID,
    data: SubProcessorDecision,
    *,
    approve: bool,
) -> SubProcessor:
    """Consent to (or refuse) a sub-entrustment (PIPL art. 21)."""
    async with conn.transaction():
        await lock(conn, partner_id)
        before = await repo.get_sub_processor(conn, partner_id, sub_processor_id, for_update=True)
        if before is None:
            raise not_found("sub-processor", sub_processor_id)
        if data.version is not None and data.version != before.version:
            raise stale_version("sub-processor", data.version, before.version)
        status = "approved" if approve else "rejected"
        after = await repo.decide_sub_processor(conn, sub_processor_id, status, data.note, actor.id)
        await audit.record(
            conn,
            actor=actor,
            action=f"sub_processor.{status}",
            entity_type="sub_processor",
            entity_id=sub_processor_id,
            before=before,
            after=after,
        )
    return after


# --- scopes ------------------------------------------------------------------------------


def _refuse_closed_partner(status: str) -> None:
    if status in CLOSED_PARTNER_STATUSES:
        raise Problem(409, "partner-closed", f"the partner is {status}: nothing new can be added")


async def load_scope(conn: asyncpg.Connection, partner_id: UUID, scope_id: UUID) -> Scope:
    scope = await repo.get_scope(conn, partner_id, scope_id)
    if scope is None:
        raise not_found("scope", scope_id)
    return scope


async def request_scope(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: ScopeCreate,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Scope:
    """Request a data-sharing scope; the partner's tier is recomputed with it."""
    async with conn.transaction():
        status = await lock(conn, partner_id)
        _refuse_closed_partner(status)
        problems: list[tuple[str, str]] = []
        if not await repo.existing_category_ids(conn, [data.category_id]):
            problems.append(("category_id", f"unknown data category {data.category_id}"))
        if reason := period_problem(data.starts_on, data.ends_on):
            problems.append(("ends_on", f"{reason} (starts_on)"))
        if len(set(data.processing_methods)) != len(data.processing_methods):
            problems.append(("processing_methods", "each method once"))
        wanted = set(data.sub_processor_ids)
        unknown = wanted - await repo.partner_sub_processor_ids(conn, partner_id, list(wanted))
        if unknown:
            problems.append(
                ("sub_processor_ids", f"not a sub-processor of this partner: {min(map(str, unknown))}")
            )
        if problems:
            raise invalid(problems)
        fields = msgspec.structs.asdict(data)
        scope_id = await repo.insert_scope(conn, partner_id, fields, actor.id)
        await repo.add_scope_sub_processors(conn, scope_id, sorted(wanted))
        scope = await load_scope(conn, partner_id, scope_id)
        await audit.record(
            conn,
            actor=actor,
            action="scope.requested",
            entity_type="scope",
            entity_id=scope_id,
            after=scope,
        )
        await recompute_tier(
            conn, actor, partner_id, reason=f"scope requested for {_label(scope)}", policy=policy.tiers
        )
    return scope


def _label(scope: Scope) -> str:
    return scope.category.name.en


async def approval_facts(
    conn: asyncpg.Connection,
    partner_id: UUID,
    partner_status: str,
    scope_id: UUID,
    today: date,
    settings: Settings,
) -> ScopeApprovalFacts:
    """What the approval gate needs about one scope, read from the database."""
    partner = await partners_repo.partner_facts(conn, partner_id)
    [scope] = await repo.scope_facts(conn, partner_id, scope_id)
    agreements = await agreements_repo.agreement_facts(
        conn, partner_id, today, settings.agreement_expiring_days
    )
    return ScopeApprovalFacts(
        scope=scope,
        partner_id=partner_id,
        partner_status=msgspec.convert(partner_status, PartnerStatus),
        partner_country=partner.country,
        agreements=tuple(agreements),
        impact_assessments=tuple(await repo.impact_assessment_facts(conn, scope_id)),
        sub_processors=tuple(await repo.scope_sub_processor_facts(conn, scope_id)),
        approved_assessment_score=partner.approved_assessment_score,
        today=today,
    )


async def approval_previews(
    conn: asyncpg.Connection,
    partner_id: UUID,
    partner_status: str,
    scopes: Sequence[ScopeFact],
    today: date,
    settings: Settings,
) -> dict[UUID, list[Unmet]]:
    """What the approval gate would say now about each scope awaiting approval, so a page
    shows the reasons before the button is pressed: a fixed four queries however many
    scopes the partner has (``approval_facts`` asks per scope)."""
    pending = [s for s in scopes if s.status in ("requested", "suspended")]
    if not pending:
        return {}
    ids = [s.id for s in pending]
    partner = await partners_repo.partner_facts(conn, partner_id)
    agreements = tuple(
        await agreements_repo.agreement_facts(conn, partner_id, today, settings.agreement_expiring_days)
    )
    impact = await repo.impact_assessment_facts_by_scope(conn, ids)
    subs = await repo.sub_processor_facts_by_scope(conn, ids)
    status = msgspec.convert(partner_status, PartnerStatus)
    return {
        scope.id: scope_approval_gate(
            ScopeApprovalFacts(
                scope=scope,
                partner_id=partner_id,
                partner_status=status,
                partner_country=partner.country,
                agreements=agreements,
                impact_assessments=tuple(impact.get(scope.id, ())),
                sub_processors=tuple(subs.get(scope.id, ())),
                approved_assessment_score=partner.approved_assessment_score,
                today=today,
            )
        )
        for scope in pending
    }


async def approve_scope(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    scope_id: UUID,
    data: ScopeApproval,
    settings: Settings,
) -> Scope:
    """Approve a requested (or reinstate a suspended) scope, or 409 listing every unmet
    condition of the approval gate.

    A scope a two-person rule covers (by default: sensitive personal data) is approved by
    two distinct risk owners: the first approval raises ``SecondApprovalRequired`` (202)
    after recording the pending decision, the second approves it. Conditions become
    findings of the partner."""
    async with conn.transaction():
        partner_status = await lock(conn, partner_id)
        before = await _locked_scope(conn, partner_id, scope_id, data.version)
        facts = await approval_facts(conn, partner_id, partner_status, scope_id, today_utc(), settings)
        unmet = scope_approval_gate(facts, policy=settings.policy.scope_approval)
        if unmet:
            raise gate_refused(f"approve the scope for {_label(before)}", unmet)
        sensitivity = before.category.sensitivity
        rule = approval_rule(settings.policy.approvals, "scope_approval", sensitivity=sensitivity)
        outcome = await second_approval(
            conn,
            actor,
            rule,
            entity_id=scope_id,
            partner_id=partner_id,
            requested_by=await repo.requested_by(conn, scope_id),
            payload={"note": data.note, "conditions": data.conditions},
            settings=settings,
        )
        if outcome.pending is None:
            await repo.set_scope_status(conn, scope_id, "approved", data.note, actor.id)
            await partners_repo.mark_shared_data(conn, partner_id)
            after = await _record_status_change(conn, actor, partner_id, before, "approved", data.note)
            reason = f"scope approved for {_label(after)}"
            await recompute_tier(conn, actor, partner_id, reason=reason, policy=settings.policy.tiers)
            await raise_conditions(conn, actor, partner_id, outcome.conditions(data.conditions), today_utc())
    if outcome.pending is not None:
        raise SecondApprovalRequired(outcome.pending)
    return after


async def withdraw_scope(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    scope_id: UUID,
    data: ScopeWithdrawal,
    to: ScopeStatus,
    *,
    policy: Policy = DEFAULT_POLICY,
    may_end_live: bool = True,
) -> Scope:
    """Suspend or revoke one scope with a reason. Without ``may_end_live`` only a scope
    still ``requested`` may be revoked (withdrawn): a 403 naming the rule otherwise."""
    async with conn.transaction():
        await lock(conn, partner_id)
        before = await _locked_scope(conn, partner_id, scope_id, data.version)
        if not may_end_live and before.status != "requested":
            raise Problem(
                403,
                "scope-revoke-needs-risk-owner",
                f"only a risk owner may revoke a {before.status} scope; "
                "procurement may withdraw a requested one",
                rule="scope-revoke-needs-risk-owner",
                current_status=before.status,
            )
        after = await _change_status(conn, actor, partner_id, before, to, data.reason)
        await recompute_tier(
            conn, actor, partner_id, reason=f"scope {to} for {_label(after)}", policy=policy.tiers
        )
    return after


async def set_unlisted_clients(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, scope_id: UUID, data: UnlistedClientsUpdate
) -> Scope:
    """Set about how many clients' data the scope carries beyond those listed by name (a
    stale ``version`` is a 409); audited ``scope.unlisted_clients_set``."""
    async with conn.transaction():
        before = await _locked_scope(conn, partner_id, scope_id, data.version)
        await repo.set_unlisted_clients(conn, scope_id, data.unlisted_clients_approx)
        after = await load_scope(conn, partner_id, scope_id)
        await audit.record(
            conn,
            actor=actor,
            action="scope.unlisted_clients_set",
            entity_type="scope",
            entity_id=scope_id,
            before={"unlisted_clients_approx": before.unlisted_clients_approx},
            after={"unlisted_clients_approx": after.unlisted_clients_approx},
        )
    return after


async def _locked_scope(
    conn: asyncpg.Connection, partner_id: UUID, scope_id: UUID, version: int | None
) -> Scope:
    scope = await repo.get_scope(conn, partner_id, scope_id, for_update=True)
    if scope is None:
        raise not_found("scope", scope_id)
    if version is not None and version != scope.version:
        raise stale_version("scope", version, scope.version)
    return scope


async def _change_status(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    before: Scope,
    to: ScopeStatus,
    reason: str,
) -> Scope:
    if to not in SCOPE_TRANSITIONS[before.status]:
        raise Problem(
            409,
            "illegal-transition",
            f"a {before.status} scope cannot become {to}",
            current_status=before.status,
        )
    await repo.set_scope_status(conn, before.id, to, reason, actor.id)
    return await _record_status_change(conn, actor, partner_id, before, to, reason)


async def _record_status_change(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    before: Scope,
    to: ScopeStatus,
    reason: str | None,
) -> Scope:
    after = await load_scope(conn, partner_id, before.id)
    await audit.record(
        conn,
        actor=actor,
        action=f"scope.{to}",
        entity_type="scope",
        entity_id=before.id,
        before=before,
        after=after,
    )
    await emit_event(
        conn,
        f"scope.{to}",
        {
            "scope_id": before.id,
            "partner_id": partner_id,
            "category": after.category.code,
            "from": before.status,
            "to": to,
            "reason": reason,
        },
    )
    return after


async def revoke_all_scopes(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, *, reason: str, policy: Policy = DEFAULT_POLICY
) -> list[UUID]:
    """Revoke every live scope of a partner (offboarding), inside the caller's
    transaction; the tier is recomputed once at the end."""
    revoked = []
    for scope_id in await repo.live_scope_ids(conn, partner_id):
        before = await load_scope(conn, partner_id, scope_id)
        await _change_status(conn, actor, partner_id, before, "revoked", reason)
        revoked.append(scope_id)
    if revoked:
        await recompute_tier(conn, actor, partner_id, reason="all scopes revoked", policy=policy.tiers)
    return revoked


async def suspend_uncovered_scopes(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    settings: Settings,
    *,
    reason: str,
    today: date | None = None,
) -> list[UUID]:
    """Suspend every approved scope of the partner that no agreement in force backs any
    more (an agreement terminated, expired or narrowed), inside the caller's transaction
    with the partner locked. Returns the suspended scope ids."""
    day = today or today_utc()
    partner_status = await partners_repo.status_of(conn, partner_id) or ""
    suspended = []
    for scope_id in await repo.approved_scope_ids(conn, partner_id):
        facts = await approval_facts(conn, partner_id, partner_status, scope_id, day, settings)
        # Asking the approval gate about an approved scope: only coverage matters here.
        lost = [
            u
            for u in scope_approval_gate(facts, policy=settings.policy.scope_approval)
            if u.code in COVERAGE_CODES
        ]
        if lost:
            before = await load_scope(conn, partner_id, scope_id)
            detail = "; ".join(u.message for u in lost)
            await _change_status(conn, actor, partner_id, before, "suspended", f"{reason}: {detail}")
            suspended.append(scope_id)
    return suspended


# --- impact assessments ------------------------------------------------------------------

RETENTION_MONTHS = 36  # PIPL art. 56: at least three years.


async def record_impact_assessment(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: ImpactAssessmentCreate,
) -> ImpactAssessment:
    """Record a personal information protection impact assessment (PIPL art. 55) for some
    of the partner's scopes. It is immutable and kept at least three years."""
    async with conn.transaction():
        await lock(conn, partner_id)
        problems: list[tuple[str, str]] = []
        wanted = set(data.scope_ids)
        unknown = wanted - await repo.partner_scope_ids(conn, partner_id, list(wanted))
        if unknown:
            problems.append(("scope_ids", f"not a scope of this partner: {min(map(str, unknown))}"))
        if data.assessed_on > today_utc():
            problems.append(("assessed_on", "must not be in the future"))
        if problems:
            raise invalid(problems)
        fields = msgspec.structs.asdict(data)
        fields["scope_ids"] = sorted(wanted)
        fields["retain_until"] = add_months(data.assessed_on, RETENTION_MONTHS)
        created = await repo.insert_impact_assessment(conn, partner_id, fields, actor.id)
        await audit.record(
            conn,
            actor=actor,
            action="impact_assessment.recorded",
            entity_type="impact_assessment",
            entity_id=created.id,
            after=created,
        )
    return created
