"""The staff side of self-service on the partner page: the partner's live sessions and
ending them (procurement, risk owners and admins), and the partner's certificates with
their verification (procurement and risk owners); every staff role reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request, Response, get, post

from vendor_risk.agreements.routes import requires_document_reader
from vendor_risk.auth.guards import requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.documents import download
from vendor_risk.errors import Problem
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.selfservice import certificates, contacts, service
from vendor_risk.selfservice.certificates import CertificateDecision
from vendor_risk.selfservice.contacts import ContactChangeDecision
from vendor_risk.selfservice.models import SessionRow
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import Form, conflict_page, read_form
from vendor_risk.ui.web import allows, page_lang, see_other

requires_session_keeper = requires_role(Role.PROCUREMENT, Role.RISK_OWNER, Role.ADMIN)


async def selfservice_panel(
    request: Request[Any, Any, Any],
    db: asyncpg.Connection,
    partner_id: UUID,
    forms: Mapping[str, Form] | None = None,
) -> dict[str, Any]:
    """The partner page's self-service panels: live sessions and certificates (a query
    each), and the buttons the viewer's role may use. ``forms`` re-renders a refused
    decision with what was typed (keyed ``certificate:{id}``)."""
    lang = page_lang(request)
    sessions, certs, changes = await _panel_rows(db, partner_id)
    return {
        "sessions": sessions,
        "can_revoke": await allows(requires_session_keeper, request),
        "certificates": [
            {"c": c, "form": (forms or {}).get(f"certificate:{c.id}") or Form(lang)} for c in certs
        ],
        "can_decide": await allows(requires_record_keeper, request),
        "contact_changes": [
            {"c": c, "form": (forms or {}).get(f"contacts:{c.id}") or Form(lang)} for c in changes
        ],
        "can_download": await allows(requires_document_reader, request),
    }


async def _panel_rows(
    db: asyncpg.Connection, partner_id: UUID
) -> tuple[list[SessionRow], list[certificates.Certificate], list[contacts.ContactChange]]:
    """The three lists of the panels in one round trip (the partner page's query budget)."""
    row = await db.fetchrow(
        f"""
        SELECT
          (SELECT coalesce(json_agg(x ORDER BY x.last_seen_at DESC), '[]') FROM ({SESSIONS}) x) AS sessions,
          (SELECT coalesce(json_agg(x ORDER BY x.created_at DESC), '[]') FROM ({CERTIFICATES}) x) AS certs,
          (SELECT coalesce(json_agg(x ORDER BY x.created_at DESC), '[]') FROM ({CHANGES}) x) AS changes
        """,
        partner_id,
        service.SESSION_IDLE,
    )
    return (
        msgspec.convert(row["sessions"], list[SessionRow], strict=False),
        msgspec.convert(row["certs"], list[certificates.Certificate], strict=False),
        msgspec.convert(row["changes"], list[contacts.ContactChange], strict=False),
    )


SESSIONS: Final = """
    SELECT s.id, s.email, c.name AS contact_name, s.address, s.user_agent, s.created_at, s.last_seen_at,
           least(s.expires_at, s.last_seen_at + $2::interval) AS expires_at
    FROM selfservice_sessions s LEFT JOIN partner_contacts c ON c.id = s.contact_id
    WHERE s.partner_id = $1 AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval
    ORDER BY s.last_seen_at DESC LIMIT 100
"""
CERTIFICATES: Final = f"""
    SELECT {certificates.COLUMNS} FROM certificates c JOIN documents d ON d.id = c.document_id
    WHERE c.partner_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 100
"""
CHANGES: Final = f"""
    SELECT {contacts.COLUMNS} FROM contact_change_requests WHERE partner_id = $1
    ORDER BY created_at DESC LIMIT 5
"""


@post(
    "/partners/{partner_id:uuid}/selfservice/sessions/{session_id:uuid}/revoke",
    guards=[requires_session_keeper],
    name="ui:ss-revoke-session",
    status_code=303,
)
async def revoke_session(
    request: Request[Any, Any, Any], db: DbConnection, partner_id: UUID, session_id: UUID
) -> Response[Any]:
    await service.revoke_sessions(db, actor_of(request), partner_id, session_id)
    return see_other(f"/ui/partners/{partner_id}#selfservice")


@post(
    "/partners/{partner_id:uuid}/selfservice/sessions/revoke",
    guards=[requires_session_keeper],
    name="ui:ss-revoke-sessions",
    status_code=303,
)
async def revoke_all_sessions(
    request: Request[Any, Any, Any], db: DbConnection, partner_id: UUID
) -> Response[Any]:
    await service.revoke_sessions(db, actor_of(request), partner_id)
    return see_other(f"/ui/partners/{partner_id}#selfservice")


@post(
    "/partners/{partner_id:uuid}/certificates/{certificate_id:uuid}/decision",
    guards=[requires_record_keeper],
    name="ui:ss-decide-certificate",
)
async def decide_certificate(
    request: Request[Any, Any, Any],
    db: DbConnection,
    settings: Settings,
    partner_id: UUID,
    certificate_id: UUID,
) -> Response[Any]:
    """Verify or reject a partner's certificate; a stale version shows both side by side."""
    from vendor_risk.partners.pages import partner_page_response

    form = await read_form(request)
    data = form.decode(
        CertificateDecision,
        {"decision": form.get("decision"), "note": form.get("note"), "version": form.get("version")},
    )
    if data is not None:
        try:
            await certificates.decide_certificate(db, actor_of(request), partner_id, certificate_id, data)
        except Problem as exc:
            if exc.slug != "stale-version":
                raise
            current = await certificates.get_certificate(db, partner_id, certificate_id)
            return conflict_page(
                request,
                form,
                {"decision": current.status, "note": current.decision_note},
                [("decision", form.t("ss_cert_decision")), ("note", form.t("ss_cert_note"))],
                action=f"/ui/partners/{partner_id}/certificates/{certificate_id}/decision",
                back=f"/ui/partners/{partner_id}#certificates",
                version=current.version,
            )
        return see_other(f"/ui/partners/{partner_id}#certificate-{certificate_id}")
    return await partner_page_response(
        request, db, settings, partner_id, status_code=400, forms={f"certificate:{certificate_id}": form}
    )


@get(
    "/partners/{partner_id:uuid}/certificates/{certificate_id:uuid}/file",
    guards=[requires_document_reader],
    name="ui:ss-certificate-file",
)
async def certificate_file(db: DbConnection, partner_id: UUID, certificate_id: UUID) -> Response[bytes]:
    info, content = await certificates.certificate_file(db, partner_id, certificate_id)
    return download(info, content)


@post(
    "/partners/{partner_id:uuid}/contact-changes/{change_id:uuid}/decision",
    guards=[requires_record_keeper],
    name="ui:ss-decide-contacts",
)
async def decide_contact_change(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings, partner_id: UUID, change_id: UUID
) -> Response[Any]:
    """Confirm (apply) or reject a partner's proposed contacts."""
    from vendor_risk.partners.pages import partner_page_response

    form = await read_form(request)
    data = form.decode(
        ContactChangeDecision,
        {"decision": form.get("decision"), "note": form.get("note"), "version": form.get("version")},
    )
    if data is not None:
        try:
            await contacts.decide(db, actor_of(request), partner_id, change_id, data, settings)
        except Problem as exc:
            if exc.slug not in ("stale-version", "contact-change-decided"):
                raise
            # Contacts edited since the proposal (or another decision first): say so beside it.
            form.error("_form", form.t("ss_contacts_changed_since"))
        else:
            return see_other(f"/ui/partners/{partner_id}#contact-changes")
    return await partner_page_response(
        request,
        db,
        settings,
        partner_id,
        status_code=409 if data else 400,
        forms={f"contacts:{change_id}": form},
    )


STAFF_PAGES = [
    decide_contact_change,
    revoke_session,
    revoke_all_sessions,
    decide_certificate,
    certificate_file,
]
