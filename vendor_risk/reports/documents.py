"""What each printed document shows, gathered from the domains' services and repositories.

A document is an HTML page rendered from a Jinja template under ``templates/reports/``
(the same template serves the HTML view and the PDF), with a context built here. The
functions read; they never write.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from vendor_risk.agreements import repository as agreements_repo
from vendor_risk.assessments import repository as assessments_repo
from vendor_risk.assessments import service as assessments
from vendor_risk.assessments import views
from vendor_risk.assessments.rules import rate
from vendor_risk.errors import not_found
from vendor_risk.findings import repository as findings_repo
from vendor_risk.i18n import translator
from vendor_risk.incidents import repository as incidents_repo
from vendor_risk.incidents import service as incidents
from vendor_risk.partners import repository as partners_repo
from vendor_risk.partners import service as partners
from vendor_risk.questionnaires.service import get_template
from vendor_risk.reports import charts, snapshots
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.settings import Settings

# Documents list everything; these bound a runaway partner at a size a printout can take.
MAX_ITEMS = 500
NEED_ACTION_ROWS = 50
LIVE_STATUSES = ("proposed", "onboarding", "active", "suspended", "offboarding")


async def assessment_report(
    conn: asyncpg.Connection, assessment_id: UUID, lang: str, settings: Settings, today: date
) -> dict[str, Any]:
    """The assessment report: the partner's identity, its scopes, the score with its
    breakdown per questionnaire and section, the rating with its steps, the answers, the
    findings with their acceptances, the reviewer's decision and signature lines."""
    detail = await assessments.detail(conn, assessment_id, today, rating_policy=settings.policy.rating)
    partner = await partners.load(conn, detail.partner_id, settings)
    t = translator(lang)
    parts = []
    results = {
        p.questionnaire: p.result for p in (detail.score_breakdown.parts if detail.score_breakdown else [])
    }
    for part in detail.answers:
        # Only the sections the partner was sent (those fitting its services).
        stored = await get_template(conn, part.questionnaire, part.version)
        template = stored.content.only_sections(part.sections)
        scores = results.get(part.questionnaire)
        by_question = {q.question_id: q for s in (scores.sections if scores else []) for q in s.questions}
        by_section = {s.section_id: s for s in (scores.sections if scores else [])}
        sections = []
        for section in template.sections:
            rows = [
                {
                    "number": views.question_number(template, section, question),
                    "text": question.text.get(lang),
                    "shown": views.describe(question, part.answers.get(question.id), lang, t),
                    "score": by_question.get(question.id),
                    "critical": question.critical,
                }
                for question in section.questions
            ]
            sections.append(
                {"title": section.title.get(lang), "score": by_section.get(section.id), "rows": rows}
            )
        parts.append(
            {
                "key": part.questionnaire,
                "title": part.title.get(lang),
                "version": part.version,
                "score": scores.score if scores else None,
                "sections": sections,
            }
        )
    rating = detail.rating
    if rating is None and detail.score is not None:
        counts = await findings_repo.open_counts(conn, partner.id, today)
        rating = rate(partner.tier, detail.score, counts, settings.policy.rating)
    decision = next((r for r in reversed(detail.reviews)), None) if detail.reviews else None
    return {
        "a": detail,
        "partner": partner,
        "scopes": await scopes_repo.list_scopes(conn, partner.id, None, None, MAX_ITEMS),
        "parts": parts,
        "rating": rating,
        "findings": await findings_repo.list_findings(
            conn, findings_repo.ListFilters(assessment_id=assessment_id), today, None, MAX_ITEMS
        ),
        "decision": decision,
    }


async def partner_dossier(
    conn: asyncpg.Connection, partner_id: UUID, lang: str, settings: Settings, today: date, now: datetime
) -> dict[str, Any]:
    """Everything the firm holds on one partner: identity and contacts, tier and rating with
    their history, agreements, scopes, sub-processors, impact assessments, assessments,
    findings and incidents."""
    partner = await partners.load(conn, partner_id, settings)
    return {
        "partner": partner,
        "agreements": await agreements_repo.list_agreements(
            conn, partner_id, None, None, MAX_ITEMS, today, settings.agreement_expiring_days
        ),
        "scopes": await scopes_repo.list_scopes(conn, partner_id, None, None, MAX_ITEMS),
        "sub_processors": await scopes_repo.list_sub_processors(conn, partner_id, None, MAX_ITEMS),
        "impact_assessments": await scopes_repo.list_impact_assessments(conn, partner_id, None, MAX_ITEMS),
        "assessments": await assessments_repo.list_assessments(
            conn, assessments_repo.ListFilters(partner_id=partner_id), today, None, MAX_ITEMS
        ),
        "findings": await findings_repo.list_findings(
            conn, findings_repo.ListFilters(partner_id=partner_id), today, None, MAX_ITEMS
        ),
        "incidents": await incidents_repo.list_incidents(
            conn, incidents_repo.ListFilters(partner_id=partner_id), now, None, MAX_ITEMS
        ),
        "history_chart": charts.partner_history_svg(await charts.partner_history(conn, partner_id), lang),
    }


async def notification_record(
    conn: asyncpg.Connection, incident_id: UUID, lang: str, now: datetime
) -> dict[str, Any]:
    """The PIPL art. 57 notification record, with the partner's legal name and credit code,
    laid out to be printed, signed and stamped."""
    incident = await incidents.load(conn, incident_id, now=now)
    record = await incidents.notification_record(conn, incident)
    names = {c.code: c.name.get(lang) for c in await scopes_repo.list_categories(conn)}
    identity = await conn.fetchrow(
        "SELECT legal_name, credit_code, registration_number, country FROM partners WHERE id = $1",
        incident.partner_id,
    )
    if identity is None:
        raise not_found("partner", incident.partner_id)
    return {
        "incident": incident,
        "record": record,
        "categories": [names.get(code, code) for code in record.categories],
        "identity": dict(identity),
    }


async def portfolio(conn: asyncpg.Connection, lang: str, settings: Settings, today: date) -> dict[str, Any]:
    """The portfolio report: the heat map, the 12-month trends and the partners that need
    action (rated high or critical, worst first, then those with something overdue or
    expiring)."""
    heat = await snapshots.heat_map(conn)
    worst = await partners_repo.list_partners(
        conn,
        partners_repo.ListFilters(ratings=["critical", "high"], statuses=LIVE_STATUSES),
        None,
        NEED_ACTION_ROWS,
        today,
        settings.agreement_expiring_days,
        sort="rating",
    )
    attention = await partners_repo.list_partners(
        conn,
        partners_repo.ListFilters(needs_attention=True),
        None,
        NEED_ACTION_ROWS,
        today,
        settings.agreement_expiring_days,
    )
    seen = {p.id for p in worst}
    return {
        "heat": heat,
        "heat_svg": charts.heat_map_svg(heat, lang),
        "charts": charts.trend_charts(await snapshots.trend(conn, today), lang),
        "worst": worst + [p for p in attention if p.id not in seen],
    }


def generated(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)
