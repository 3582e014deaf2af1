"""Agreements and their signed documents: validation, transactions, audit.

An agreement that stops backing a scope (terminated, or edited so it no longer covers the
category) suspends that scope in the same transaction: approved data flows never outlive
the paper that allows them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.agreements import repository as repo
from vendor_risk.agreements.models import (
    Agreement,
    AgreementCreate,
    AgreementUpdate,
    DocumentVersion,
    Termination,
    TerminationResult,
)
from vendor_risk.audit.models import Actor
from vendor_risk.documents import DocumentInfo, check_upload, read_document, store_document, stored_filename
from vendor_risk.errors import Problem, not_found, stale_version
from vendor_risk.partners.records import invalid, lock, today_utc
from vendor_risk.partners.rules import period_problem
from vendor_risk.scopes import repository as scopes_repo
from vendor_risk.scopes.service import suspend_uncovered_scopes
from vendor_risk.settings import Settings


async def load(
    conn: asyncpg.Connection,
    partner_id: UUID,
    agreement_id: UUID,
    settings: Settings,
    *,
    for_update: bool = False,
) -> Agreement:
    agreement = await repo.get_agreement(
        conn,
        partner_id,
        agreement_id,
        today_utc(),
        settings.agreement_expiring_days,
        for_update=for_update,
    )
    if agreement is None:
        raise not_found("agreement", agreement_id)
    return agreement


async def _problems(conn: asyncpg.Connection, kind: str, fields: dict[str, Any]) -> None:
    """A 400 listing every problem with an agreement's full set of fields."""
    problems: list[tuple[str, str]] = []
    if reason := period_problem(fields["effective_from"], fields["expires_on"]):
        problems.append(("expires_on", f"{reason} (effective_from)"))
    parties = {s.party for s in fields["signatories"]}
    if parties != {"us", "partner"}:
        problems.append(("signatories", "at least one signatory for each side (us, partner)"))
    if fields["clauses"] and kind != "dpa":
        problems.append(("clauses", "the PIPL art. 21 checklist applies to DPAs only"))
    wanted = set(fields["category_ids"])
    unknown = wanted - await scopes_repo.existing_category_ids(conn, list(wanted))
    if unknown:
        problems.append(("category_ids", f"unknown data category {min(map(str, unknown))}"))
    if problems:
        raise invalid(problems)


def _refuse_closed(status: str) -> None:
    if status == "offboarded":
        raise Problem(409, "partner-closed", "the partner is offboarded: its records are read-only")


async def create_agreement(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: AgreementCreate,
    settings: Settings,
) -> Agreement:
    """Record a signed agreement. A DPA missing art. 21 clauses is saved but flagged."""
    fields = msgspec.structs.asdict(data)
    fields["effective_from"] = data.effective_from or data.signed_on
    fields["clauses"] = list(dict.fromkeys(data.clauses))
    async with conn.transaction():
        _refuse_closed(await lock(conn, partner_id))
        await _problems(conn, data.kind, fields)
        agreement_id = await repo.insert_agreement(conn, partner_id, data.kind, fields, actor.id)
        await repo.set_categories(conn, agreement_id, data.category_ids)
        agreement = await load(conn, partner_id, agreement_id, settings)
        await audit.record(
            conn,
            actor=actor,
            action="agreement.created",
            entity_type="agreement",
            entity_id=agreement_id,
            after=agreement,
        )
    return agreement


async def update_agreement(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    agreement_id: UUID,
    data: AgreementUpdate,
    settings: Settings,
) -> Agreement:
    """Change the fields sent (``version`` required). Scopes the agreement no longer backs
    are suspended in the same transaction."""
    async with conn.transaction():
        _refuse_closed(await lock(conn, partner_id))
        before = await load(conn, partner_id, agreement_id, settings, for_update=True)
        if before.version != data.version:
            raise stale_version("agreement", data.version, before.version)
        if before.status == "terminated":
            raise Problem(409, "agreement-terminated", "a terminated agreement cannot change")
        fields: dict[str, Any] = {
            "title": before.title,
            "reference": before.reference,
            "signed_on": before.signed_on,
            "effective_from": before.effective_from,
            "expires_on": before.expires_on,
            "signatories": before.signatories,
            "clauses": before.clauses,
            "notes": before.notes,
            "notice_period_days": before.notice_period_days,
            "category_ids": [c.id for c in before.categories],
        }
        fields |= {
            name: value
            for name, value in msgspec.structs.asdict(data).items()
            if value is not msgspec.UNSET and name != "version"
        }
        fields["clauses"] = list(dict.fromkeys(fields["clauses"]))
        await _problems(conn, before.kind, fields)
        await repo.update_agreement(conn, agreement_id, fields)
        if data.category_ids is not msgspec.UNSET:
            await repo.set_categories(conn, agreement_id, data.category_ids)
        after = await load(conn, partner_id, agreement_id, settings)
        await audit.record(
            conn,
            actor=actor,
            action="agreement.updated",
            entity_type="agreement",
            entity_id=agreement_id,
            before=before,
            after=after,
        )
        await suspend_uncovered_scopes(
            conn, actor, partner_id, settings, reason=f"agreement {after.title!r} changed"
        )
    return after


async def terminate_agreement(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    agreement_id: UUID,
    data: Termination,
    settings: Settings,
) -> TerminationResult:
    """Terminate an agreement now, with a reason; scopes it alone backed are suspended."""
    async with conn.transaction():
        await lock(conn, partner_id)
        before = await load(conn, partner_id, agreement_id, settings, for_update=True)
        if data.version is not None and data.version != before.version:
            raise stale_version("agreement", data.version, before.version)
        if before.status == "terminated":
            raise Problem(409, "agreement-terminated", "the agreement is already terminated")
        await repo.terminate(conn, agreement_id, data.reason, actor.id)
        after = await load(conn, partner_id, agreement_id, settings)
        await audit.record(
            conn,
            actor=actor,
            action="agreement.terminated",
            entity_type="agreement",
            entity_id=agreement_id,
            before=before,
            after=after,
        )
        suspended = await suspend_uncovered_scopes(
            conn, actor, partner_id, settings, reason=f"agreement {after.title!r} terminated"
        )
    return TerminationResult(agreement=after, suspended_scope_ids=suspended)


async def upload_document(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    agreement_id: UUID,
    data: bytes,
    filename: str,
    settings: Settings,
) -> Agreement:
    """Store the signed document (checked by content, encrypted, named with the extension
    of its real type) and attach it as the next version; earlier versions stay listed and
    downloadable, and the audit trail keeps every hash."""
    content_type = check_upload(data, filename)
    filename = stored_filename(filename, content_type)
    async with conn.transaction():
        _refuse_closed(await lock(conn, partner_id))
        before = await load(conn, partner_id, agreement_id, settings, for_update=True)
        document = await store_document(
            conn,
            key=settings.current_data_key,
            data=data,
            filename=filename,
            content_type=content_type,
            purpose="agreement",
            actor=actor,
        )
        await repo.attach_document(conn, agreement_id, document.id)
        after = await load(conn, partner_id, agreement_id, settings)
        await audit.record(
            conn,
            actor=actor,
            action="agreement.document_uploaded",
            entity_type="agreement",
            entity_id=agreement_id,
            before=before,
            after=after,
        )
    return after


async def document_versions(
    conn: asyncpg.Connection, partner_id: UUID, agreement_id: UUID
) -> list[DocumentVersion]:
    """Every signed document the agreement has had, newest first."""
    versions = await repo.document_versions(conn, partner_id, agreement_id)
    if versions is None:
        raise not_found("agreement", agreement_id)
    return versions


async def download_document_version(
    conn: asyncpg.Connection, partner_id: UUID, agreement_id: UUID, version: int, settings: Settings
) -> tuple[DocumentInfo, bytes]:
    """One numbered version of the agreement's signed document: its info and bytes."""
    exists, document_id = await repo.document_version_id(conn, partner_id, agreement_id, version)
    if not exists:
        raise not_found("agreement", agreement_id)
    found = None if document_id is None else await read_document(conn, settings.data_keys, document_id)
    if found is None:
        raise not_found("document version", version)
    return found


async def download_document(
    conn: asyncpg.Connection, partner_id: UUID, agreement_id: UUID, settings: Settings
) -> tuple[DocumentInfo, bytes]:
    """The agreement's signed document: its info and original bytes."""
    exists, document_id = await repo.document_id_of(conn, partner_id, agreement_id)
    if not exists:
        raise not_found("agreement", agreement_id)
    found = None if document_id is None else await read_document(conn, settings.data_keys, document_id)
    if found is None:
        raise Problem(404, "no-document", f"agreement {agreement_id} has no signed document yet")
    return found
