"""The sections of the self-service home page, each built by one provider.

A provider is ``async def provider(ctx: SectionContext) -> Section | None``: it reads what
its section shows for ``ctx.partner_id`` (every query takes it as a parameter: one
partner's page never reads another's rows) and returns the section, or None to leave it
out. The home page runs ``SECTION_PROVIDERS`` in order and renders each section's own
template inside ``<section id="{key}">``, with the section's ``context`` as ``s.context``.

To add a section (notices to acknowledge, findings to remediate…): write a provider and
its template (``templates/selfservice/_section_<key>.html``) in your own module, and add
the provider to ``SECTION_PROVIDERS`` below, one line. Its routes go into
``selfservice.router.ROUTES``; they get the ``viewer`` dependency like the pages here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request

from vendor_risk.agreements import repository as agreements_repo
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.selfservice import contacts as contact_changes
from vendor_risk.selfservice.certificates import list_certificates
from vendor_risk.selfservice.models import Viewer
from vendor_risk.settings import Settings


@dataclass(frozen=True, slots=True)
class SectionContext:
    """What a provider may use; ``partner_id`` is the session's one partner."""

    request: Request[Any, Any, Any]
    db: asyncpg.Connection
    settings: Settings
    viewer: Viewer
    partner_id: UUID
    lang: str
    t: Callable[..., str]


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the anchor (``#key``) and the template's name
    title: str  # in the page's language
    template: str  # e.g. "selfservice/_section_questionnaires.html"
    context: Mapping[str, Any] = field(default_factory=dict)
    # How many items want the contact's action (shown beside the title in the page's
    # table of contents); None when the section asks for nothing.
    pending: int | None = None


SectionProvider = Callable[[SectionContext], Awaitable[Section | None]]


# --- the shipped sections ------------------------------------------------------------------------------

OPEN_QUESTIONNAIRES = """
SELECT a.id, a.kind, a.status, a.due_on, a.sent_at,
       (SELECT array_agg(CASE WHEN $2 = 'en' THEN q.title_en ELSE q.title_zh END ORDER BY ap.position)
        FROM assessment_parts ap JOIN questionnaire_templates q ON q.id = ap.template_id
        WHERE ap.assessment_id = a.id) AS titles,
       EXISTS (SELECT 1 FROM portal_links l
               WHERE l.assessment_id = a.id AND l.revoked_at IS NULL AND l.expires_at > now()) AS live
FROM assessments a
WHERE a.partner_id = $1 AND a.status IN ('sent', 'in_progress', 'changes_requested')
ORDER BY a.due_on, a.sent_at
"""


async def questionnaires(ctx: SectionContext) -> Section | None:
    """Questionnaires awaiting the partner, each opened in the assessment portal."""
    rows = await ctx.db.fetch(OPEN_QUESTIONNAIRES, ctx.partner_id, ctx.lang)
    items = [dict(r) for r in rows]
    return Section(
        key="questionnaires",
        title=ctx.t("ss_section_questionnaires"),
        template="selfservice/_section_questionnaires.html",
        context={"items": items},
        pending=len(items),
    )


async def contacts(ctx: SectionContext) -> Section | None:
    """The partner's contacts as we hold them, and a proposal awaiting procurement."""
    rows = await ctx.db.fetch(
        """
        SELECT name, email, phone, role, is_primary AS primary FROM partner_contacts
        WHERE partner_id = $1 ORDER BY position, created_at
        """,
        ctx.partner_id,
    )
    pending = [
        c for c in await contact_changes.list_changes(ctx.db, ctx.partner_id, 1) if c.status == "pending"
    ]
    return Section(
        key="contacts",
        title=ctx.t("ss_section_contacts"),
        template="selfservice/_section_contacts.html",
        context={"contacts": [dict(r) for r in rows], "pending": pending[0] if pending else None},
    )


async def agreements(ctx: SectionContext) -> Section | None:
    """The partner's agreements with their status; the signed copies where the policy lets
    partners download them (``agreements.partner_downloads``)."""
    today = datetime.now(UTC).date()
    items = await agreements_repo.list_agreements(
        ctx.db, ctx.partner_id, None, None, 100, today, ctx.settings.agreement_expiring_days
    )
    return Section(
        key="agreements",
        title=ctx.t("ss_section_agreements"),
        template="selfservice/_section_agreements.html",
        context={"items": items, "downloads": ctx.settings.policy.agreements.partner_downloads},
    )


async def certificates(ctx: SectionContext) -> Section | None:
    """The partner's certificates with their status, and the upload form's link."""
    items = await list_certificates(ctx.db, ctx.partner_id)
    return Section(
        key="certificates",
        title=ctx.t("ss_section_certificates"),
        template="selfservice/_section_certificates.html",
        context={"items": items},
    )


async def sub_processors(ctx: SectionContext) -> Section | None:
    """The partner's sub-processors with our decision on each, and the declaration form."""
    items = await scopes_repo.list_sub_processors(ctx.db, ctx.partner_id, None, 100)
    return Section(
        key="sub-processors",
        title=ctx.t("ss_section_sub_processors"),
        template="selfservice/_section_sub_processors.html",
        context={"items": items},
    )


async def report(ctx: SectionContext) -> Section | None:
    """How to report a security incident, with the form's link."""
    return Section(key="report", title=ctx.t("ss_report_title"), template="selfservice/_section_report.html")


async def notices_section(ctx: SectionContext) -> Section | None:
    """Notices to acknowledge (built by ``vendor_risk.notices.selfservice``, which imports
    this module's types: imported when called, not at load)."""
    from vendor_risk.notices.selfservice import notices_section as build

    return await build(ctx)


from vendor_risk.findings.selfservice import section as finding_section  # noqa: E402 - listed below, beside the others

# The home page's sections, in order. Add yours here (see the module docstring).
SECTION_PROVIDERS: list[SectionProvider] = [
    questionnaires,
    notices_section,
    finding_section,
    agreements,
    certificates,
    sub_processors,
    contacts,
    report,
]


async def build_sections(ctx: SectionContext) -> list[Section]:
    sections = []
    for provider in SECTION_PROVIDERS:
        section = await provider(ctx)
        if section is not None:
            sections.append(section)
    return sections
