"""The worker's sweeps: what time passing does to agreements, scopes, risk acceptances
and assessments.

Every sweep reads PostgreSQL afresh and is idempotent: each notice is recorded (in
``notices``, ``assessment_reminders``, or a unique index) in the transaction that issues
it, so running a sweep twice, or on two workers at once, changes nothing. Dates are UTC,
as everywhere in the API (``partners.service.today_utc``); tests inject them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from uuid import UUID

import asyncpg
import msgspec
import structlog

from vendor_risk import audit
from vendor_risk.assessments.repository import DUE_STATUSES_SQL as ASSESSMENT_DUE_STATUSES
from vendor_risk.assessments.repository import OPEN as OPEN_ASSESSMENT
from vendor_risk.assessments.service import (
    ReassessmentDue,
    TemplateCache,
    expire_overdue,
    reminders_due,
    send_due_assessments,
    send_reminder,
)
from vendor_risk.audit.models import Actor
from vendor_risk.dashboard.repository import repair_counters
from vendor_risk.errors import Problem
from vendor_risk.findings import reminders as finding_reminders
from vendor_risk.findings.repository import DUE_STATUSES_SQL as FINDING_DUE_STATUSES
from vendor_risk.findings.service import lapse_expired_acceptances
from vendor_risk.notify.outbox import Email, emit_event, emit_events, enqueue_email
from vendor_risk.notify.outbox import format_day as _date
from vendor_risk.notify.outbox import simple_email as _email
from vendor_risk.partners.records import lock, today_utc
from vendor_risk.partners.rules import TIERS
from vendor_risk.policy import DEFAULT_POLICY, Policy, Tier
from vendor_risk.scopes.models import ScopeWithdrawal
from vendor_risk.scopes.service import suspend_uncovered_scopes, withdraw_scope
from vendor_risk.selfservice.certificates import sweep_certificates
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

log = structlog.get_logger("vendor_risk.sweeps")

SWEEPER = Actor(id=None, label="system: expiry sweep")
REASSESSOR = Actor(id=None, label="system: reassessment sweep")

KIND_NAMES = {
    "nda": I18nText(zh_cn="保密协议（NDA）", en="NDA"),
    "dpa": I18nText(zh_cn="委托处理协议（DPA）", en="data processing agreement (DPA)"),
    "msa": I18nText(zh_cn="主服务协议（MSA）", en="master services agreement (MSA)"),
    "sla": I18nText(zh_cn="服务水平协议（SLA）", en="service level agreement (SLA)"),
}


class ExpirySweep(msgspec.Struct, kw_only=True):
    scopes_expired: int = 0
    agreements_expired: int = 0
    scopes_suspended: int = 0
    expiry_alerts: int = 0
    acceptances_lapsed: int = 0
    findings_overdue: int = 0
    certificate_alerts: int = 0
    # Dashboard counter rows the repair had to correct (0 when the triggers kept them).
    counters_repaired: int = 0


class AgreementDue(msgspec.Struct, frozen=True, kw_only=True):
    """An agreement that needs a notice, with whom to tell (the partner's owner, if any)."""

    id: UUID
    partner_id: UUID
    partner_name: str
    kind: str
    title: str
    expires_on: date
    renewed: bool
    owner_email: str | None
    owner_name: str | None
    owner_locale: str | None


async def claim_notice(conn: asyncpg.Connection, key: str) -> bool:
    """Record that the notice ``key`` is being issued; False if it already was.

    Call it inside the transaction that issues the notice: a concurrent sweep waits on the
    uncommitted key, then finds it taken.
    """
    inserted = await conn.fetchval(
        "INSERT INTO notices (key) VALUES ($1) ON CONFLICT (key) DO NOTHING RETURNING true", key
    )
    return bool(inserted)


def _expiring_key(agreement_id: UUID, expires_on: date, threshold: int) -> str:
    return f"agreement.expiring:{agreement_id}:{expires_on.isoformat()}:{threshold}"


def _expired_key(agreement_id: UUID, expires_on: date) -> str:
    return f"agreement.expired:{agreement_id}:{expires_on.isoformat()}"


# Renewed: another live agreement of the same kind runs longer (as the dashboard counts it).
_RENEWED = """
    EXISTS (SELECT 1 FROM agreements r
            WHERE r.partner_id = a.partner_id AND r.kind = a.kind AND r.id <> a.id
              AND r.terminated_at IS NULL AND (r.expires_on IS NULL OR r.expires_on > a.expires_on))
"""
_AGREEMENT_DUE_COLUMNS = f"""
    a.id, a.partner_id, p.name AS partner_name, a.kind, a.title, a.expires_on, {_RENEWED} AS renewed,
    u.email AS owner_email, u.name AS owner_name, u.locale AS owner_locale
"""
_AGREEMENT_DUE_JOINS = """
    FROM agreements a
    JOIN partners p ON p.id = a.partner_id
    LEFT JOIN users u ON u.id = p.owner_id AND u.disabled_at IS NULL
"""


async def agreements_expiring(
    conn: asyncpg.Connection,
    today: date,
    alert_days: Sequence[int] = DEFAULT_POLICY.agreements.expiry_alert_days,
) -> list[tuple[AgreementDue, int]]:
    """Agreements within an alert window whose alert for that window is not yet issued,
    each with the smallest window it is in (the policy's days: 60, 30 or 7 by default).
    A renewed agreement needs no alert."""
    rows = await conn.fetch(
        f"""
        SELECT {_AGREEMENT_DUE_COLUMNS}, w.threshold
        {_AGREEMENT_DUE_JOINS}
        CROSS JOIN LATERAL (
            SELECT min(t) AS threshold FROM unnest($2::int[]) AS t WHERE t >= a.expires_on - $1
        ) AS w
        WHERE a.terminated_at IS NULL
          AND a.expires_on BETWEEN $1 AND $1 + $3::int
          AND p.status <> 'offboarded'
          AND NOT {_RENEWED}
          AND NOT EXISTS (
              SELECT 1 FROM notices n
              WHERE n.key = 'agreement.expiring:' || a.id || ':' || a.expires_on || ':' || w.threshold
          )
        ORDER BY a.expires_on, a.id
        """,
        today,
        list(alert_days),
        max(alert_days),
    )
    return [(AgreementDue(**{k: v for k, v in r.items() if k != "threshold"}), r["threshold"]) for r in rows]


async def agreements_expired(conn: asyncpg.Connection, today: date) -> list[AgreementDue]:
    """Agreements past their end whose expiry has not been acted on yet."""
    rows = await conn.fetch(
        f"""
        SELECT {_AGREEMENT_DUE_COLUMNS}
        {_AGREEMENT_DUE_JOINS}
        WHERE a.terminated_at IS NULL
          AND a.expires_on < $1
          AND p.status <> 'offboarded'
          AND NOT EXISTS (
              SELECT 1 FROM notices n WHERE n.key = 'agreement.expired:' || a.id || ':' || a.expires_on
          )
        ORDER BY a.expires_on, a.id
        """,
        today,
    )
    return [AgreementDue(**dict(r)) for r in rows]


async def scope_labels(conn: asyncpg.Connection, scope_ids: Sequence[UUID]) -> list[I18nText]:
    rows = await conn.fetch(
        """
        SELECT c.name_zh, c.name_en, s.purpose
        FROM scopes s JOIN data_categories c ON c.id = s.category_id
        WHERE s.id = ANY($1::uuid[])
        ORDER BY c.name_en, s.purpose
        """,
        list(scope_ids),
    )
    return [
        I18nText(zh_cn=f"{r['name_zh']}（{r['purpose']}）", en=f"{r['name_en']} ({r['purpose']})")
        for r in rows
    ]


async def expire_ended_scopes(conn: asyncpg.Connection, today: date, policy: Policy = DEFAULT_POLICY) -> int:
    """Scopes (approved or suspended) past their end date become ``expired``, each with its
    audit event, ``scope.expired`` and a recomputed tier (through the scopes service)."""
    rows = await conn.fetch(
        """
        SELECT id, partner_id, ends_on FROM scopes
        WHERE status IN ('approved', 'suspended') AND ends_on < $1
        ORDER BY ends_on, id
        """,
        today,
    )
    expired = 0
    for row in rows:
        reason = f"the scope ended on {row['ends_on'].isoformat()}"
        try:
            await withdraw_scope(
                conn,
                SWEEPER,
                row["partner_id"],
                row["id"],
                ScopeWithdrawal(reason=reason),
                "expired",
                policy=policy,
            )
        except Problem as exc:
            # Another sweep (or a person) changed the scope since it was read.
            log.info("scope not expired", scope_id=str(row["id"]), detail=exc.detail)
            continue
        expired += 1
    return expired


async def act_on_expired_agreement(
    conn: asyncpg.Connection, agreement: AgreementDue, settings: Settings, today: date
) -> list[UUID] | None:
    """Suspend the approved scopes that the expired agreement alone covered, announce
    ``agreement.expired`` and tell the partner's owner (the risk owner); once per expiry.
    The event says whether the agreement was renewed: subscribers can tell a lapse from a
    replacement.

    Returns the suspended scope ids, or None if another sweep got there first.
    """
    key = _expired_key(agreement.id, agreement.expires_on)
    async with conn.transaction():
        await lock(conn, agreement.partner_id)
        if not await claim_notice(conn, key):
            return None
        suspended = await suspend_uncovered_scopes(
            conn,
            SWEEPER,
            agreement.partner_id,
            settings,
            reason=f"agreement {agreement.title!r} expired on {agreement.expires_on.isoformat()}",
            today=today,
        )
        facts = {
            "agreement_id": agreement.id,
            "partner_id": agreement.partner_id,
            "kind": agreement.kind,
            "title": agreement.title,
            "expires_on": agreement.expires_on,
            "renewed": agreement.renewed,
            "suspended_scope_ids": suspended,
        }
        await audit.record(
            conn,
            actor=SWEEPER,
            action="agreement.expired",
            entity_type="agreement",
            entity_id=agreement.id,
            after=facts,
        )
        await emit_event(conn, "agreement.expired", facts, dedupe_key=key)
        # A renewed agreement's end is news to the owner only if a scope was suspended.
        if agreement.owner_email and (suspended or not agreement.renewed):
            labels = await scope_labels(conn, suspended)
            await enqueue_email(
                conn,
                topic="agreement.expired",
                email=expired_email(agreement, labels, settings.public_url),
                dedupe_key=key,
            )
    return suspended


async def alert_expiring_agreement(
    conn: asyncpg.Connection, agreement: AgreementDue, window: int, today: date
) -> bool:
    """Announce ``agreement.expiring`` and alert the partner's owner, once per window."""
    key = _expiring_key(agreement.id, agreement.expires_on, window)
    days_left = (agreement.expires_on - today).days
    async with conn.transaction():
        if not await claim_notice(conn, key):
            return False
        await emit_event(
            conn,
            "agreement.expiring",
            {
                "agreement_id": agreement.id,
                "partner_id": agreement.partner_id,
                "kind": agreement.kind,
                "title": agreement.title,
                "expires_on": agreement.expires_on,
                "days_left": days_left,
            },
            dedupe_key=key,
        )
        if agreement.owner_email:
            await enqueue_email(
                conn, topic="agreement.expiring", email=expiring_email(agreement, days_left), dedupe_key=key
            )
    return True


async def sweep_expiries(pool: asyncpg.Pool, settings: Settings, *, today: date | None = None) -> ExpirySweep:
    """Run the daily expiry sweep as of ``today`` (UTC; tests inject it).

    Scopes past their end expire first, so that a scope which simply ended is not also
    reported as suspended for want of an agreement.
    """
    day = today or today_utc()
    report = ExpirySweep()
    async with pool.acquire() as conn:
        report.scopes_expired = await expire_ended_scopes(conn, day, settings.policy)
        for agreement in await agreements_expired(conn, day):
            suspended = await act_on_expired_agreement(conn, agreement, settings, day)
            if suspended is not None:
                report.agreements_expired += 1
                report.scopes_suspended += len(suspended)
        for agreement, window in await agreements_expiring(
            conn, day, settings.policy.agreements.expiry_alert_days
        ):
            report.expiry_alerts += await alert_expiring_agreement(conn, agreement, window, day)
        report.acceptances_lapsed = len(await lapse_expired_acceptances(conn, SWEEPER, day))
        report.findings_overdue = await announce_overdue_findings(conn, day)
        # Partners' certificates (self-service) on the agreements' alert days.
        report.certificate_alerts = await sweep_certificates(
            conn, settings, day, settings.policy.agreements.expiry_alert_days
        )
        report.counters_repaired = await repair_counters(conn)
    return report


# Overdue findings announced per transaction.
OVERDUE_BATCH = 1000


async def announce_overdue_findings(conn: asyncpg.Connection, today: date) -> int:
    """Announce ``finding.overdue`` (webhooks, chat alerts) once for each open or
    remediating finding past its due date; a new due date is announced again if missed.

    Set-based: the findings not yet announced are read once, then claimed (``notices``)
    and announced a batch per transaction, so a first run over years of findings is
    minutes of SQL, not one transaction per finding."""
    rows = await conn.fetch(
        """
        SELECT f.id, f.partner_id, f.title, f.severity, f.due_on,
               'finding.overdue:' || f.id || ':' || f.due_on AS key
        FROM findings f
        WHERE f.status IN ('open', 'remediating') AND f.due_on < $1
          AND NOT EXISTS (
              SELECT 1 FROM notices n WHERE n.key = 'finding.overdue:' || f.id || ':' || f.due_on
          )
        ORDER BY f.due_on, f.id
        """,
        today,
    )
    announced = 0
    for start in range(0, len(rows), OVERDUE_BATCH):
        batch = rows[start : start + OVERDUE_BATCH]
        async with conn.transaction():
            # A concurrent sweep waits on the uncommitted keys, then finds them taken.
            claimed = set(
                await conn.fetchval(
                    """
                    WITH claimed AS (
                        INSERT INTO notices (key) SELECT unnest($1::text[])
                        ON CONFLICT (key) DO NOTHING RETURNING key
                    )
                    SELECT coalesce(array_agg(key), '{}') FROM claimed
                    """,
                    [r["key"] for r in batch],
                )
            )
            events = []
            for row in batch:
                if row["key"] not in claimed:
                    continue
                title = row["title"] or {}
                data = {
                    "finding_id": row["id"],
                    "partner_id": row["partner_id"],
                    "title": title.get("zh-CN") or title.get("en") or "",
                    "severity": row["severity"],
                    "due_on": row["due_on"],
                }
                events.append((data, row["key"]))
            await emit_events(conn, "finding.overdue", events)
        announced += len(events)
    return announced


# --- reassessments and reminders ---------------------------------------------------------


# Due partners sent per transaction: large enough that a statement's and a commit's cost
# are spread over many, small enough that the partners' row locks and the audit chain's
# lock are held only briefly.
REASSESSMENT_BATCH = 500


async def reassessments_due(
    conn: asyncpg.Connection,
    now: datetime,
    cadence: Mapping[Tier, int] = DEFAULT_POLICY.cadence_months,
    policy_sha256: str | None = None,
) -> list[ReassessmentDue]:
    """Active partners due for a reassessment, in one statement over all partners.

    A partner is due when its tier rose (``reassessment_due_at``, cleared by an approved
    assessment), when an agreement was renewed (a new one of a kind it had before) after
    its last approved assessment, or when that assessment is older than the tier's cadence
    (the policy's ``cadence_months``; never assessed: counted from its creation). Each of
    these counts only if nothing was sent to the partner since it became due, so an
    assessment that expired unanswered or was rejected is followed up by people, not re-sent every hour.
    A partner with an open assessment (sent before it became due, still unanswered or in
    review) is not due either: sending would only meet the unique index of open ones, every
    hour, for as long as it stays open.
    A partner marked as not sendable under the policy ``policy_sha256`` is left out until
    the mark is cleared (migration 0130).

    The partners' own columns (``last_approved_at`` is kept by a trigger) pick the
    candidates, read by an index-only scan of the active partners (migration 0210) rather
    than from the wide partner rows; only for the candidates are the last send and the
    reason looked up, so an idle sweep reads no assessment of a partner not due.
    """
    rows = await conn.fetch(
        f"""
        WITH active AS (
            SELECT p.id, p.tier, p.last_approved_at, p.reassessment_due_at,
                   coalesce(p.last_approved_at, p.created_at) + make_interval(months =>
                       ($2::int[])[array_position($3::text[], p.tier)]) AS cadence_due_at
            FROM partners p
            WHERE p.status = 'active'
              AND (p.reassessment_blocked IS NULL OR p.reassessment_blocked_policy IS DISTINCT FROM $4)
        ), renewals AS (
            SELECT DISTINCT ON (r.partner_id) r.partner_id, r.created_at AS renewed_at, r.title
            FROM agreements r JOIN active ON active.id = r.partner_id
            WHERE r.terminated_at IS NULL
              AND r.created_at > coalesce(active.last_approved_at, '-infinity')
              AND EXISTS (
                SELECT 1 FROM agreements o
                WHERE o.partner_id = r.partner_id AND o.kind = r.kind AND o.created_at < r.created_at)
            ORDER BY r.partner_id, r.created_at DESC
        ), candidates AS (
            SELECT active.*, renewals.renewed_at, renewals.title AS renewed_title, sent.sent_at
            FROM active
            LEFT JOIN renewals ON renewals.partner_id = active.id
            LEFT JOIN LATERAL (
                SELECT max(a.sent_at) AS sent_at FROM assessments a
                WHERE a.partner_id = active.id AND a.kind <> 'offboarding'
            ) sent ON true
            WHERE active.reassessment_due_at IS NOT NULL OR renewals.renewed_at IS NOT NULL
               OR active.cadence_due_at <= $1
        ), due AS MATERIALIZED (
            -- Materialised, so that the open-assessment check below runs for the due
            -- partners only, not as an anti-join over every open assessment.
            SELECT id, tier, last_approved_at, renewed_title,
                   (reassessment_due_at IS NOT NULL AND coalesce(sent_at < reassessment_due_at, true))
                       AS tier_rose,
                   (renewed_at IS NOT NULL AND coalesce(sent_at < renewed_at, true)) AS renewed
            FROM candidates
            WHERE (reassessment_due_at IS NOT NULL AND coalesce(sent_at < reassessment_due_at, true))
               OR (renewed_at IS NOT NULL AND coalesce(sent_at < renewed_at, true))
               OR (cadence_due_at <= $1 AND coalesce(sent_at < cadence_due_at, true))
        )
        SELECT due.id AS partner_id, due.tier, due.last_approved_at AS reviewed_at, due.renewed_title,
               due.tier_rose, due.renewed, p.reassessment_due_reason
        FROM due JOIN partners p ON p.id = due.id
        WHERE NOT EXISTS (
            SELECT 1 FROM assessments o
            WHERE o.partner_id = due.id AND o.kind <> 'offboarding' AND o.{OPEN_ASSESSMENT})
        ORDER BY due.id
        """,
        now,
        [cadence[t] for t in TIERS],
        list(TIERS),
        policy_sha256,
    )
    due: list[ReassessmentDue] = []
    for r in rows:
        if r["tier_rose"]:
            due.append(
                ReassessmentDue(
                    partner_id=r["partner_id"],
                    kind="triggered",
                    reason=r["reassessment_due_reason"] or f"tier rose to {r['tier']}",
                )
            )
        elif r["renewed"]:
            due.append(
                ReassessmentDue(
                    partner_id=r["partner_id"],
                    kind="triggered",
                    reason=f"agreement renewed: {r['renewed_title']}",
                )
            )
        else:
            months = cadence[r["tier"]]
            since = (
                f"last approved assessment on {r['reviewed_at'].date().isoformat()}"
                if r["reviewed_at"]
                else "no approved assessment"
            )
            due.append(
                ReassessmentDue(
                    partner_id=r["partner_id"],
                    kind="periodic",
                    reason=f"{since}; a {r['tier']} tier partner is assessed every {months} months",
                )
            )
    return due


async def sweep_reassessments(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None) -> int:
    """Send each due partner's reassessment (the tier's default questionnaires, to its
    primary contact, email and audit included) through the assessments service, in
    batches of ``REASSESSMENT_BATCH``; returns how many were sent. A partner with an open
    assessment gets none: the service's unique index decides, so two workers sweeping at
    once send one. A partner that cannot be sent (no primary contact, no questionnaire)
    is marked with the reason for staff, and not tried again until that may have changed."""
    at = now or datetime.now(UTC)
    templates = TemplateCache()
    sent = 0
    async with pool.acquire() as conn:
        due = await reassessments_due(conn, at, settings.policy.cadence_months, settings.policy.sha256)
        for start in range(0, len(due), REASSESSMENT_BATCH):
            batch = await send_due_assessments(
                conn, due[start : start + REASSESSMENT_BATCH], settings, templates, now=at, actor=REASSESSOR
            )
            sent += len(batch.sent)
            for partner_id, reason in batch.blocked.items():
                log.warning("reassessment not sent", partner_id=str(partner_id), reason=reason)
    return sent


class ReminderSweep(msgspec.Struct, kw_only=True):
    reminders: int = 0
    expired: int = 0
    finding_reminders: int = 0
    finding_escalations: int = 0


async def send_reminders(
    pool: asyncpg.Pool, settings: Settings, *, today: date | None = None
) -> ReminderSweep:
    """Remind partners of assessments due in the policy's days (7, 3 and 1 by default),
    escalate overdue ones to the partner's owner (once each, in the recipient's language:
    the assessments service), and expire those still unsubmitted the policy's grace days
    after their due date; then the same for findings (``findings.reminders``): partners
    reminded before a finding's due date, owners told once it passes unfixed."""
    day = today or today_utc()
    policy = settings.policy.assessments
    report = ReminderSweep()
    async with pool.acquire() as conn:
        await note_due_passed(conn, day)
        for due in await reminders_due(conn, day, policy.reminder_days):
            report.reminders += await send_reminder(
                conn, due.assessment_id, due.reminder, today=day, settings=settings
            )
        report.expired = len(await expire_overdue(conn, today=day, grace_days=policy.grace_days))
        report.finding_reminders = await finding_reminders.remind_partners(
            conn, day, settings.policy.findings.reminder_days, settings
        )
        report.finding_escalations = await finding_reminders.escalate_overdue(conn, day, settings)
    return report


async def note_due_passed(conn: asyncpg.Connection, today: date) -> int:
    """Note the open findings and assessments fallen due since the last sweep, so that the
    overdue lists find them by walking newest first (migration 0220); returns how many.

    Only a hint for the planner: the lists still test the due date, so a note that lags
    changes how fast they are, never what they show. ``updated_at`` and ``version`` stay:
    nothing a user sees has changed."""
    findings = await conn.execute(
        f"""
        UPDATE findings SET due_passed = true
        WHERE status IN ({FINDING_DUE_STATUSES}) AND NOT due_passed AND due_on < $1
        """,
        today,
    )
    assessments = await conn.execute(
        f"""
        UPDATE assessments SET due_passed = true
        WHERE status IN ({ASSESSMENT_DUE_STATUSES}) AND NOT due_passed AND due_on < $1
        """,
        today,
    )
    return int(findings.split()[-1]) + int(assessments.split()[-1])


# --- emails ------------------------------------------------------------------------------


def expiring_email(agreement: AgreementDue, days_left: int) -> Email:
    lang = agreement.owner_locale or "zh-CN"
    kind = KIND_NAMES[agreement.kind]
    day = _date(agreement.expires_on, lang)
    return _email(
        agreement.owner_email or "",
        lang,
        I18nText(
            zh_cn=f"协议将于 {days_left} 天后到期：{agreement.partner_name}《{agreement.title}》",
            en=f"Agreement expires in {days_left} days: {agreement.title} with {agreement.partner_name}",
        ),
        [
            I18nText(
                zh_cn=f"合作方“{agreement.partner_name}”的{kind.zh_cn}《{agreement.title}》"
                f"将于 {day} 到期，还有 {days_left} 天。",
                en=f"The {kind.en} “{agreement.title}” with {agreement.partner_name} "
                f"expires on {day}, in {days_left} days.",
            ),
            I18nText(
                zh_cn="请及时续签。协议到期后，仅由它覆盖的数据共享范围将被自动暂停。",
                en="Please renew it in time: once it expires, the data-sharing scopes "
                "it alone covers are suspended automatically.",
            ),
        ],
        [],
    )


def expired_email(agreement: AgreementDue, suspended: list[I18nText], public_url: str) -> Email:
    lang = agreement.owner_locale or "zh-CN"
    kind = KIND_NAMES[agreement.kind]
    day = _date(agreement.expires_on, lang)
    link = f"{public_url}/ui/partners/{agreement.partner_id}#scopes"
    if suspended:
        consequence = I18nText(
            zh_cn=f"以下 {len(suspended)} 个数据共享范围已失去协议覆盖，已自动暂停，"
            "在续签并重新批准前不得再向该合作方提供这些数据：",
            en=f"These {len(suspended)} data-sharing scopes lost their covering agreement and "
            "were suspended: no such data may go to the partner until it is renewed and the "
            "scopes approved again:",
        )
    else:
        consequence = I18nText(
            zh_cn="没有数据共享范围仅依赖此协议，无范围被暂停。",
            en="No data-sharing scope depended on it alone; none was suspended.",
        )
    return _email(
        agreement.owner_email or "",
        lang,
        I18nText(
            zh_cn=f"协议已到期：{agreement.partner_name}《{agreement.title}》"
            + (f"，{len(suspended)} 个数据共享范围已暂停" if suspended else ""),
            en=f"Agreement expired: {agreement.title} with {agreement.partner_name}"
            + (f"; {len(suspended)} data-sharing scope(s) suspended" if suspended else ""),
        ),
        [
            I18nText(
                zh_cn=f"合作方“{agreement.partner_name}”的{kind.zh_cn}《{agreement.title}》已于 {day} 到期。"
                + consequence.zh_cn,
                en=f"The {kind.en} “{agreement.title}” with {agreement.partner_name} expired on {day}. "
                + consequence.en,
            ),
            I18nText(
                zh_cn=f"查看该合作方的数据共享范围：{link}", en=f"The partner's data-sharing scopes: {link}"
            ),
        ],
        [label.get(lang) for label in suspended],
    )
