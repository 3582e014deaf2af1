"""Security notices: loading the library, publishing a version to an audience, the
personal links and acknowledgements, the reminder and escalation sweep.

Each change writes its audit event and its emails (through the outbox) in one transaction.
A partner has acknowledged a publication when one of its contacts has; reminders go only to
the contacts of partners that have not, and the escalation goes to the partner's owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.assessments.emails import format_date
from vendor_risk.assessments.rendering import render
from vendor_risk.assessments.tokens import generate_token, hash_token, looks_like_token
from vendor_risk.audit.models import SYSTEM, Actor
from vendor_risk.errors import Problem, field_error, not_found
from vendor_risk.i18n import translator
from vendor_risk.notices import repository as repo
from vendor_risk.notices.loader import NoticeError, content_hash, load_file, render_markdown
from vendor_risk.notices.models import (
    Acknowledgement,
    AudienceIn,
    AudiencePreview,
    Notice,
    NoticeLoadOutcome,
    NoticeVersion,
    PublicationCreate,
    PublicationSummary,
    ToAll,
    ToDataCategory,
    ToPartner,
)
from vendor_risk.notify.outbox import Email, emit_event, enqueue_email
from vendor_risk.paths import content_dir
from vendor_risk.policy import DEFAULT_POLICY, Policy
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

LIBRARY_DIR = content_dir("notices")
LOAD_LOCK_ID = 0x6E6F74696365
NOTICE_SWEEPER = Actor(id=None, label="system: notice sweep")


# --- the library -----------------------------------------------------------------------------


async def load_library(conn: asyncpg.Connection, directory: Path = LIBRARY_DIR) -> list[NoticeLoadOutcome]:
    """Store each ``*.md`` notice of ``directory`` as a version, as questionnaires are
    loaded: unchanged → nothing; a new version → stored and audited; changed content under
    a loaded version, or a version below the newest → refused, naming the file."""
    outcomes: list[NoticeLoadOutcome] = []
    for name, parsed in await asyncio.to_thread(_read_library, directory):
        if isinstance(parsed, NoticeError):
            outcomes.append(NoticeLoadOutcome(file=name, status="refused", errors=parsed.messages))
        else:
            outcomes.append(await load_notice(conn, parsed, name))
    return outcomes


def _read_library(directory: Path) -> list[tuple[str, Notice | NoticeError]]:
    parsed: list[tuple[str, Notice | NoticeError]] = []
    for path in sorted(directory.glob("*.md")):
        try:
            parsed.append((path.name, load_file(path)))
        except NoticeError as exc:
            parsed.append((path.name, exc))
    return parsed


async def load_notice(conn: asyncpg.Connection, notice: Notice, filename: str) -> NoticeLoadOutcome:
    sha256 = content_hash(notice)
    outcome = NoticeLoadOutcome(file=filename, status="unchanged", key=notice.key, version=notice.version)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOAD_LOCK_ID)
        loaded = await repo.versions_of(conn, notice.key)
        newest = max(loaded, default=0)
        if notice.version in loaded:
            if loaded[notice.version] == sha256:
                return outcome
            outcome.status = "refused"
            outcome.errors = [
                f"{filename}: version {notice.version} of '{notice.key}' is already loaded with "
                f"different content; a published version never changes: set version: {newest + 1}"
            ]
            return outcome
        if notice.version < newest:
            outcome.status = "refused"
            outcome.errors = [
                f"{filename}: version {notice.version} is below the loaded version {newest} of "
                f"'{notice.key}': set version: {newest + 1}"
            ]
            return outcome
        html = I18nText(zh_cn=render_markdown(notice.body.zh_cn), en=render_markdown(notice.body.en))
        version_id = await repo.insert_version(conn, notice, html, sha256)
        outcome.status = "stored"
        await audit.record(
            conn,
            actor=SYSTEM,
            action="notice.loaded",
            entity_type="notice_version",
            entity_id=version_id,
            after={"key": notice.key, "version": notice.version, "content_sha256": sha256, "file": filename},
        )
    return outcome


async def get_version(conn: asyncpg.Connection, key: str, version: int | None = None) -> NoticeVersion:
    found = await repo.get_version(conn, key, version)
    if found is None:
        raise not_found("notice", key if version is None else f"{key} version {version}")
    return found


# --- audience ----------------------------------------------------------------------------------


async def _check_audience(conn: asyncpg.Connection, data: AudienceIn | PublicationCreate) -> str | None:
    """The audience value as stored. Decoding checked its form (a tier, a service type, a
    partner id); a data category or a partner that does not exist is a 404 naming
    ``audience_value``, as a notice version that does not exist is."""
    if isinstance(data, ToAll):
        return None
    if isinstance(data, ToDataCategory) and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM data_categories WHERE code = $1)", data.audience_value
    ):
        raise field_error("audience_value", "no data category has this code", 404)
    if isinstance(data, ToPartner) and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1 AND status <> 'offboarded')", data.audience_value
    ):
        raise field_error("audience_value", "no partner (not offboarded) has this id", 404)
    return str(data.audience_value)


async def preview_audience(conn: asyncpg.Connection, data: AudienceIn) -> AudiencePreview:
    """How many partners and contacts the audience reaches now; nothing is sent."""
    value = await _check_audience(conn, data)
    rows = await repo.audience(conn, data.audience, value)
    partners = {r["partner_id"] for r in rows}
    with_contacts = {r["partner_id"] for r in rows if r["contact_id"] is not None}
    return AudiencePreview(
        audience=data.audience,
        audience_value=value,
        partners=len(partners),
        contacts=sum(1 for r in rows if r["contact_id"] is not None),
        partners_without_contacts=len(partners - with_contacts),
    )


# --- publishing --------------------------------------------------------------------------------


def link_expiry(due_on: date | None, now: datetime, policy: Policy) -> datetime:
    """A link works until the end of the due date plus the grace (the assessments' policy),
    or, for a notice with no due date, as long as an assessment's default period and grace."""
    grace = policy.assessments.link_grace_days
    end = due_on if due_on is not None else now.date() + timedelta(days=policy.assessments.due_days)
    return datetime.combine(end + timedelta(days=grace + 1), time(), tzinfo=UTC)


def notice_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/n/{token}"


def _email(
    name: str, to: str, lang: str, subject_key: str, subject_values: dict[str, Any], **context: Any
) -> Email:
    t = translator(lang)
    subject = t(subject_key, **subject_values)
    values = {"t": t, "lang": lang, "subject": subject, **context}
    return Email(
        to=to,
        subject=subject,
        text=render(f"notices/email_{name}.txt", values),
        html=render(f"notices/email_{name}.html", values),
        lang=lang,
        reply_to=context.get("sender_email") or None,
    )


async def publish(
    conn: asyncpg.Connection,
    actor: Actor,
    data: PublicationCreate,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> PublicationSummary:
    """Publish a notice version to an audience: one recipient per contact reached, each
    emailed (in the contact's language) a personal link that is stored only hashed."""
    now = now or datetime.now(UTC)
    policy = settings.policy
    version = await get_version(conn, data.notice_key, data.notice_version)
    if version.ack_required and data.due_on is None:
        raise field_error("due_on", "required: this notice asks for acknowledgement")
    if data.due_on is not None and data.due_on <= now.date():
        raise field_error("due_on", "must be after today")
    if data.due_on is not None and data.due_on > now.date() + timedelta(days=366):
        raise field_error("due_on", "must be within a year")
    async with conn.transaction():
        value = await _check_audience(conn, data)
        rows = [r for r in await repo.audience(conn, data.audience, value) if r["contact_id"] is not None]
        if not rows:
            raise Problem(
                409,
                "empty-audience",
                "the audience reaches no partner contact: nothing would be sent",
                title="Nothing to send",
            )
        sender = await conn.fetchrow("SELECT name, email FROM users WHERE id = $1", actor.id)
        partners = {r["partner_id"] for r in rows}
        publication_id = await repo.insert_publication(
            conn,
            version_id=version.id,
            audience=data.audience,
            audience_value=value,
            due_on=data.due_on,
            message=data.message,
            published_by=actor.id,
            now=now,
            partner_count=len(partners),
            contact_count=len(rows),
        )
        tokens = [generate_token() for _ in rows]
        expires = link_expiry(data.due_on, now, policy)
        recipient_ids = await repo.insert_recipients(
            conn,
            publication_id,
            [
                (
                    r["partner_id"],
                    r["contact_id"],
                    r["contact_name"],
                    r["email"],
                    r["locale"],
                    hash_token(tok),
                )
                for r, tok in zip(rows, tokens, strict=True)
            ],
            expires,
            now,
        )
        for row, token, recipient_id in zip(rows, tokens, recipient_ids, strict=True):
            lang = row["locale"]
            await enqueue_email(
                conn,
                topic="notice.published",
                email=_email(
                    "published",
                    row["email"],
                    lang,
                    "nt_email_subject",
                    {"title": version.title.get(lang)},
                    recipient_name=row["contact_name"],
                    partner_name=row["partner_name"],
                    title=version.title.get(lang),
                    kind=version.kind,
                    ack_required=version.ack_required,
                    due_on=format_date(data.due_on, lang) if data.due_on else None,
                    message=data.message,
                    link=notice_url(settings, token),
                    expires=format_date((expires - timedelta(days=1)).date(), lang),
                    sender_name=sender["name"] if sender else "",
                    sender_email=sender["email"] if sender else "",
                ),
                dedupe_key=f"notice.published:{recipient_id}",
            )
        details = {
            "notice": version.key,
            "version": version.version,
            "audience": data.audience,
            "audience_value": value,
            "due_on": data.due_on.isoformat() if data.due_on else None,
            "partners": len(partners),
            "contacts": len(rows),
        }
        await audit.record(
            conn,
            actor=actor,
            action="notice.published",
            entity_type="notice_publication",
            entity_id=publication_id,
            after=details,
        )
        await emit_event(conn, "notice.published", {"publication_id": str(publication_id), **details})
    return await get_publication_summary(conn, publication_id)


def summary_of(row: asyncpg.Record) -> PublicationSummary:
    values = dict(row)
    name = values.pop("audience_name")
    return PublicationSummary(
        title=I18nText(zh_cn=values.pop("title_zh"), en=values.pop("title_en")),
        audience_label=name,
        **values,
    )


async def get_publication_summary(conn: asyncpg.Connection, publication_id: UUID) -> PublicationSummary:
    row = await repo.get_publication(conn, publication_id)
    if row is None:
        raise not_found("notice publication", publication_id)
    return summary_of(row)


# --- the personal link and acknowledging -------------------------------------------------------


class NoticeLinkRefused(Problem):
    """A notice link that opens nothing: 404 when unknown, 410 when expired."""

    def __init__(self, status_code: int, reason: str, contact: tuple[str, str] | None = None) -> None:
        super().__init__(status_code, f"notice-link-{reason}", f"notice link {reason}")
        self.reason = reason
        self.contact = contact


class OpenNotice(msgspec.Struct, kw_only=True):
    """What a contact's link opens: the recipient row, the exact version sent, and whom to
    contact at the firm."""

    recipient: dict[str, Any]
    version: NoticeVersion


async def open_link(conn: asyncpg.Connection, token: str, now: datetime) -> OpenNotice:
    """The notice a token opens (marking it opened the first time), or NoticeLinkRefused."""
    if not looks_like_token(token):
        raise NoticeLinkRefused(404, "unknown")
    row = await repo.find_link(conn, hash_token(token))
    if row is None:
        raise NoticeLinkRefused(404, "unknown")
    contact = (row["sender_name"], row["sender_email"]) if row["sender_email"] else None
    if row["partner_status"] == "offboarded":
        raise NoticeLinkRefused(410, "revoked", contact)
    if row["expires_at"] <= now and row["acknowledged_at"] is None:
        raise NoticeLinkRefused(410, "expired", contact)
    recipient = dict(row)
    if row["opened_at"] is None:
        await conn.execute(
            "UPDATE notice_recipients SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL", row["id"], now
        )
        recipient["opened_at"] = now
    return OpenNotice(recipient=recipient, version=await repo.get_version_by_id(conn, row["version_id"]))


async def acknowledge(
    conn: asyncpg.Connection, recipient_id: UUID, name: str, via: str, now: datetime
) -> Acknowledgement:
    """Record "I have read and will comply" by ``name`` for one recipient, with the time
    and the version; a second acknowledgement keeps the first (nothing is overwritten)."""
    name = " ".join(name.split())
    if not name:
        raise field_error("name", "required")
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            SELECT r.id, r.email, r.partner_id, r.publication_id, r.acknowledged_at, r.acknowledged_name,
                   v.key, v.version, v.ack_required
            FROM notice_recipients r
            JOIN notice_publications pb ON pb.id = r.publication_id
            JOIN notice_versions v ON v.id = pb.notice_version_id
            WHERE r.id = $1 FOR UPDATE OF r
            """,
            recipient_id,
        )
        if row is None:
            raise not_found("notice recipient", recipient_id)
        if row["acknowledged_at"] is None:
            await conn.execute(
                """
                UPDATE notice_recipients
                SET acknowledged_at = $2, acknowledged_name = $3, acknowledged_via = $4,
                    opened_at = coalesce(opened_at, $2)
                WHERE id = $1
                """,
                recipient_id,
                now,
                name,
                via,
            )
            after = {
                "notice": row["key"],
                "version": row["version"],
                "partner_id": str(row["partner_id"]),
                "publication_id": str(row["publication_id"]),
                "name": name,
                "via": via,
            }
            await audit.record(
                conn,
                actor=Actor(id=None, label=f"partner contact: {name} <{row['email']}>"),
                action="notice.acknowledged",
                entity_type="notice_recipient",
                entity_id=recipient_id,
                after=after,
            )
            await emit_event(conn, "notice.acknowledged", {"recipient_id": str(recipient_id), **after})
            acknowledged_at, acknowledged_name = now, name
        else:
            acknowledged_at, acknowledged_name = row["acknowledged_at"], row["acknowledged_name"]
    return Acknowledgement(
        recipient_id=recipient_id,
        notice_key=row["key"],
        notice_version=row["version"],
        acknowledged_at=acknowledged_at,
        acknowledged_name=acknowledged_name,
    )


async def open_for_partner(conn: asyncpg.Connection, partner_id: UUID, email: str) -> list[dict[str, Any]]:
    """The open notices (acknowledgement asked, not yet given by this contact) that reached
    ``email`` at ``partner_id``: what the partner's self-service home lists. Scoped to the
    partner in SQL, so one partner's session never sees another's."""
    rows = await conn.fetch(
        """
        SELECT r.id AS recipient_id, v.key, v.version, v.kind, v.title_zh, v.title_en, pb.due_on,
               r.sent_at
        FROM notice_recipients r
        JOIN notice_publications pb ON pb.id = r.publication_id
        JOIN notice_versions v ON v.id = pb.notice_version_id
        WHERE r.partner_id = $1 AND lower(r.email) = lower($2)
          AND r.acknowledged_at IS NULL AND v.ack_required
        ORDER BY pb.due_on NULLS LAST, r.sent_at
        """,
        partner_id,
        email,
    )
    return [dict(r) for r in rows]


async def acknowledge_for_partner(
    conn: asyncpg.Connection, partner_id: UUID, email: str, recipient_id: UUID, name: str, now: datetime
) -> Acknowledgement:
    """Acknowledge from the partner's self-service session: only a recipient of that
    partner and that contact; anything else is a 404, as if it did not exist."""
    owned = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM notice_recipients
                       WHERE id = $1 AND partner_id = $2 AND lower(email) = lower($3))
        """,
        recipient_id,
        partner_id,
        email,
    )
    if not owned:
        raise not_found("notice", recipient_id)
    return await acknowledge(conn, recipient_id, name, "portal", now)


# --- reminders and escalation ----------------------------------------------------------------


class NoticeSweep(msgspec.Struct, kw_only=True):
    reminders: int = 0
    escalations: int = 0


async def sweep_notices(
    conn: asyncpg.Connection, today: date, settings: Settings, policy: Policy = DEFAULT_POLICY
) -> NoticeSweep:
    """Reminders to the contacts of partners that have not acknowledged, at each of the
    policy's reminder days before the due date (each once per contact), and one escalation
    per partner to its owner once the due date has passed. Set-based: one query finds all
    that are due, and a reminder's row (inserted first) makes each go once."""
    report = NoticeSweep()
    days = sorted(policy.assessments.reminder_days)
    async with conn.transaction():
        due = await conn.fetch(
            """
            WITH pending AS (
                SELECT r.*, pb.due_on, v.title_zh, v.title_en, p.name AS partner_name,
                       u.name AS sender_name, u.email AS sender_email,
                       (SELECT min(d) FROM unnest($2::int[]) AS d WHERE d >= pb.due_on - $1) AS days_before
                FROM notice_recipients r
                JOIN notice_publications pb ON pb.id = r.publication_id
                JOIN notice_versions v ON v.id = pb.notice_version_id AND v.ack_required
                JOIN partners p ON p.id = r.partner_id AND p.status <> 'offboarded'
                LEFT JOIN users u ON u.id = pb.published_by
                WHERE r.acknowledged_at IS NULL AND pb.due_on >= $1 AND pb.due_on <= $1 + $3::int
                  AND NOT EXISTS (SELECT 1 FROM notice_recipients o
                                  WHERE o.publication_id = r.publication_id AND o.partner_id = r.partner_id
                                    AND o.acknowledged_at IS NOT NULL)
            ), claimed AS (
                INSERT INTO notice_reminders (recipient_id, days_before)
                SELECT id, days_before FROM pending WHERE days_before IS NOT NULL
                ON CONFLICT DO NOTHING
                RETURNING recipient_id, days_before
            )
            SELECT o.*, c.days_before AS claimed_days FROM pending o
            JOIN claimed c ON c.recipient_id = o.id
            ORDER BY o.publication_id, o.partner_id, o.email
            """,
            today,
            days,
            max(days, default=0),
        )
        for row in due:
            lang = row["locale"]
            title = row["title_zh"] if lang == "zh-CN" else row["title_en"]
            await enqueue_email(
                conn,
                topic="notice.reminder",
                email=_email(
                    "reminder",
                    row["email"],
                    lang,
                    "nt_email_reminder_subject",
                    {"title": title},
                    recipient_name=row["contact_name"],
                    partner_name=row["partner_name"],
                    title=title,
                    due_on=format_date(row["due_on"], lang),
                    days=(row["due_on"] - today).days,
                    sent_on=format_date(row["sent_at"].date(), lang),
                    sender_name=row["sender_name"] or "",
                    sender_email=row["sender_email"] or "",
                ),
                dedupe_key=f"notice.reminder:{row['id']}:{row['claimed_days']}",
            )
            await audit.record(
                conn,
                actor=NOTICE_SWEEPER,
                action="notice.reminded",
                entity_type="notice_recipient",
                entity_id=row["id"],
                after={
                    "days_before": row["claimed_days"],
                    "due_on": row["due_on"].isoformat(),
                    "to": row["email"],
                },
            )
            report.reminders += 1
        overdue = await conn.fetch(
            """
            WITH late AS (
                SELECT DISTINCT r.publication_id, r.partner_id
                FROM notice_recipients r
                JOIN notice_publications pb ON pb.id = r.publication_id AND pb.due_on < $1
                JOIN notice_versions v ON v.id = pb.notice_version_id AND v.ack_required
                JOIN partners p ON p.id = r.partner_id AND p.status <> 'offboarded'
                WHERE r.acknowledged_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM notice_escalations e
                                  WHERE e.publication_id = r.publication_id AND e.partner_id = r.partner_id)
                  AND NOT EXISTS (SELECT 1 FROM notice_recipients o
                                  WHERE o.publication_id = r.publication_id AND o.partner_id = r.partner_id
                                    AND o.acknowledged_at IS NOT NULL)
            ), claimed AS (
                INSERT INTO notice_escalations (publication_id, partner_id)
                SELECT publication_id, partner_id FROM late
                ON CONFLICT DO NOTHING
                RETURNING publication_id, partner_id
            )
            SELECT c.publication_id, c.partner_id, p.name AS partner_name, pb.due_on,
                   v.title_zh, v.title_en, v.key, v.version,
                   coalesce(o.email, pu.email) AS owner_email, coalesce(o.name, pu.name) AS owner_name,
                   coalesce(o.locale, pu.locale) AS owner_locale
            FROM claimed c
            JOIN partners p ON p.id = c.partner_id
            JOIN notice_publications pb ON pb.id = c.publication_id
            JOIN notice_versions v ON v.id = pb.notice_version_id
            LEFT JOIN users o ON o.id = p.owner_id AND o.disabled_at IS NULL
            LEFT JOIN users pu ON pu.id = pb.published_by AND pu.disabled_at IS NULL
            ORDER BY c.publication_id, p.name
            """,
            today,
        )
        for row in overdue:
            lang = row["owner_locale"] or "zh-CN"
            title = row["title_zh"] if lang == "zh-CN" else row["title_en"]
            if row["owner_email"]:
                await enqueue_email(
                    conn,
                    topic="notice.escalated",
                    email=_email(
                        "escalation",
                        row["owner_email"],
                        lang,
                        "nt_email_escalation_subject",
                        {"partner": row["partner_name"], "title": title},
                        recipient=row["owner_name"],
                        partner_name=row["partner_name"],
                        title=title,
                        due_on=format_date(row["due_on"], lang),
                        url=f"{settings.public_url.rstrip('/')}/ui/notices/publications/{row['publication_id']}",
                    ),
                    dedupe_key=f"notice.escalated:{row['publication_id']}:{row['partner_id']}",
                )
            after = {
                "partner_id": str(row["partner_id"]),
                "notice": row["key"],
                "version": row["version"],
                "due_on": row["due_on"].isoformat(),
                "to": row["owner_email"],
            }
            await audit.record(
                conn,
                actor=NOTICE_SWEEPER,
                action="notice.escalated",
                entity_type="notice_publication",
                entity_id=row["publication_id"],
                after=after,
            )
            await emit_event(conn, "notice.overdue", {"publication_id": str(row["publication_id"]), **after})
            report.escalations += 1
    return report


def recipients_by_partner(rows: Sequence[Any]) -> list[tuple[UUID, str, list[Any]]]:
    """Recipients grouped by partner, in the order given (for the progress page)."""
    groups: dict[UUID, tuple[str, list[Any]]] = {}
    for r in rows:
        groups.setdefault(r.partner_id, (r.partner_name, []))[1].append(r)
    return [(pid, name, items) for pid, (name, items) in groups.items()]
