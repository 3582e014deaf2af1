"""Remediation emails: the partner reminded before a finding's due date, its owner told
when the date passes unfixed (escalation) and when the partner sends a fix to verify.

The sweep is set-based and idempotent: one query finds the findings due a notice, the
notices are claimed in bulk (``notices``, keyed by finding, due date and offset) in the
transaction that queues the emails, so a second run, or two workers at once, send nothing
more. A new due date earns its own reminders. Dates are UTC and injected by tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.assessments.rules import reminder_due
from vendor_risk.audit.models import Actor
from vendor_risk.findings import repository as repo
from vendor_risk.findings.models import Finding
from vendor_risk.notify.outbox import enqueue_email, format_day, simple_email
from vendor_risk.settings import Settings
from vendor_risk.structs import I18nText

SWEEPER = Actor(id=None, label="system: remediation sweep")

SEVERITY = {
    "critical": I18nText(zh_cn="严重", en="critical"),
    "high": I18nText(zh_cn="高", en="high"),
    "medium": I18nText(zh_cn="中", en="medium"),
    "low": I18nText(zh_cn="低", en="low"),
}

# The owner who hears about a finding: its own owner, else its partner's (enabled users).
_OWNER_JOIN = """
    LEFT JOIN users fo ON fo.id = f.owner_id AND fo.disabled_at IS NULL
    LEFT JOIN users po ON po.id = p.owner_id AND po.disabled_at IS NULL
"""
_OWNER_COLUMNS = """
    coalesce(fo.email, po.email) AS owner_email, coalesce(fo.locale, po.locale) AS owner_locale
"""


class Due(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    partner_id: UUID
    partner_name: str
    title: dict[str, str]
    severity: str
    due_on: date
    status: str
    to: str | None
    locale: str | None
    reply_to: str | None = None


def _title(title: dict[str, str], lang: str) -> str:
    return title.get(lang) or title.get("zh-CN") or title.get("en") or ""


def _line(due: Due, lang: str) -> str:
    return f"[{SEVERITY[due.severity].get(lang)}] {_title(due.title, lang)} — {format_day(due.due_on, lang)}"


async def _claim(conn: asyncpg.Connection, keys: Sequence[str]) -> set[str]:
    """Claim these notice keys; those already issued (by any run) are not returned."""
    rows = await conn.fetch(
        "INSERT INTO notices (key) SELECT unnest($1::text[]) ON CONFLICT (key) DO NOTHING RETURNING key",
        list(keys),
    )
    return {r["key"] for r in rows}


async def _record(conn: asyncpg.Connection, dues: Sequence[Due], kind: str, note: str) -> None:
    await repo.add_events(
        conn,
        [(d.id, kind, d.status, "") for d in dues],
        actor_id=None,
        actor_label=SWEEPER.label,
        side="system",
        note=note,
    )


async def remind_partners(
    conn: asyncpg.Connection, today: date, offsets: Sequence[int], settings: Settings
) -> int:
    """Remind each partner's primary contact, in one email per partner, of its open or
    remediating findings due within the policy's days; each (finding, due date, offset)
    once. Returns the findings reminded."""
    if not offsets:
        return 0
    rows = await conn.fetch(
        f"""
        SELECT f.id, f.partner_id, p.name AS partner_name, f.title, f.severity, f.due_on, f.status,
               c.email AS to, c.locale, coalesce(fo.email, po.email) AS reply_to
        FROM findings f
        JOIN partners p ON p.id = f.partner_id
        JOIN LATERAL (
            SELECT c.email, c.locale FROM partner_contacts c WHERE c.partner_id = f.partner_id
            ORDER BY c.is_primary DESC, c.position, c.created_at LIMIT 1
        ) c ON true
        {_OWNER_JOIN}
        WHERE f.status IN ('open', 'remediating') AND f.due_on BETWEEN $1 AND $1 + $2::int
          AND p.status <> 'offboarded'
        ORDER BY f.partner_id, f.due_on, f.id
        """,
        today,
        max(offsets),
    )
    by_partner: dict[UUID, list[tuple[Due, str]]] = defaultdict(list)
    for row in rows:
        due = msgspec.convert(dict(row), Due)
        offset = reminder_due(due.due_on, today, offsets)
        if offset is not None:
            key = f"finding.reminder:{due.id}:{due.due_on.isoformat()}:{offset}"
            by_partner[due.partner_id].append((due, key))
    reminded = 0
    for items in by_partner.values():
        async with conn.transaction():
            claimed = await _claim(conn, [key for _, key in items])
            dues = [due for due, key in items if key in claimed]
            if not dues:
                continue
            first = dues[0]
            lang = first.locale or "zh-CN"
            email = simple_email(
                first.to or "",
                lang,
                I18nText(
                    zh_cn=f"整改提醒：{first.partner_name} 有 {len(dues)} 项发现即将到期",
                    en=f"Remediation reminder: {len(dues)} finding(s) for {first.partner_name} due soon",
                ),
                [
                    I18nText(
                        zh_cn=f"“{first.partner_name}”的以下安全发现即将到整改期限（严重程度、标题、期限）：",
                        en=f"These security findings for {first.partner_name} are nearly due "
                        "(severity, title, due date):",
                    ),
                    I18nText(
                        zh_cn="请在期限前提交整改计划，或提交整改说明和证明材料，由我方复核。"
                        "如需帮助，请直接回复本邮件。",
                        en="Please send your remediation plan before the due date, or what you fixed "
                        "with proof for us to verify. Reply to this email if you need help.",
                    ),
                ],
                [_line(d, lang) for d in dues],
            )
            email = msgspec.structs.replace(email, reply_to=first.reply_to)
            await enqueue_email(
                conn,
                topic="finding.reminder",
                email=email,
                dedupe_key=f"finding.reminder:{sorted(claimed)[0]}",
            )
            await _record(conn, dues, "reminded", first.to or "")
            reminded += len(dues)
    return reminded


async def escalate_overdue(conn: asyncpg.Connection, today: date, settings: Settings) -> int:
    """Tell each finding's owner (else its partner's owner), in one email per owner, of the
    findings past their due date and still not fixed; each (finding, due date) once.
    Returns the findings escalated."""
    rows = await conn.fetch(
        f"""
        SELECT f.id, f.partner_id, p.name AS partner_name, f.title, f.severity, f.due_on, f.status,
               {_OWNER_COLUMNS.replace("owner_email", "to").replace("owner_locale", "locale")}
        FROM findings f
        JOIN partners p ON p.id = f.partner_id
        {_OWNER_JOIN}
        WHERE f.status IN ('open', 'remediating') AND f.due_on < $1
          AND NOT EXISTS (
              SELECT 1 FROM notices n WHERE n.key = 'finding.escalated:' || f.id || ':' || f.due_on)
        ORDER BY f.due_on, f.id
        """,
        today,
    )
    by_owner: dict[str, list[tuple[Due, str]]] = defaultdict(list)
    for row in rows:
        due = msgspec.convert(dict(row), Due)
        # Nobody to tell: the board's overdue filter and the finding.overdue event still show it.
        if due.to:
            by_owner[due.to].append((due, f"finding.escalated:{due.id}:{due.due_on.isoformat()}"))
    escalated = 0
    for owner, items in by_owner.items():
        async with conn.transaction():
            claimed = await _claim(conn, [key for _, key in items])
            dues = [due for due, key in items if key in claimed]
            if not dues:
                continue
            lang = dues[0].locale or "zh-CN"
            await enqueue_email(
                conn,
                topic="finding.escalated",
                email=simple_email(
                    owner,
                    lang,
                    I18nText(
                        zh_cn=f"整改逾期：{len(dues)} 项安全发现已过期限",
                        en=f"Remediation overdue: {len(dues)} finding(s) past their due date",
                    ),
                    [
                        I18nText(
                            zh_cn="以下安全发现已过整改期限，合作方尚未提交整改（合作方、严重程度、标题、期限）：",
                            en="These findings are past their due date and the partner has not sent "
                            "a fix (partner, severity, title, due date):",
                        ),
                        I18nText(
                            zh_cn=f"请跟进，或在发现看板中调整期限、接受风险：{settings.public_url}/ui/findings?overdue=true",
                            en="Please follow up, or change the due date or accept the risk on the "
                            f"findings board: {settings.public_url}/ui/findings?overdue=true",
                        ),
                    ],
                    [f"{d.partner_name}: {_line(d, lang)}" for d in dues],
                ),
                dedupe_key=f"finding.escalated:{sorted(claimed)[0]}",
            )
            await _record(conn, dues, "escalated", owner)
            escalated += len(dues)
    return escalated


async def fix_received(conn: asyncpg.Connection, finding: Finding, settings: Settings) -> None:
    """Tell the finding's owner (else the partner's owner) that a fix awaits verification."""
    row: Any = await conn.fetchrow(
        f"""
        SELECT {_OWNER_COLUMNS} FROM findings f JOIN partners p ON p.id = f.partner_id
        {_OWNER_JOIN} WHERE f.id = $1
        """,
        finding.id,
    )
    if row is None or not row["owner_email"]:
        return
    lang = row["owner_locale"] or "zh-CN"
    link = f"{settings.public_url}/ui/findings/{finding.id}"
    await enqueue_email(
        conn,
        topic="finding.verifying",
        email=simple_email(
            row["owner_email"],
            lang,
            I18nText(
                zh_cn=f"待复核：{finding.partner_name} 提交了整改",
                en=f"To verify: {finding.partner_name} sent a fix",
            ),
            [
                I18nText(
                    zh_cn=f"合作方“{finding.partner_name}”已就以下发现提交整改说明和证明材料：",
                    en=f"{finding.partner_name} sent what it fixed, with proof, for this finding:",
                ),
                I18nText(
                    zh_cn=f"请复核后确认解决或退回：{link}",
                    en=f"Please verify it, then resolve it or send it back: {link}",
                ),
            ],
            [f"[{SEVERITY[finding.severity].get(lang)}] {finding.title.get(lang)}"],
        ),
        dedupe_key=f"finding.verifying:{finding.id}:{finding.version}",
    )
