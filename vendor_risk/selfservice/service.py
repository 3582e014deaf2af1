"""Self-service sign-in: one-time links by email, sessions scoped to one partner, and the
staff's revocation of them. Every change writes its audit event (never a token) in its
transaction; the link email goes through the outbox, sealed like every email."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments.emails import format_time
from vendor_risk.assessments.rendering import render
from vendor_risk.assessments.tokens import generate_token, hash_token
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, field_error
from vendor_risk.i18n import translator
from vendor_risk.incidents import repository as incidents_repo
from vendor_risk.incidents import service as incidents_service
from vendor_risk.incidents.models import IncidentCreate
from vendor_risk.notify.outbox import Email, enqueue_email
from vendor_risk.scopes import service as scopes_service
from vendor_risk.scopes.models import SubProcessorCreate
from vendor_risk.selfservice import repository as repo
from vendor_risk.selfservice.models import IncidentReport, PartnerChoice, Viewer
from vendor_risk.selfservice.notify import notify_partner_staff
from vendor_risk.selfservice.rules import reported_severity
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

LINK_LIFETIME: Final = timedelta(minutes=15)
LINK_BYTES: Final = 32  # 256 bits
SESSION_IDLE: Final = timedelta(hours=2)
SESSION_LIFETIME: Final = timedelta(hours=12)
EMAIL_MAX: Final = 254
EMAIL_PATTERN: Final = re.compile(
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    return len(email) <= EMAIL_MAX and EMAIL_PATTERN.match(email) is not None


def contact_actor(viewer: Viewer) -> Actor:
    """The audit trail's actor for what a partner contact does here."""
    return Actor(id=None, label=f"partner contact: {viewer.contact_name or ''} <{viewer.email}>"[:300])


@dataclass(frozen=True, slots=True)
class Client:
    address: str
    user_agent: str


class LinkRefused(Problem):
    """A sign-in link that cannot be used: ``unknown`` (404), ``expired`` or ``used`` (410)."""

    def __init__(self, reason: str) -> None:
        super().__init__(404 if reason == "unknown" else 410, f"link-{reason}", f"sign-in link {reason}")
        self.reason = reason


async def request_link(
    conn: asyncpg.Connection, settings: Settings, email: str, lang: str, client: Client
) -> bool:
    """Email a one-time sign-in link when ``email`` is a contact of a partner we deal with.
    The caller answers the same either way, so nobody learns whether an address is known;
    the return value (whether one was sent) is for tests and logs only."""
    email = normalise_email(email)
    async with conn.transaction():
        choices = await repo.partner_choices(conn, email)
        if not choices:
            return False
        token = secrets.token_urlsafe(LINK_BYTES)
        expires = await repo.insert_link(conn, token_hash(token), email, lang, client.address, LINK_LIFETIME)
        t = translator(lang)
        subject = t("ss_email_link_subject")
        values = {
            "t": t,
            "lang": lang,
            "subject": subject,
            "name": choices[0].contact_name,
            "partners": [c.partner_name for c in choices],
            "link": f"{settings.public_url}/p/link/{token}",
            "expires": format_time(expires, lang),
        }
        await enqueue_email(
            conn,
            topic="selfservice_link",
            email=Email(
                to=email,
                subject=subject,
                text=render("selfservice/email_link.txt", values),
                html=render("selfservice/email_link.html", values),
                lang=lang,
            ),
        )
        for choice in choices:
            await audit.record(
                conn,
                actor=Actor(id=None, label=f"self-service sign-in: {email}"),
                action="selfservice.link_requested",
                entity_type="partner",
                entity_id=choice.partner_id,
                after={"contact_id": choice.contact_id, "address": client.address, "expires_at": expires},
            )
    return True


async def check_link(conn: asyncpg.Connection, token: str) -> None:
    """Raise ``LinkRefused`` unless ``token`` is a live link (the page before spending it)."""
    state = await repo.link_state(conn, token_hash(token))
    if state is None:
        raise LinkRefused("unknown")
    if state["used"]:
        raise LinkRefused("used")
    if state["expired"]:
        raise LinkRefused("expired")


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    session_id: UUID
    choices: list[PartnerChoice]


async def sign_in(conn: asyncpg.Connection, token: str, client: Client) -> SignedIn:
    """Spend the link and open a session: scoped at once when the address is a contact of
    one partner, else awaiting the contact's choice. A used, expired or unknown link (or one
    whose address is no longer a contact anywhere) raises ``LinkRefused``."""
    async with conn.transaction():
        link = await repo.use_link(conn, token_hash(token))
        if link is None:
            await check_link(conn, token)
            raise LinkRefused("used")  # spent between the check and now
        email, lang = link["email"], link["lang"]
        choices = await repo.partner_choices(conn, email)
        if not choices:
            raise LinkRefused("unknown")
        session_token = secrets.token_urlsafe(LINK_BYTES)
        only = choices[0] if len(choices) == 1 else None
        session_id = await repo.open_session(
            conn,
            token_hash(session_token),
            email,
            lang,
            only,
            client.address,
            client.user_agent,
            SESSION_LIFETIME,
            SESSION_IDLE,
        )
        for choice in [only] if only else choices:
            await audit.record(
                conn,
                actor=Actor(id=None, label=f"self-service sign-in: {email}"),
                action="selfservice.signed_in",
                entity_type="partner",
                entity_id=choice.partner_id,
                after={
                    "session_id": session_id,
                    "contact_id": choice.contact_id,
                    "address": client.address,
                    "scoped": only is not None,
                },
            )
    return SignedIn(token=session_token, session_id=session_id, choices=choices)


async def resolve(conn: asyncpg.Connection, token: str, lang: str | None) -> Viewer | None:
    """The signed-in contact of a session token, or None when it ended."""
    return await repo.resolve(conn, token_hash(token), lang, SESSION_IDLE)


async def choices_for(conn: asyncpg.Connection, viewer: Viewer) -> list[PartnerChoice]:
    return await repo.partner_choices(conn, viewer.email)


async def choose_partner(conn: asyncpg.Connection, viewer: Viewer, partner_id: UUID) -> PartnerChoice:
    """Scope the session to one of the partners its address is a contact of (404 otherwise:
    another partner's id is indistinguishable from a made-up one)."""
    async with conn.transaction():
        choice = await repo.choose(conn, viewer.session_id, viewer.email, partner_id)
        if choice is None:
            raise Problem(404, "not-found", "no such partner for this sign-in")
        await audit.record(
            conn,
            actor=Actor(id=None, label=f"partner contact: {choice.contact_name} <{viewer.email}>"[:300]),
            action="selfservice.partner_chosen",
            entity_type="partner",
            entity_id=choice.partner_id,
            after={"session_id": viewer.session_id, "contact_id": choice.contact_id},
        )
    return choice


async def sign_out(conn: asyncpg.Connection, token: str) -> None:
    async with conn.transaction():
        row = await repo.delete_session(conn, token_hash(token))
        if row is not None and row["partner_id"] is not None:
            await audit.record(
                conn,
                actor=Actor(id=None, label=f"self-service: {row['email']}"),
                action="selfservice.signed_out",
                entity_type="partner",
                entity_id=row["partner_id"],
                after={"session_id": row["id"]},
            )


async def revoke_sessions(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, session_id: UUID | None = None
) -> int:
    """End one self-service session of the partner (or all of them); the contact's next
    request goes to the sign-in page. Audited with the addresses whose sessions ended."""
    async with conn.transaction():
        ended = await repo.revoke(conn, partner_id, session_id)
        if ended:
            await audit.record(
                conn,
                actor=actor,
                action="selfservice.sessions_revoked",
                entity_type="partner",
                entity_id=partner_id,
                after={"sessions": [{"id": r["id"], "email": r["email"]} for r in ended]},
            )
    return len(ended)


async def open_questionnaire(conn: asyncpg.Connection, viewer: Viewer, assessment_id: UUID) -> str:
    """A fresh portal token for one of the partner's open questionnaires. The portal keeps
    one live link per assessment (only its hash is stored, so the emailed one cannot be
    shown again): the new link replaces it with the same expiry, and the emailed link then
    says it was replaced. 404 for another partner's assessment or one without a live link
    (cancelled, expired, or revoked while an incident contains the partner)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            SELECT l.expires_at FROM assessments a
            JOIN portal_links l ON l.assessment_id = a.id AND l.revoked_at IS NULL AND l.expires_at > now()
            WHERE a.id = $1 AND a.partner_id = $2 AND a.status IN ('sent', 'in_progress', 'changes_requested')
            FOR UPDATE OF a, l
            """,
            assessment_id,
            viewer.partner_id,
        )
        if row is None:
            raise Problem(404, "not-found", f"assessment {assessment_id} has no open link for this partner")
        token = generate_token()
        await assessments_repo.revoke_links(conn, assessment_id, "resent")
        await assessments_repo.insert_link(conn, assessment_id, hash_token(token), row["expires_at"])
        await audit.record(
            conn,
            actor=contact_actor(viewer),
            action="selfservice.questionnaire_opened",
            entity_type="assessment",
            entity_id=assessment_id,
            after={"partner_id": viewer.partner_id, "session_id": viewer.session_id},
        )
    return token


# --- a partner's own incident report -------------------------------------------------------------

REPORT_PLAYBOOK: Final = "partner-data-leak"


async def report_categories(conn: asyncpg.Connection, partner_id: UUID) -> list[asyncpg.Record]:
    """The data categories a report may name: those the partner's scopes cover (what it
    holds of ours), or every category when it has no scope yet."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT c.code, c.name_zh, c.name_en, c.sensitivity FROM data_categories c
        WHERE EXISTS (SELECT 1 FROM scopes s WHERE s.partner_id = $1 AND s.category_id = c.id)
           OR NOT EXISTS (SELECT 1 FROM scopes s WHERE s.partner_id = $1)
        ORDER BY c.name_en
        """,
        partner_id,
    )
    return rows


def _report_summary(report: IncidentReport, names: dict[str, asyncpg.Record]) -> I18nText:
    """The report as the incident's timeline shows it, labels in both languages."""
    parts = {}
    for lang in ("zh-CN", "en"):
        t = translator(lang)
        column = "name_zh" if lang == "zh-CN" else "name_en"
        sep = "、" if lang == "zh-CN" else ", "
        categories = sep.join(names[c][column] for c in report.categories if c in names) or t(
            "ss_report_unknown"
        )
        reach = " ".join(v for v in (report.contact_name, report.contact_phone, report.contact_email) if v)
        parts[lang] = t(
            "ss_report_timeline",
            what=report.what,
            when=format_time(report.occurred_at, lang),
            categories=categories,
            persons=t(f"ss_persons_{report.persons}"),
            contact=reach,
        )
    return I18nText(zh_cn=parts["zh-CN"], en=parts["en"])


async def report_incident(
    conn: asyncpg.Connection, viewer: Viewer, report: IncidentReport, settings: Settings
) -> UUID:
    """Open a ``partner-data-leak`` incident from the partner's own report, in the
    playbook's first state (``suspected``: the risk owners are emailed and chat robots
    told at once; the containment runs when one of them confirms, so a mailbox that leaked
    cannot cut the firm's data flows by itself). The report goes on the incident's
    timeline. A category the partner does not hold is a field error."""
    partner_id = viewer.partner_id
    if partner_id is None:
        raise Problem(409, "partner-not-chosen", "choose a partner first")
    offered = {r["code"]: r for r in await report_categories(conn, partner_id)}
    unknown = [c for c in report.categories if c not in offered]
    if unknown:
        raise field_error("categories", f"not a category this partner holds: {', '.join(unknown)}")
    severity = reported_severity(report.persons, [offered[c]["sensitivity"] for c in report.categories])
    first_line = next((line.strip() for line in report.what.splitlines() if line.strip()), "")
    data = IncidentCreate(
        title=first_line[:120],
        severity=severity,
        detected_at=report.occurred_at,
        playbook=REPORT_PLAYBOOK,
        affected_categories=list(report.categories),
        description=report.what,
        suspected=True,
    )
    actor = contact_actor(viewer)
    async with conn.transaction():
        try:
            opened = await incidents_service.open_as(conn, actor, partner_id, data, settings)
        except Problem as exc:
            # The incident service names its own field; the form calls it occurred_at.
            if exc.slug == "validation" and "detected_at" in str(exc.extra):
                raise field_error("occurred_at", "must not be in the future") from None
            raise
        await incidents_repo.append_timeline(
            conn,
            opened.id,
            actor,
            "partner_report",
            _report_summary(report, offered),
            data=msgspec.to_builtins(report),
        )
        await audit.record(
            conn,
            actor=actor,
            action="selfservice.incident_reported",
            entity_type="incident",
            entity_id=opened.id,
            after={
                "partner_id": partner_id,
                "session_id": viewer.session_id,
                "severity": severity,
                "report": report,
            },
        )
    return opened.id


# --- sub-processors ---------------------------------------------------------------------------------


async def declare_sub_processor(
    conn: asyncpg.Connection, viewer: Viewer, data: SubProcessorCreate, settings: Settings
) -> UUID:
    """Record a sub-processor the partner declares, ``pending`` until a risk owner consents
    or refuses on the partner page (the scopes domain's own approve and reject), and ask
    the partner's owner to decide."""
    partner_id = viewer.partner_id
    if partner_id is None:
        raise Problem(409, "partner-not-chosen", "choose a partner first")
    async with conn.transaction():
        created = await scopes_service.create_sub_processor(conn, contact_actor(viewer), partner_id, data)
        await notify_partner_staff(
            conn,
            settings,
            partner_id,
            topic="sub_processor.declared",
            dedupe_key=f"sub_processor.declared:{created.id}",
            what="ss_notify_sub_processor",
            anchor="sub-processors",
            name=data.name,
        )
    return created.id
