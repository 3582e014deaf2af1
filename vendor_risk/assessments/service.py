"""Assessments: sending by link, the portal's saves and submission, review, and what the
worker runs (periodic sends, reminders, expiry).

Every change locks the assessment row first (``SELECT … FOR UPDATE``), so concurrent
saves from several tabs are serialised and each sees the one before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit, documents
from vendor_risk.assessments import emails
from vendor_risk.assessments import repository as repo
from vendor_risk.assessments.models import (
    EDITABLE_STATUSES,
    SUBMITTED_STATUSES,
    Assessment,
    AssessmentCreate,
    AssessmentDetail,
    AssessmentDiff,
    AssessmentKind,
    AssessmentStatus,
    Cancel,
    CombinedScore,
    Decision,
    Evidence,
    MissingItem,
    PartAnswers,
    Rating,
    Recipient,
    Resend,
    ReviewCreate,
    SentAssessment,
)
from vendor_risk.assessments.rules import (
    PartState,
    RaisedFinding,
    ReceiptEvidence,
    ReceiptPart,
    combine_scores,
    default_due_on,
    default_questionnaires,
    diff_answers,
    link_expiry,
    merge_section,
    missing_items,
    prefill,
    rate,
    receipt_hash,
    reminder_due,
    score_changes,
    validate_section,
)
from vendor_risk.assessments.tokens import generate_token, hash_token, looks_like_token
from vendor_risk.audit.models import SYSTEM, Actor
from vendor_risk.audit.service import append_args
from vendor_risk.errors import Problem, field_error, not_found, stale_version
from vendor_risk.findings import repository as findings_repo
from vendor_risk.findings import service as findings_service
from vendor_risk.findings.models import Finding
from vendor_risk.notify.outbox import Email, emit_event, emit_events, enqueue_email, enqueue_emails
from vendor_risk.partners import rating
from vendor_risk.policy import DEFAULT_POLICY, Policy, RatingPolicy, ServiceType, Tier
from vendor_risk.questionnaires import repository as templates_repo
from vendor_risk.questionnaires.models import Answer, Template
from vendor_risk.questionnaires.scoring import score, visibility
from vendor_risk.settings import Settings

DECIDED: dict[Decision, AssessmentStatus] = {
    "approve": "approved",
    "reject": "rejected",
    "request_changes": "changes_requested",
}
# Stands for the token in a previewed invitation: a token exists only once it is sent.
PREVIEW_TOKEN = "…"  # noqa: S105 - a placeholder, not a secret
# Touching a link's last_used_at on every request would write on every page view.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def portal_actor(state: repo.AssessmentState) -> Actor:
    """The partner acting through a link: named by the address the link was sent to."""
    return Actor(id=None, label=f"{state.recipient_email} ({state.partner_name}, portal link)")


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/q/{token}"


def staff_url(settings: Settings, path: str) -> str:
    """A staff page's address for an email: the console under ``/ui``, never the JSON API
    (a click on an API address in a mail client is a 401)."""
    return f"{settings.public_url}/ui{path}"


async def _state(conn: asyncpg.Connection, assessment_id: UUID, *, for_update: bool) -> repo.AssessmentState:
    state = await repo.get_state(conn, assessment_id, for_update=for_update)
    if state is None:
        raise not_found("assessment", assessment_id)
    return state


async def load(conn: asyncpg.Connection, assessment_id: UUID, today: date) -> Assessment:
    found = await repo.get_assessment(conn, assessment_id, today)
    if found is None:
        raise not_found("assessment", assessment_id)
    return found


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()


async def _refuse_during_containment(conn: asyncpg.Connection, partner_id: UUID) -> None:
    """No new link while an incident's containment stands: the links died because the
    partner's mailbox may be in someone else's hands, and a new one would go there too."""
    found = await repo.containing_incident(conn, partner_id)
    if found is not None:
        incident_id, title = found
        raise Problem(
            409,
            "incident-containment",
            f"incident {incident_id} ({title}) revoked this partner's portal links and is still open: "
            "no link can be issued until it is closed",
            incident_id=str(incident_id),
        )


# --- sending ----------------------------------------------------------------------------------


class _Partner(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    status: str
    tier: Tier
    service_types: list[ServiceType]


async def _lock_partner(conn: asyncpg.Connection, partner_id: UUID) -> _Partner:
    row = await conn.fetchrow(
        "SELECT id, name, status, tier, service_types FROM partners WHERE id = $1 FOR UPDATE", partner_id
    )
    if row is None:
        raise not_found("partner", partner_id)
    return msgspec.convert(dict(row), _Partner)


async def _recipient(
    conn: asyncpg.Connection, partner_id: UUID, recipient: Recipient | None
) -> tuple[UUID | None, str, str, str]:
    """(contact id, email, name, locale) of whom to send to; the primary contact by default."""
    if recipient is not None and recipient.email is not None and recipient.contact_id is None:
        if not recipient.name:
            raise field_error("recipient.name", "give the name of the person the email is for")
        return None, recipient.email, recipient.name, recipient.locale or "zh-CN"
    row = await conn.fetchrow(
        """
        SELECT id, email, name, locale FROM partner_contacts
        WHERE partner_id = $1 AND ($2::uuid IS NULL AND is_primary OR id = $2)
        ORDER BY position, created_at LIMIT 1
        """,
        partner_id,
        recipient.contact_id if recipient else None,
    )
    if row is None:
        if recipient is not None and recipient.contact_id is not None:
            raise field_error("recipient.contact_id", "not a contact of this partner")
        raise field_error("recipient", "the partner has no primary contact: name a contact or an email")
    locale = recipient.locale if recipient is not None and recipient.locale else row["locale"]
    return row["id"], row["email"], row["name"], locale


async def _templates(conn: asyncpg.Connection, keys: Sequence[str]) -> list[tuple[UUID, Template]]:
    found: list[tuple[UUID, Template]] = []
    for index, key in enumerate(dict.fromkeys(keys)):
        stored = await templates_repo.get_version(conn, key)
        if stored is None:
            raise field_error(f"questionnaires[{index}]", f"no questionnaire {key!r} is loaded")
        found.append((stored.id, stored.content))
    return found


class _PartnerFit(Protocol):
    @property
    def tier(self) -> Tier: ...
    @property
    def service_types(self) -> Sequence[ServiceType]: ...


async def preselected_questionnaires(
    conn: asyncpg.Connection,
    partner: _PartnerFit,
    policy: Policy,
    kind: AssessmentKind = "onboarding",
) -> list[str]:
    """The questionnaire keys the send form pre-selects and the API sends when none is
    named: the policy's mapping for the partner's tier and service types, keeping the
    loaded questionnaires that have at least one section fitting the partner."""
    keys = default_questionnaires(partner.tier, kind, partner.service_types, policy.questionnaires)
    chosen: list[str] = []
    for key in keys:
        stored = await templates_repo.get_version(conn, key)
        if stored is None:
            continue
        if kind == "offboarding" or stored.content.sections_for(partner.service_types):
            chosen.append(key)
    return chosen


async def _sender(conn: asyncpg.Connection, actor: Actor, owner_id: UUID | None) -> tuple[str, str]:
    """(name, email) partners are told to contact: the sender, else the partner's owner."""
    for user_id in (actor.id, owner_id):
        contact = await repo.user_contact(conn, user_id)
        if contact is not None:
            return contact[0], contact[1]
    return actor.label, ""


async def _send(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: AssessmentCreate,
    settings: Settings,
    now: datetime,
) -> SentAssessment | UUID:
    """Send inside the caller's transaction; the open assessment's id when one exists."""
    today = _today(now)
    partner = await _lock_partner(conn, partner_id)
    if partner.status == "offboarded":
        raise Problem(409, "partner-offboarded", "an offboarded partner receives no assessments")
    due_on = data.due_on or default_due_on(today, settings.policy.assessments)
    if due_on < today:
        raise field_error("due_on", "must not be in the past")
    contact_id, email, name, locale = await _recipient(conn, partner_id, data.recipient)
    keys = data.questionnaires or await preselected_questionnaires(conn, partner, settings.policy, data.kind)
    if not keys:
        raise field_error("questionnaires", "the policy selects no loaded questionnaire for this partner")
    templates = await _templates(conn, keys)
    # Each questionnaire is sent with the sections that fit the partner's services.
    sections: list[list[str] | None] = []
    for index, (_, template) in enumerate(templates):
        fitting = None if data.kind == "offboarding" else template.sections_for(partner.service_types)
        if fitting is not None and not fitting:
            raise field_error(
                f"questionnaires[{index}]",
                f"no section of {template.key!r} fits the partner's service types",
            )
        sections.append(None if fitting is None or len(fitting) == len(template.sections) else fitting)
    keys = [t.key for _, t in templates]
    previous = await repo.previous_answers(conn, partner_id, keys)
    latest_previous = max(previous, key=lambda p: p.submitted_at, default=None)
    owner_id = await conn.fetchval("SELECT owner_id FROM partners WHERE id = $1", partner_id)
    assessment_id = await repo.insert_assessment(
        conn,
        {
            "partner_id": partner_id,
            "kind": data.kind,
            "recipient_contact_id": contact_id,
            "recipient_email": email,
            "recipient_name": name,
            "locale": locale,
            "message": data.message,
            "reason": data.reason,
            "due_on": due_on,
            "previous_assessment_id": latest_previous.assessment_id if latest_previous else None,
            "sent_by": actor.id,
            "sent_by_label": actor.label,
            "sent_at": now,
        },
    )
    if assessment_id is None:
        existing = await repo.open_assessment_of(conn, partner_id, data.kind == "offboarding")
        assert existing is not None  # noqa: S101 - the insert conflicted with it
        return existing
    # A reassessment starts from the partner's previous answers, to confirm or change.
    prefilling = data.kind in ("periodic", "triggered")
    by_key = {p.template_key: p.answers for p in previous}
    for position, (template_id, full) in enumerate(templates):
        template = full.only_sections(sections[position])
        answers, prefilled = (
            prefill(template, by_key[template.key])
            if prefilling and template.key in by_key
            else ({}, frozenset())
        )
        await repo.insert_part(
            conn,
            assessment_id,
            position,
            template_id,
            template.key,
            answers,
            sorted(prefilled),
            sections[position],
        )
    sent = await _issue_link(conn, actor, assessment_id, settings, now, owner_id=owner_id)
    await audit.record(
        conn,
        actor=actor,
        action="assessment.sent",
        entity_type="assessment",
        entity_id=assessment_id,
        after=sent.assessment,
    )
    await emit_event(
        conn,
        "assessment.sent",
        {
            "assessment_id": assessment_id,
            "partner_id": partner_id,
            "kind": data.kind,
            "questionnaires": [f"{t.key}@{t.version}" for _, t in templates],
            "due_on": due_on,
        },
        dedupe_key=f"assessment.sent:{assessment_id}",
    )
    return sent


async def _issue_link(
    conn: asyncpg.Connection,
    actor: Actor,
    assessment_id: UUID,
    settings: Settings,
    now: datetime,
    *,
    owner_id: UUID | None,
) -> SentAssessment:
    """A fresh token for the assessment, emailed to its recipient through the outbox."""
    state = await _state(conn, assessment_id, for_update=False)
    token = generate_token()
    expires_at = link_expiry(now, state.due_on, settings.portal_link_days, settings.policy.assessments)
    await repo.insert_link(conn, assessment_id, hash_token(token), expires_at)
    assessment = await load(conn, assessment_id, _today(now))
    sender_name, sender_email = await _sender(conn, actor, owner_id)
    message = await conn.fetchval("SELECT message FROM assessments WHERE id = $1", assessment_id)
    # A reassessment says so: the partner confirms its last answers rather than starts afresh.
    prefilled_from = await conn.fetchval(
        """
        SELECT p.submitted_at FROM assessments a JOIN assessments p ON p.id = a.previous_assessment_id
        WHERE a.id = $1 AND EXISTS (SELECT 1 FROM assessment_parts ap
                                    WHERE ap.assessment_id = a.id AND ap.prefilled_sections <> '{}')
        """,
        assessment_id,
    )
    email = emails.invitation(
        to=state.recipient_email,
        lang=state.locale,
        recipient_name=state.recipient_name,
        partner_name=state.partner_name,
        questionnaires=[q.title.get(state.locale) for q in assessment.questionnaires],
        due_on=state.due_on,
        message=message,
        link=link_url(settings, token),
        expires=expires_at,
        sender_name=sender_name,
        sender_email=sender_email,
        prefilled_from=prefilled_from,
    )
    await enqueue_email(conn, topic="assessment.invitation", email=email)
    return SentAssessment(assessment=assessment, link=link_url(settings, token), link_expires_at=expires_at)


async def preview_invitation(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: AssessmentCreate,
    settings: Settings,
    *,
    now: datetime,
) -> Email:
    """The invitation exactly as ``send_assessment`` would email it (recipient, language,
    questionnaires, due date, message, sender), refused for the same reasons, and with
    nothing written: no assessment, no link, no outbox row. The link is a placeholder,
    since a token exists only once it is sent."""
    today = _today(now)
    row = await conn.fetchrow("SELECT name, status, tier, owner_id FROM partners WHERE id = $1", partner_id)
    if row is None:
        raise not_found("partner", partner_id)
    if row["status"] == "offboarded":
        raise Problem(409, "partner-offboarded", "an offboarded partner receives no assessments")
    due_on = data.due_on or default_due_on(today)
    if due_on < today:
        raise field_error("due_on", "must not be in the past")
    _, email, name, locale = await _recipient(conn, partner_id, data.recipient)
    templates = await _templates(conn, data.questionnaires or default_questionnaires(row["tier"], data.kind))
    prefilled_from = None
    if data.kind in ("periodic", "triggered"):
        previous = await repo.previous_answers(conn, partner_id, [t.key for _, t in templates])
        prefilled_from = max((p.submitted_at for p in previous), default=None)
    sender_name, sender_email = await _sender(conn, actor, row["owner_id"])
    return emails.invitation(
        to=email,
        lang=locale,
        recipient_name=name,
        partner_name=row["name"],
        questionnaires=[t.title.get(locale) for _, t in templates],
        due_on=due_on,
        message=data.message,
        link=f"{settings.public_url}/q/{PREVIEW_TOKEN}",
        expires=link_expiry(now, due_on, settings.portal_link_days),
        sender_name=sender_name,
        sender_email=sender_email,
        prefilled_from=prefilled_from,
    )


async def send_assessment(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: AssessmentCreate,
    settings: Settings,
    *,
    now: datetime,
) -> SentAssessment:
    """Send questionnaires to a partner contact: the assessment, its parts (pre-filled for
    a reassessment), a link (token shown once, stored hashed) and the email through the
    outbox, in one transaction. A second open assessment of the same purpose is a 409."""
    async with conn.transaction():
        await _lock_partner(conn, partner_id)
        await _refuse_during_containment(conn, partner_id)
        sent = await _send(conn, actor, partner_id, data, settings, now)
        if isinstance(sent, UUID):
            raise Problem(
                409,
                "assessment-open",
                f"the partner already has an open assessment {sent}: resend or cancel it",
                open_assessment_id=str(sent),
            )
    return sent


async def send_due_assessment(
    conn: asyncpg.Connection,
    partner_id: UUID,
    kind: Literal["periodic", "triggered"],
    settings: Settings,
    *,
    now: datetime,
    reason: str | None = None,
    actor: Actor = SYSTEM,
    incident_id: UUID | None = None,
) -> SentAssessment | None:
    """For the worker's sweep: send the tier's default questionnaires to the primary
    contact. Idempotent: returns None (and changes nothing) when the partner already has
    an open assessment, so a sweep run twice or by two workers sends one. None too while
    an incident other than ``incident_id`` (the one sending) contains the partner."""
    async with conn.transaction():
        await _lock_partner(conn, partner_id)
        if await repo.containing_incident(conn, partner_id, exempt=incident_id) is not None:
            return None
        sent = await _send(conn, actor, partner_id, AssessmentCreate(kind=kind, reason=reason), settings, now)
        if isinstance(sent, UUID):
            return None
    return sent


class ReassessmentDue(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: UUID
    kind: Literal["periodic", "triggered"]
    reason: str


# Why a due reassessment cannot go out: shown to staff on the partner's page.
Blocked = Literal["no_primary_contact", "no_questionnaire", "no_fitting_section"]


class DueBatch(msgspec.Struct, kw_only=True):
    sent: list[UUID] = msgspec.field(default_factory=list)
    blocked: dict[UUID, Blocked] = msgspec.field(default_factory=dict)


class TemplateCache:
    """The questionnaires a sweep sends, read and decoded once per sweep (not once per
    assessment), with the sections fitting each combination of service types."""

    def __init__(self) -> None:
        self._stored: dict[str, tuple[UUID, Template] | None] = {}
        self._fitting: dict[tuple[str, tuple[ServiceType, ...]], tuple[list[str] | None, Template]] = {}

    async def load(self, conn: asyncpg.Connection, keys: set[str]) -> None:
        missing = [k for k in keys if k not in self._stored]
        if missing:
            found = await templates_repo.latest_of(conn, missing)
            for key in missing:
                stored = found.get(key)
                self._stored[key] = (stored.id, stored.content) if stored else None

    def get(self, key: str) -> tuple[UUID, Template] | None:
        return self._stored.get(key)

    def fitting(
        self, key: str, service_types: Sequence[ServiceType]
    ) -> tuple[list[str] | None, Template] | None:
        """(sections to send, None for all; the template cut to them), or None if none fits."""
        stored = self._stored.get(key)
        if stored is None:
            return None
        cache_key = (key, tuple(service_types))
        if cache_key not in self._fitting:
            full = stored[1]
            fit = full.sections_for(service_types)
            sections = None if len(fit) == len(full.sections) else fit
            self._fitting[cache_key] = (sections, full.only_sections(sections))
        fitting = self._fitting[cache_key]
        return fitting if fitting[0] is None or fitting[0] else None


async def send_due_assessments(
    conn: asyncpg.Connection,
    dues: Sequence[ReassessmentDue],
    settings: Settings,
    templates: TemplateCache,
    *,
    now: datetime,
    actor: Actor = SYSTEM,
) -> DueBatch:
    # ``actor`` is a system one (no account): partners are told to contact the owner.
    """For the worker's sweep: ``send_due_assessment`` for many partners in one
    transaction and a fixed number of statements, whatever their number.

    The same guarantees: idempotent (the unique index of open assessments decides, so a
    partner with one gets none and two workers sweeping at once send one), nothing while
    an incident's containment stands, the tier's default questionnaires cut to the
    partner's services and pre-filled from its last answers, a link emailed to the primary
    contact, one ``assessment.sent`` audit event and webhook event each. A partner that
    cannot be sent is returned in ``blocked`` with the reason (and marked with it).
    """
    today = _today(now)
    policy = settings.policy
    due_on = default_due_on(today, policy.assessments)
    expires_at = link_expiry(now, due_on, settings.portal_link_days, policy.assessments)
    by_partner = {d.partner_id: d for d in dues}
    result = DueBatch()
    async with conn.transaction():
        rows = await conn.fetch(
            f"""
            SELECT p.id, p.name, p.status, p.tier, p.service_types, p.owner_id,
                   c.id AS contact_id, c.email, c.name AS contact_name, c.locale,
                   u.name AS owner_name, u.email AS owner_email,
                   EXISTS (SELECT 1 FROM incidents i
                           WHERE i.partner_id = p.id AND {repo.CONTAINING}) AS contained
            FROM partners p
            LEFT JOIN LATERAL (SELECT id, email, name, locale FROM partner_contacts
                               WHERE partner_id = p.id AND is_primary
                               ORDER BY position, created_at LIMIT 1) c ON true
            LEFT JOIN users u ON u.id = p.owner_id AND u.disabled_at IS NULL
            WHERE p.id = ANY($1::uuid[])
            ORDER BY p.id
            FOR UPDATE OF p
            """,
            list(by_partner),
        )
        wanted = {
            row["id"]: default_questionnaires(
                row["tier"], by_partner[row["id"]].kind, row["service_types"], policy.questionnaires
            )
            for row in rows
        }
        await templates.load(conn, {key for keys in wanted.values() for key in keys})
        sendable: list[tuple[asyncpg.Record, list[tuple[UUID, Template, list[str] | None]]]] = []
        for row in rows:
            # Changed since the sweep read it, or contained: the next sweep decides again.
            if row["status"] != "active" or row["contained"]:
                continue
            if row["email"] is None:
                result.blocked[row["id"]] = "no_primary_contact"
                continue
            chosen = []
            for key in dict.fromkeys(wanted[row["id"]]):
                stored, fitting = templates.get(key), templates.fitting(key, row["service_types"])
                if stored is not None and fitting is not None:
                    chosen.append((stored[0], fitting[1], fitting[0]))
            if not chosen:
                any_loaded = any(templates.get(k) is not None for k in wanted[row["id"]])
                result.blocked[row["id"]] = "no_fitting_section" if any_loaded else "no_questionnaire"
                continue
            sendable.append((row, chosen))
        if result.blocked:
            await conn.execute(
                """
                UPDATE partners p
                SET reassessment_blocked = b.reason, reassessment_blocked_at = $3,
                    reassessment_blocked_policy = $4
                FROM unnest($1::uuid[], $2::text[]) AS b(id, reason)
                WHERE p.id = b.id
                """,
                list(result.blocked),
                list(result.blocked.values()),
                now,
                policy.sha256,
            )
        if not sendable:
            return result
        previous = await repo.previous_answers_of(
            conn,
            [row["id"] for row, _ in sendable],
            sorted({t.key for _, chosen in sendable for _, t, _ in chosen}),
        )
        columns: list[list[Any]] = [[] for _ in range(13)]
        for row, _ in sendable:
            latest = max(previous.get(row["id"], []), key=lambda p: p.submitted_at, default=None)
            due = by_partner[row["id"]]
            values = (
                row["id"],
                due.kind,
                row["contact_id"],
                row["email"],
                row["contact_name"],
                row["locale"],
                "",
                due.reason,
                due_on,
                latest.assessment_id if latest else None,
                actor.id,
                actor.label,
                now,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        inserted = await conn.fetch(
            f"""
            INSERT INTO assessments (partner_id, kind, recipient_contact_id, recipient_email, recipient_name,
                                     locale, message, reason, due_on, previous_assessment_id, sent_by,
                                     sent_by_label, sent_at)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                                 $7::text[], $8::text[], $9::date[], $10::uuid[], $11::uuid[], $12::text[],
                                 $13::timestamptz[])
            ON CONFLICT (partner_id, (kind = 'offboarding')) WHERE {repo.OPEN}
            DO NOTHING
            RETURNING id, partner_id
            """,
            *columns,
        )
        assessment_of = {r["partner_id"]: r["id"] for r in inserted}
        parts = []
        links = []
        tokens: dict[UUID, str] = {}
        prefilled_from: dict[UUID, datetime | None] = {}
        for row, chosen in sendable:
            assessment_id = assessment_of.get(row["id"])
            if assessment_id is None:
                continue  # an open assessment exists
            earlier = previous.get(row["id"], [])
            by_key = {p.template_key: p.answers for p in earlier}
            any_prefilled = False
            for position, (template_id, template, sections) in enumerate(chosen):
                answers, prefilled = (
                    prefill(template, by_key[template.key]) if template.key in by_key else ({}, frozenset())
                )
                any_prefilled = any_prefilled or bool(prefilled)
                parts.append(
                    (assessment_id, position, template_id, template.key, answers, sorted(prefilled), sections)
                )
            latest = max(earlier, key=lambda p: p.submitted_at, default=None)
            prefilled_from[assessment_id] = latest.submitted_at if latest and any_prefilled else None
            tokens[assessment_id] = generate_token()
            links.append((assessment_id, hash_token(tokens[assessment_id]), expires_at))
        # One statement each, not one per row (executemany): per row, PostgreSQL's executor
        # start cost ~0.6 ms on a busy machine. The json and text[] columns travel as one
        # jsonb array of [answers, prefilled, sections], matched by position (an array of
        # jsonb or of arrays does not go through unnest intact).
        if not parts:
            return result
        await conn.execute(
            """
            INSERT INTO assessment_parts (assessment_id, position, template_id, template_key, answers,
                                          prefilled_sections, sections)
            SELECT p.assessment_id, p.position, p.template_id, p.template_key, j.value -> 0,
                   ARRAY(SELECT jsonb_array_elements_text(j.value -> 1)),
                   CASE WHEN jsonb_typeof(j.value -> 2) = 'array'
                        THEN ARRAY(SELECT jsonb_array_elements_text(j.value -> 2)) END
            FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[]) WITH ORDINALITY
                     AS p(assessment_id, position, template_id, template_key, ord)
            JOIN jsonb_array_elements($5::jsonb) WITH ORDINALITY AS j(value, ord) USING (ord)
            """,
            [part[0] for part in parts],
            [part[1] for part in parts],
            [part[2] for part in parts],
            [part[3] for part in parts],
            [[part[4], part[5], part[6]] for part in parts],
        )
        await conn.execute(
            """
            INSERT INTO portal_links (assessment_id, token_hash, expires_at)
            SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::timestamptz[])
            """,
            *(list(column) for column in zip(*links, strict=True)),
        )
        loaded = await repo.get_assessments(conn, list(tokens), today)
        invitations = []
        for row, _ in sendable:
            assessment_id = assessment_of.get(row["id"])
            if assessment_id is None:
                continue
            assessment = loaded[assessment_id]
            sender_name, sender_email = (
                (row["owner_name"], row["owner_email"]) if row["owner_email"] else (actor.label, "")
            )
            invitations.append(
                emails.invitation(
                    to=assessment.recipient_email,
                    lang=assessment.locale,
                    recipient_name=assessment.recipient_name,
                    partner_name=row["name"],
                    questionnaires=[q.title.get(assessment.locale) for q in assessment.questionnaires],
                    due_on=due_on,
                    message="",
                    link=link_url(settings, tokens[assessment_id]),
                    expires=expires_at,
                    sender_name=sender_name,
                    sender_email=sender_email,
                    prefilled_from=prefilled_from[assessment_id],
                )
            )
            result.sent.append(assessment_id)
        await enqueue_emails(conn, topic="assessment.invitation", emails=invitations)
        await audit.record_many(
            conn,
            actor=actor,
            action="assessment.sent",
            entity_type="assessment",
            events=[(i, None, loaded[i]) for i in result.sent],
        )
        await emit_events(
            conn,
            "assessment.sent",
            [
                (
                    {
                        "assessment_id": i,
                        "partner_id": loaded[i].partner_id,
                        "kind": loaded[i].kind,
                        "questionnaires": [f"{q.key}@{q.version}" for q in loaded[i].questionnaires],
                        "due_on": due_on,
                    },
                    f"assessment.sent:{i}",
                )
                for i in result.sent
            ],
        )
    return result


async def resend(
    conn: asyncpg.Connection,
    actor: Actor,
    assessment_id: UUID,
    data: Resend,
    settings: Settings,
    *,
    now: datetime,
) -> SentAssessment:
    """Issue a new link (the old one dies at once) and email it; optionally a new due date."""
    today = _today(now)
    async with conn.transaction():
        state = await _state(conn, assessment_id, for_update=True)
        if state.status in ("cancelled", "expired"):
            raise Problem(409, "assessment-closed", f"the assessment is {state.status}: send a new one")
        await _refuse_during_containment(conn, state.partner_id)
        fallback = default_due_on(today, settings.policy.assessments)
        due_on = data.due_on or (state.due_on if state.due_on >= today else fallback)
        if due_on < today:
            raise field_error("due_on", "must not be in the past")
        before = await load(conn, assessment_id, today)
        await repo.revoke_links(conn, assessment_id, "resent")
        columns: dict[str, object] = {"due_on": due_on}
        if data.message is not None:
            columns["message"] = data.message
        await repo.set_status(conn, assessment_id, state.status, **columns)
        owner_id = await conn.fetchval("SELECT owner_id FROM partners WHERE id = $1", state.partner_id)
        sent = await _issue_link(conn, actor, assessment_id, settings, now, owner_id=owner_id)
        await audit.record(
            conn,
            actor=actor,
            action="assessment.resent",
            entity_type="assessment",
            entity_id=assessment_id,
            before=before,
            after=sent.assessment,
        )
    return sent


async def cancel(
    conn: asyncpg.Connection, actor: Actor, assessment_id: UUID, data: Cancel, *, now: datetime
) -> Assessment:
    """Cancel an assessment the partner has not submitted; its link dies at once."""
    today = _today(now)
    async with conn.transaction():
        state = await _state(conn, assessment_id, for_update=True)
        if state.status not in EDITABLE_STATUSES:
            raise Problem(
                409, "assessment-not-cancellable", f"an assessment that is {state.status} cannot be cancelled"
            )
        before = await load(conn, assessment_id, today)
        await repo.revoke_links(conn, assessment_id, "cancelled")
        await repo.set_status(conn, assessment_id, "cancelled", closed_reason=data.reason)
        after = await load(conn, assessment_id, today)
        await audit.record(
            conn,
            actor=actor,
            action="assessment.cancelled",
            entity_type="assessment",
            entity_id=assessment_id,
            before=before,
            after=after,
        )
    return after


async def revoke_partner_links(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, reason: str
) -> list[UUID]:
    """Kill every live portal link of a partner (an incident's containment: a leaked
    mailbox must not answer for the partner). The assessments stay open; a resend issues
    new links. Returns the assessments whose link died."""
    async with conn.transaction():
        affected = await repo.revoke_partner_links(conn, partner_id)
        for assessment_id in affected:
            await audit.record(
                conn,
                actor=actor,
                action="assessment.link_revoked",
                entity_type="assessment",
                entity_id=assessment_id,
                after={"reason": reason},
            )
    return affected


async def cancel_partner_assessments(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, reason: str, *, now: datetime
) -> list[UUID]:
    """Inside the caller's transaction: cancel every assessment of the partner still with
    the partner (sent, in progress, changes requested) other than its offboarding
    attestation, kill their links, and withdraw their reminders still waiting in the
    outbox (later ones are never sent: the reminder sweep skips a cancelled assessment).
    Audited one by one. Returns the assessments cancelled."""
    today = _today(now)
    rows = await conn.fetch(
        """
        SELECT id, due_on FROM assessments
        WHERE partner_id = $1 AND kind <> 'offboarding' AND status = ANY($2::text[])
        ORDER BY sent_at, id FOR UPDATE
        """,
        partner_id,
        list(EDITABLE_STATUSES),
    )
    cancelled: list[UUID] = []
    for row in rows:
        before = await load(conn, row["id"], today)
        await repo.revoke_links(conn, row["id"], "cancelled")
        await repo.set_status(conn, row["id"], "cancelled", closed_reason=reason)
        await audit.record(
            conn,
            actor=actor,
            action="assessment.cancelled",
            entity_type="assessment",
            entity_id=row["id"],
            before=before,
            after=await load(conn, row["id"], today),
        )
        cancelled.append(row["id"])
    if cancelled:
        # The reminders' dedupe keys (send_reminder): exact keys, so the unique index finds them.
        keys = [
            f"assessment:{row['id']}:{row['due_on'].isoformat()}:{code}"
            for row in rows
            for code in ("d7", "d3", "d1", "overdue")
        ]
        await conn.execute(
            "DELETE FROM outbox WHERE dedupe_key = ANY($1::text[]) AND status = 'pending' AND attempts = 0",
            keys,
        )
    return cancelled


async def send_offboarding_attestation(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    settings: Settings,
    *,
    now: datetime,
    reason: str,
) -> UUID | None:
    """Inside the caller's transaction: send the offboarding attestation (data returned or
    destroyed, PIPL art. 21) to the partner's primary contact. The open attestation's id
    when one was sent already; None when the partner has no primary contact (staff then
    send it to someone they name)."""
    has_primary = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM partner_contacts WHERE partner_id = $1 AND is_primary)", partner_id
    )
    if not has_primary:
        return None
    # Due when the agreements give the partner to return or destroy the data: the longest
    # notice period among those in force, else the policy's default (30 days).
    notice_days = await conn.fetchval(
        """
        SELECT max(notice_period_days) FROM agreements
        WHERE partner_id = $1 AND terminated_at IS NULL AND (expires_on IS NULL OR expires_on >= $2)
        """,
        partner_id,
        _today(now),
    )
    days = notice_days or settings.policy.assessments.offboarding_days
    sent = await _send(
        conn,
        actor,
        partner_id,
        AssessmentCreate(kind="offboarding", reason=reason, due_on=_today(now) + timedelta(days=days)),
        settings,
        now,
    )
    return sent if isinstance(sent, UUID) else sent.assessment.id


# --- the portal -----------------------------------------------------------------------------------


class LinkRefused(Problem):
    """A token that opens nothing: 404 when unknown, 410 when it died (``reason`` says why)."""

    def __init__(self, status_code: int, reason: str, contact: tuple[str, str] | None = None) -> None:
        super().__init__(status_code, f"portal-link-{reason}", f"portal link {reason}")
        self.reason = reason
        self.contact = contact


def _check_link(link: repo.LinkRow, now: datetime) -> None:
    contact = (link.contact_name, link.contact_email) if link.contact_email else None
    if link.revoked_reason is not None:
        raise LinkRefused(410, link.revoked_reason, contact)
    if link.status in ("cancelled", "expired"):
        raise LinkRefused(410, link.status, contact)
    if link.expires_at < now:
        raise LinkRefused(410, "expired", contact)


async def _touch(conn: asyncpg.Connection, link: repo.LinkRow, now: datetime) -> None:
    if link.last_used_at is None or now - link.last_used_at > LAST_USED_RESOLUTION:
        await repo.touch_link(conn, link.id, now)


async def open_link(conn: asyncpg.Connection, token: str, now: datetime) -> repo.LinkRow:
    """The link a token opens, or LinkRefused: unknown → 404; resent, cancelled, expired
    or revoked → 410 with whom to contact."""
    if not looks_like_token(token):
        raise LinkRefused(404, "unknown")
    link = await repo.find_link(conn, hash_token(token))
    if link is None:
        raise LinkRefused(404, "unknown")
    _check_link(link, now)
    await _touch(conn, link, now)
    return link


class PortalView(msgspec.Struct, kw_only=True):
    """What a portal page needs about its assessment (one query)."""

    state: repo.AssessmentState
    parts: list[repo.PartRow]
    evidence: list[Evidence]
    # The latest request for changes, while the partner is making them.
    review_note: str | None
    review_comments: dict[tuple[str, str], str]
    previous_submitted_at: datetime | None
    contact: tuple[str, str] | None


async def open_portal(
    conn: asyncpg.Connection, token: str, now: datetime, *, lock: bool = False
) -> tuple[repo.LinkRow, PortalView]:
    """The link a token opens (refused as ``open_link`` refuses it) and what its pages show,
    in one query; ``lock`` (inside a transaction) serialises the assessment's changes."""
    if not looks_like_token(token):
        raise LinkRefused(404, "unknown")
    rows = await repo.portal_rows(conn, hash_token(token), lock=lock)
    if rows is None:
        raise LinkRefused(404, "unknown")
    link = rows.link
    _check_link(link, now)
    await _touch(conn, link, now)
    return link, PortalView(
        state=rows.state,
        parts=rows.parts,
        evidence=rows.evidence,
        review_note=rows.review_note if rows.state.status == "changes_requested" else None,
        review_comments={(c.questionnaire, c.question_id): c.comment for c in rows.review_comments},
        previous_submitted_at=rows.previous_submitted_at,
        contact=(link.contact_name, link.contact_email) if link.contact_email else None,
    )


def unconfirmed_sections(part: repo.PartRow) -> frozenset[str]:
    return frozenset(s for s in part.prefilled_sections if s not in part.saved_sections)


def part_states(view: PortalView) -> list[PartState]:
    return [
        PartState(
            template=part.template,
            answers=part.answers,
            evidence=frozenset(e.question_id for e in view.evidence if e.questionnaire == part.template_key),
            unconfirmed_sections=unconfirmed_sections(part),
        )
        for part in view.parts
    ]


class Upload(msgspec.Struct, kw_only=True):
    question_id: str
    filename: str
    data: bytes


class SaveResult(msgspec.Struct, kw_only=True):
    # closed: the assessment no longer takes answers (submitted, reviewed): nothing saved.
    outcome: Literal["saved", "conflict", "invalid", "closed"]
    answers_version: int
    # The assessment as the save read it, for the page it shows.
    view: PortalView
    # Question id -> error code (forms.FieldError or an upload problem).
    errors: dict[str, str] = msgspec.field(default_factory=dict)
    # On a conflict: the saved answers of the section's questions.
    theirs: dict[str, Answer] = msgspec.field(default_factory=dict)
    uploaded: list[Evidence] = msgspec.field(default_factory=list)
    removed: Evidence | None = None
    # Questions of the section that the save brought into view, unanswered.
    newly_shown: list[str] = msgspec.field(default_factory=list)


# The answers a save gives (``None`` clears one) and the errors found reading them, from
# the input read against the questionnaire version the part was sent with.
ReadAnswers = Callable[[Template], tuple[dict[str, Answer | None], dict[str, str]]]


def _refuse_locked(state: repo.AssessmentState) -> None:
    if state.status not in EDITABLE_STATUSES:
        raise Problem(
            409, "assessment-locked", f"the assessment is {state.status}: answers can no longer change"
        )


def _upload_error(upload: Upload) -> str | None:
    try:
        documents.check_upload(upload.data, upload.filename)
    except Problem as exc:
        return {413: "file_size", 415: "file_type"}.get(exc.status_code, "file_empty")
    return None


async def save_section(
    conn: asyncpg.Connection,
    token: str,
    *,
    part_index: int,
    section_id: str,
    read: ReadAnswers,
    base_version: int,
    uploads: Sequence[Upload],
    remove: UUID | None,
    settings: Settings,
    now: datetime,
) -> SaveResult:
    """Save one section's answers from the portal link ``token``, with its evidence changes.

    Optimistic concurrency on the assessment's answer version: if the section was saved
    after ``base_version`` (the version the page showed) with different answers, nothing is
    overwritten and the result is a conflict carrying the saved answers. Saves of other
    sections merge. Files are additive, so they are stored even on a conflict. Invalid
    input saves nothing and comes back as errors per question.

    A save of answers alone (the usual one) is two statements: the page's read, without a
    lock or a transaction block, and one statement writing the answers and the audit event
    if nothing changed the assessment since that read. If something did, or files change,
    the save runs again in a transaction holding the assessment's lock.
    """
    if not uploads and remove is None:
        _, view = await open_portal(conn, token, now)
        result = await _save_answers(
            conn, view, part_index, section_id, read, base_version, (), None, settings
        )
        if result is not None:
            return result
    async with conn.transaction():
        _, view = await open_portal(conn, token, now, lock=True)
        result = await _save_answers(
            conn, view, part_index, section_id, read, base_version, uploads, remove, settings
        )
        assert result is not None  # noqa: S101 - under the lock nothing changes the assessment
        return result


async def _save_answers(
    conn: asyncpg.Connection,
    view: PortalView,
    part_index: int,
    section_id: str,
    read: ReadAnswers,
    base_version: int,
    uploads: Sequence[Upload],
    remove: UUID | None,
    settings: Settings,
) -> SaveResult | None:
    """``save_section`` on the assessment as ``view`` read it; None when another change
    came after that read (nothing is then written)."""
    state = view.state
    if state.status not in EDITABLE_STATUSES:
        return SaveResult(outcome="closed", answers_version=state.answers_version, view=view)
    if not 0 <= part_index < len(view.parts):
        raise not_found("section", f"{part_index}/{section_id}")
    part = view.parts[part_index]
    template = part.template
    try:
        section = template.section(section_id)
    except KeyError:
        raise not_found("section", f"{part_index}/{section_id}") from None
    question_ids = [q.id for q in section.questions]
    answers, form_errors = read(template)
    errors = dict(form_errors)
    rules = {q.id: q.evidence for q in section.questions} if uploads else {}
    for upload in uploads:
        if upload.question_id not in question_ids:
            raise not_found("question", upload.question_id)
        problem = "no_evidence" if rules[upload.question_id] == "none" else _upload_error(upload)
        if problem is not None:
            errors[upload.question_id] = problem
    if uploads and not errors:
        files, size = await repo.evidence_totals(conn, state.id)
        if (
            files + len(uploads) > settings.evidence_max_files
            or size + sum(len(u.data) for u in uploads) > settings.evidence_max_mb * 2**20
        ):
            for upload in uploads:
                errors[upload.question_id] = "quota"
    given = {k: v for k, v in answers.items() if v is not None}
    for error in validate_section(template, section_id, given):
        errors.setdefault(error.field.split(".")[1], "choice")
    if errors:
        return SaveResult(outcome="invalid", answers_version=state.answers_version, view=view, errors=errors)

    actor = portal_actor(state)
    uploaded = [await _store_upload(conn, state, part, upload, actor, settings) for upload in uploads]
    removed = await _remove_upload(conn, state, part, remove, question_ids) if remove else None

    current = {qid: part.answers[qid] for qid in question_ids if qid in part.answers}
    merged = merge_section(part.answers, question_ids, answers)
    proposed = {qid: merged[qid] for qid in question_ids if qid in merged}
    if part.saved_sections.get(section_id, 0) > base_version and proposed != current:
        return SaveResult(
            outcome="conflict",
            answers_version=state.answers_version,
            view=view,
            theirs=current,
            uploaded=uploaded,
            removed=removed,
        )
    newly_shown: list[str] = []
    # Only a question with a condition can come into view (visibility walks the whole
    # questionnaire, twice): a section without one shows nothing new.
    if any(q.show_if is not None for q in section.questions):
        shown_before = visibility(template, part.answers)
        shown_after = visibility(template, merged)
        newly_shown = [
            qid for qid in question_ids if shown_after[qid] and not shown_before[qid] and qid not in merged
        ]
    # Only the answers this save changed, and a digest of the whole section as saved:
    # a long section saved again with one answer changed is one answer written and one
    # in the trail, not all of them twice (the chain hashes, and the lock holds, for less).
    changed = [qid for qid in question_ids if current.get(qid) != proposed.get(qid)]
    version = await repo.save_section_answers(
        conn,
        state.id,
        part_index,
        seen=(state.answers_version, state.version),
        status="in_progress" if state.status == "sent" else None,
        section_id=section_id,
        cleared=[qid for qid in changed if qid not in proposed],
        changed={qid: proposed[qid] for qid in changed if qid in proposed},
        event=append_args(
            actor=actor,
            action="assessment.section_saved",
            entity_type="assessment",
            entity_id=state.id,
            before={
                "questionnaire": template.key,
                "section": section_id,
                "answers": {qid: current[qid] for qid in changed if qid in current},
            },
            after={
                "questionnaire": template.key,
                "section": section_id,
                "answers": {qid: proposed[qid] for qid in changed if qid in proposed},
                "answers_version": state.answers_version + 1,
                "section_sha256": hashlib.sha256(msgspec.json.encode(proposed, order="sorted")).hexdigest(),
            },
        ),
    )
    if version is None:
        return None
    return SaveResult(
        outcome="saved",
        answers_version=version,
        view=view,
        uploaded=uploaded,
        removed=removed,
        newly_shown=newly_shown,
    )


async def _store_upload(
    conn: asyncpg.Connection,
    state: repo.AssessmentState,
    part: repo.PartRow,
    upload: Upload,
    actor: Actor,
    settings: Settings,
) -> Evidence:
    content_type = documents.check_upload(upload.data, documents.clean_filename(upload.filename))
    filename = documents.stored_filename(upload.filename, content_type)
    info = await documents.store_document(
        conn,
        key=settings.current_data_key,
        data=upload.data,
        filename=filename,
        content_type=content_type,
        purpose="assessment_evidence",
        actor=actor,
    )
    evidence = await repo.insert_evidence(conn, state.id, part.template_key, upload.question_id, info.id)
    await audit.record(
        conn,
        actor=actor,
        action="assessment.evidence_uploaded",
        entity_type="assessment",
        entity_id=state.id,
        after=evidence,
    )
    return evidence


async def _remove_upload(
    conn: asyncpg.Connection,
    state: repo.AssessmentState,
    part: repo.PartRow,
    evidence_id: UUID,
    question_ids: Sequence[str],
) -> Evidence:
    evidence = await repo.get_evidence(conn, state.id, evidence_id)
    if (
        evidence is None
        or evidence.questionnaire != part.template_key
        or evidence.question_id not in question_ids
    ):
        raise not_found("evidence", evidence_id)
    await repo.remove_evidence(conn, state.id, evidence_id)
    await audit.record(
        conn,
        actor=portal_actor(state),
        action="assessment.evidence_removed",
        entity_type="assessment",
        entity_id=state.id,
        before=evidence,
    )
    return evidence


class SubmitResult(msgspec.Struct, kw_only=True):
    submitted: bool
    missing: list[MissingItem] = msgspec.field(default_factory=list)


async def submit(
    conn: asyncpg.Connection, link: repo.LinkRow, submitter: str, settings: Settings, *, now: datetime
) -> SubmitResult:
    """Submit from the portal: refused with every missing item, or — in one transaction —
    answers locked, each questionnaire scored, findings reconciled, the receipt hash
    recorded, the risk owner emailed and ``assessment.submitted`` emitted. Submitting
    twice (a double click) is a no-op."""
    today = _today(now)
    async with conn.transaction():
        state = await _state(conn, link.assessment_id, for_update=True)
        if state.status in SUBMITTED_STATUSES:
            return SubmitResult(submitted=True)
        _refuse_locked(state)
        parts = await repo.get_parts(conn, state.id)
        evidence = await repo.list_evidence(conn, state.id)
        states = [
            PartState(
                template=p.template,
                answers=p.answers,
                evidence=frozenset(e.question_id for e in evidence if e.questionnaire == p.template_key),
                unconfirmed_sections=unconfirmed_sections(p),
            )
            for p in parts
        ]
        missing = missing_items(states)
        if missing:
            return SubmitResult(submitted=False, missing=missing)

        results = [(p.template, score(p.template, p.answers)) for p in parts]
        combined = combine_scores(results)
        digest = receipt_hash(
            state.id,
            now,
            [
                ReceiptPart(questionnaire=p.template_key, version=p.template.version, answers=p.answers)
                for p in parts
            ],
            [
                ReceiptEvidence(questionnaire=e.questionnaire, question_id=e.question_id, sha256=e.sha256)
                for e in evidence
            ],
        )
        actor = Actor(
            id=None, label=f"{submitter} <{state.recipient_email}> ({state.partner_name}, portal link)"
        )
        raised = [
            RaisedFinding(questionnaire=t.key, finding=f, answer=answers.get(f.question_id))
            for (t, result), answers in zip(results, (p.answers for p in parts), strict=True)
            for f in result.findings
        ]
        opened = await findings_service.apply_submission(
            conn,
            actor,
            partner_id=state.partner_id,
            assessment_id=state.id,
            raised=raised,
            submitted_keys={p.template_key for p in parts},
            today=today,
            due_days=settings.policy.findings.due_days,
        )
        before = await load(conn, state.id, today)
        await repo.set_part_scores(conn, state.id, [r.score for _, r in results])
        await repo.set_status(
            conn,
            state.id,
            "submitted",
            score=combined.score,
            score_breakdown=msgspec.to_builtins(combined),
            receipt_hash=digest,
            submitted_at=now,
            submitted_by=submitter,
        )
        after = await load(conn, state.id, today)
        await audit.record(
            conn,
            actor=actor,
            action="assessment.submitted",
            entity_type="assessment",
            entity_id=state.id,
            before=before,
            after=after,
        )
        await _notify_submitted(conn, state, after, combined, opened, settings, now)
    return SubmitResult(submitted=True)


async def _notify_submitted(
    conn: asyncpg.Connection,
    state: repo.AssessmentState,
    after: Assessment,
    combined: CombinedScore,
    opened: list[Finding],
    settings: Settings,
    now: datetime,
) -> None:
    reviewer = await repo.user_contact(conn, state.partner_owner_id) or await repo.user_contact(
        conn, state.sent_by
    )
    if reviewer is not None:
        _, email, locale = reviewer
        await enqueue_email(
            conn,
            topic="assessment.submitted",
            email=emails.submitted(
                to=email,
                lang=locale,
                partner_name=state.partner_name,
                kind=state.kind,
                submitter=after.submitted_by or "",
                submitted_at=now,
                score=combined.score,
                opened=len(opened),
                critical=len(combined.failed_critical),
                review_url=staff_url(settings, f"/assessments/{state.id}"),
            ),
            dedupe_key=f"assessment:{state.id}:submitted:{after.receipt_hash}",
        )
    await emit_event(
        conn,
        "assessment.submitted",
        {
            "assessment_id": state.id,
            "partner_id": state.partner_id,
            "kind": state.kind,
            "score": combined.score,
            "failed_critical": combined.failed_critical,
            "findings_opened": [f.id for f in opened],
            "receipt_hash": after.receipt_hash,
        },
        dedupe_key=f"assessment.submitted:{state.id}:{after.receipt_hash}",
    )


async def partner_findings(conn: asyncpg.Connection, link: repo.LinkRow) -> list[findings_repo.PortalFinding]:
    return await findings_repo.partner_open_findings(conn, await link_partner(conn, link))


async def link_partner(conn: asyncpg.Connection, link: repo.LinkRow) -> UUID:
    """The partner a portal link belongs to (what its findings pages are scoped to)."""
    partner_id: UUID = await conn.fetchval(
        "SELECT partner_id FROM assessments WHERE id = $1", link.assessment_id
    )
    return partner_id


async def respond_to_finding(
    conn: asyncpg.Connection,
    link: repo.LinkRow,
    finding_id: UUID,
    plan: str,
    planned_on: date,
    *,
    now: datetime,
) -> None:
    """The partner's plan and date for one of its own open findings."""
    state = await _state(conn, link.assessment_id, for_update=False)
    await findings_service.respond(
        conn, portal_actor(state), state.partner_id, finding_id, plan, planned_on, _today(now)
    )


async def fix_finding(
    conn: asyncpg.Connection,
    link: repo.LinkRow,
    finding_id: UUID,
    note: str,
    proofs: Sequence[findings_service.ProofUpload],
    settings: Settings,
    *,
    now: datetime,
) -> str | None:
    """The partner's fix (note and proof files) for one of its own findings: it goes to
    ``verifying``. None when saved, else the catalogue key of why not."""
    from vendor_risk.findings import partner as partner_side

    state = await _state(conn, link.assessment_id, for_update=False)
    _, error = await partner_side.submit_fix(
        conn, portal_actor(state), state.partner_id, finding_id, note, proofs, settings, _today(now)
    )
    return error


# --- review -------------------------------------------------------------------------------------------


async def review(
    conn: asyncpg.Connection,
    actor: Actor,
    assessment_id: UUID,
    data: ReviewCreate,
    settings: Settings,
    *,
    now: datetime,
) -> AssessmentDetail:
    """Approve, reject or request changes on a submitted assessment.

    ``request_changes`` unlocks the answers and keeps the partner's link alive (extending
    it if it would soon die); the partner sees the note and the per-question comments in
    the portal and is emailed. Approving clears the partner's "due for reassessment" mark.
    """
    today = _today(now)
    async with conn.transaction():
        state = await _state(conn, assessment_id, for_update=True)
        if data.version is not None and data.version != state.version:
            raise stale_version("assessment", data.version, state.version)
        if state.status != "submitted":
            raise Problem(
                409,
                "assessment-not-submitted",
                f"only a submitted assessment can be reviewed (it is {state.status})",
            )
        parts = await repo.get_parts(conn, assessment_id)
        questions = {(p.template_key, q.id) for p in parts for _, q in p.template.questions()}
        for index, comment in enumerate(data.comments):
            if (comment.questionnaire, comment.question_id) not in questions:
                raise field_error(
                    f"comments[{index}]", f"no question {comment.question_id!r} in {comment.questionnaire!r}"
                )
        if data.decision == "request_changes" and not (data.note.strip() or data.comments):
            raise field_error("note", "say what the partner should change (a note or per-question comments)")
        before = await load(conn, assessment_id, today)
        await repo.insert_review(
            conn, assessment_id, data.decision, data.note, data.comments, actor.id, actor.label
        )
        await repo.set_status(
            conn, assessment_id, DECIDED[data.decision], reviewed_at=now, reviewed_by=actor.id
        )
        if data.decision == "approve" and state.kind != "offboarding":
            await conn.execute(
                """
                UPDATE partners SET reassessment_due_at = NULL, reassessment_due_reason = NULL
                WHERE id = $1 AND reassessment_due_at IS NOT NULL
                """,
                state.partner_id,
            )
            await rating.recompute(
                conn,
                actor,
                [state.partner_id],
                reason="assessment approved",
                now=now,
                policy=settings.policy.rating,
            )
        if data.decision == "request_changes":
            await repo.extend_link(conn, assessment_id, now + timedelta(days=settings.portal_link_days))
            sender_name, sender_email = await _sender(conn, actor, state.partner_owner_id)
            await enqueue_email(
                conn,
                topic="assessment.changes_requested",
                email=emails.changes_requested(
                    to=state.recipient_email,
                    lang=state.locale,
                    recipient_name=state.recipient_name,
                    partner_name=state.partner_name,
                    note=data.note,
                    sender_name=sender_name,
                    sender_email=sender_email,
                ),
            )
        after = await load(conn, assessment_id, today)
        await audit.record(
            conn,
            actor=actor,
            action="assessment.reviewed",
            entity_type="assessment",
            entity_id=assessment_id,
            before=before,
            after={
                "decision": data.decision,
                "note": data.note,
                "comments": data.comments,
                "assessment": after,
            },
        )
        await emit_event(
            conn,
            "assessment.reviewed",
            {
                "assessment_id": assessment_id,
                "partner_id": state.partner_id,
                "kind": state.kind,
                "decision": data.decision,
                "score": state.score,
            },
        )
    return await detail(conn, assessment_id, today, rating_policy=settings.policy.rating)


async def detail(
    conn: asyncpg.Connection,
    assessment_id: UUID,
    today: date,
    *,
    rating_policy: RatingPolicy = DEFAULT_POLICY.rating,
) -> AssessmentDetail:
    """Everything a reviewer reads: answers, evidence, score breakdown, rating, findings,
    the diff with the previous assessment and the reviews."""
    return (await detail_with_templates(conn, assessment_id, today, rating_policy=rating_policy))[0]


async def detail_with_templates(
    conn: asyncpg.Connection,
    assessment_id: UUID,
    today: date,
    *,
    rating_policy: RatingPolicy = DEFAULT_POLICY.rating,
) -> tuple[AssessmentDetail, list[Template]]:
    """``detail`` and the questionnaire versions of its parts, in order (the review page
    shows the questions' numbers and texts without reading them again)."""
    assessment = await load(conn, assessment_id, today)
    state = await _state(conn, assessment_id, for_update=False)
    parts = await repo.get_parts(conn, assessment_id)
    combined = msgspec.convert(state.score_breakdown, CombinedScore) if state.score_breakdown else None
    rating: Rating | None = None
    if assessment.status in SUBMITTED_STATUSES:
        counts = await findings_repo.open_counts(conn, state.partner_id, today)
        rating = rate(state.partner_tier, assessment.score, counts, rating_policy)
    findings = await findings_repo.list_findings(
        conn, findings_repo.ListFilters(assessment_id=assessment_id), today, None, 500
    )
    found = AssessmentDetail(
        **msgspec.structs.asdict(assessment),
        answers=[
            PartAnswers(
                questionnaire=p.template_key,
                version=p.template.version,
                title=p.template.title,
                answers=p.answers,
                sections=[s.id for s in p.template.sections],
            )
            for p in parts
        ],
        evidence=await repo.list_evidence(conn, assessment_id),
        score_breakdown=combined,
        rating=rating,
        findings=findings,
        diff=await _diff(conn, state.previous_assessment_id, parts, assessment.score),
        reviews=await repo.list_reviews(conn, assessment_id),
    )
    return found, [p.template for p in parts]


async def _diff(
    conn: asyncpg.Connection,
    previous_id: UUID | None,
    parts: Sequence[repo.PartRow],
    current_score: float | None,
) -> AssessmentDiff | None:
    if previous_id is None:
        return None
    previous_parts = await repo.get_parts(conn, previous_id)
    previous = await repo.get_state(conn, previous_id)
    if previous is None:
        return None
    before_scores: dict[str | None, float | None] = {p.template_key: p.score for p in previous_parts}
    before_scores[None] = previous.score
    after_scores: dict[str | None, float | None] = {p.template_key: p.score for p in parts}
    after_scores[None] = current_score
    return AssessmentDiff(
        previous_assessment_id=previous_id,
        previous_submitted_at=previous.submitted_at,
        changes=diff_answers(
            {p.template_key: p.answers for p in previous_parts}, {p.template_key: p.answers for p in parts}
        ),
        scores=score_changes(before_scores, after_scores),
    )


async def evidence_file(
    conn: asyncpg.Connection, assessment_id: UUID, evidence_id: UUID, settings: Settings
) -> tuple[documents.DocumentInfo, bytes]:
    """An evidence file's original bytes, for staff."""
    document_id = await repo.evidence_document(conn, assessment_id, evidence_id)
    found = await documents.read_document(conn, settings.data_keys, document_id) if document_id else None
    if found is None:
        raise not_found("evidence", evidence_id)
    return found


# --- for the worker -----------------------------------------------------------------------------------


class DueReminder(msgspec.Struct, frozen=True, kw_only=True):
    assessment_id: UUID
    # "d7", "d3", "d1" before the due date, "overdue" after it.
    reminder: str


async def reminders_due(
    conn: asyncpg.Connection, today: date, offsets: Sequence[int] = DEFAULT_POLICY.assessments.reminder_days
) -> list[DueReminder]:
    """Which reminder each assessment awaiting the partner should get today (one query):
    the nearest of the policy's offsets (D-7, D-3, D-1 by default) reached and not yet
    sent, or ``overdue`` once past due."""
    due: list[DueReminder] = []
    for candidate in await repo.reminder_candidates(conn, today + timedelta(days=max(offsets, default=0))):
        if candidate.due_on < today:
            code = "overdue"
        else:
            days = reminder_due(candidate.due_on, today, offsets)
            code = f"d{days}" if days is not None else ""
        if code and code not in candidate.sent:
            due.append(DueReminder(assessment_id=candidate.assessment_id, reminder=code))
    return due


async def send_reminder(
    conn: asyncpg.Connection, assessment_id: UUID, reminder: str, *, today: date, settings: Settings
) -> bool:
    """Send one reminder through the outbox, once ever per due date (recorded in
    ``assessment_reminders``); ``overdue`` also tells the partner's owner. Returns whether
    it was sent now."""
    async with conn.transaction():
        state = await _state(conn, assessment_id, for_update=True)
        if state.status not in EDITABLE_STATUSES:
            return False
        if not await repo.record_reminder(conn, assessment_id, state.due_on, reminder):
            return False
        sender_name, sender_email = await _sender(
            conn, Actor(id=state.sent_by, label=state.sent_by_label), state.partner_owner_id
        )
        overdue = reminder == "overdue"
        key = f"assessment:{assessment_id}:{state.due_on.isoformat()}:{reminder}"
        await enqueue_email(
            conn,
            topic="assessment.reminder",
            email=emails.reminder(
                to=state.recipient_email,
                lang=state.locale,
                recipient_name=state.recipient_name,
                partner_name=state.partner_name,
                due_on=state.due_on,
                days=max(0, (state.due_on - today).days),
                overdue=overdue,
                sent_on=state.sent_at.date(),
                sender_name=sender_name,
                sender_email=sender_email,
            ),
            dedupe_key=key,
        )
        owner = await repo.user_contact(conn, state.partner_owner_id)
        if overdue and owner is not None:
            await enqueue_email(
                conn,
                topic="assessment.escalation",
                email=emails.escalation(
                    to=owner[1],
                    lang=owner[2],
                    partner_name=state.partner_name,
                    kind=state.kind,
                    due_on=state.due_on,
                    recipient=f"{state.recipient_name} <{state.recipient_email}>",
                    url=staff_url(settings, f"/assessments/{assessment_id}"),
                ),
                dedupe_key=f"{key}:owner",
            )
        if overdue:
            await emit_event(
                conn,
                "assessment.overdue",
                {"assessment_id": assessment_id, "partner_id": state.partner_id, "due_on": state.due_on},
                dedupe_key=f"assessment.overdue:{assessment_id}:{state.due_on.isoformat()}",
            )
        await audit.record(
            conn,
            actor=SYSTEM,
            action="assessment.reminded",
            entity_type="assessment",
            entity_id=assessment_id,
            after={"reminder": reminder, "due_on": state.due_on},
        )
    return True


async def expire_overdue(conn: asyncpg.Connection, *, today: date, grace_days: int) -> list[UUID]:
    """Expire assessments awaiting the partner more than ``grace_days`` past due; their
    links die. Idempotent; returns the expired assessments."""
    expired: list[UUID] = []
    for assessment_id in await repo.overdue_beyond(conn, today - timedelta(days=grace_days)):
        async with conn.transaction():
            state = await _state(conn, assessment_id, for_update=True)
            if state.status not in EDITABLE_STATUSES:
                continue
            await repo.revoke_links(conn, assessment_id, "expired")
            await repo.set_status(
                conn,
                assessment_id,
                "expired",
                closed_reason=f"not submitted {grace_days} days after the due date",
            )
            await audit.record(
                conn,
                actor=SYSTEM,
                action="assessment.expired",
                entity_type="assessment",
                entity_id=assessment_id,
                after={"due_on": state.due_on, "grace_days": grace_days},
            )
            expired.append(assessment_id)
    return expired
