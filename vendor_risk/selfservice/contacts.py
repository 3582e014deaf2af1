"""Contact changes a partner proposes in self-service. The proposal is the partner's
whole list of contacts; procurement confirms it on the partner page (then the partner
service applies it, audited, at the partner version the proposal was made against) or
rejects it. Nothing changes before confirmation; a newer proposal supersedes a pending one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.errors import Problem, field_error, not_found, stale_version
from vendor_risk.partners import repository as partners_repo
from vendor_risk.partners import service as partners_service
from vendor_risk.partners.models import ContactIn, PartnerUpdate
from vendor_risk.selfservice.notify import notify_partner_staff
from vendor_risk.settings import Settings
from vendor_risk.structs import TEXT, Base, Version


class ContactChange(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    partner_id: UUID
    contacts: list[dict[str, Any]]
    note: str
    base_version: int
    status: str
    requested_by_label: str
    decision_note: str
    decided_at: datetime | None
    created_at: datetime
    version: int


class ContactChangeDecision(Base):
    decision: Literal["confirmed", "rejected"]
    version: Version
    note: Annotated[str, msgspec.Meta(max_length=2000), TEXT] = ""


COLUMNS = """id, partner_id, contacts, note, base_version, status, requested_by_label, decision_note,
              decided_at, created_at, version"""


async def list_changes(conn: asyncpg.Connection, partner_id: UUID, limit: int = 10) -> list[ContactChange]:
    """The partner's proposals, newest first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM contact_change_requests WHERE partner_id = $1"
        " ORDER BY created_at DESC LIMIT $2",
        partner_id,
        limit,
    )
    return [ContactChange(**dict(r)) for r in rows]


async def _get(conn: asyncpg.Connection, partner_id: UUID, change_id: UUID) -> ContactChange:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM contact_change_requests WHERE id = $1 AND partner_id = $2 FOR UPDATE",
        change_id,
        partner_id,
    )
    if row is None:
        raise not_found("contact change", change_id)
    return ContactChange(**dict(row))


async def propose(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    contacts: list[ContactIn],
    base_version: int,
    note: str,
    settings: Settings,
) -> UUID:
    """Record the partner's proposed contacts (a stale ``base_version`` is a 409, so the
    contact sees what changed); the partner's owner is emailed."""
    if not contacts:
        raise field_error("contacts", "keep at least one contact")
    async with conn.transaction():
        current = await conn.fetchval("SELECT version FROM partners WHERE id = $1 FOR UPDATE", partner_id)
        if current != base_version:
            raise stale_version("partner", base_version, current)
        unknown = {c.id for c in contacts if c.id is not None} - await partners_repo.contact_ids(
            conn, partner_id
        )
        if unknown:
            raise field_error("contacts", "unknown contact")
        await conn.execute(
            "UPDATE contact_change_requests SET status = 'superseded', version = version + 1"
            " WHERE partner_id = $1 AND status = 'pending'",
            partner_id,
        )
        change_id: UUID = await conn.fetchval(
            """
            INSERT INTO contact_change_requests (partner_id, contacts, note, base_version, requested_by_label)
            VALUES ($1, $2, $3, $4, $5) RETURNING id
            """,
            partner_id,
            msgspec.to_builtins(contacts),
            note,
            base_version,
            actor.label,
        )
        await audit.record(
            conn,
            actor=actor,
            action="contact_change.proposed",
            entity_type="partner",
            entity_id=partner_id,
            after={"change_id": change_id, "contacts": contacts, "note": note},
        )
        await notify_partner_staff(
            conn,
            settings,
            partner_id,
            topic="contact_change.proposed",
            dedupe_key=f"contact_change.proposed:{change_id}",
            what="ss_notify_contacts",
            anchor="contact-changes",
        )
    return change_id


async def decide(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    change_id: UUID,
    data: ContactChangeDecision,
    settings: Settings,
) -> ContactChange:
    """Confirm (apply the contacts through the partner service, at the proposal's base
    version: contacts edited since are a 409 ``stale-version``) or reject a proposal."""
    async with conn.transaction():
        change = await _get(conn, partner_id, change_id)
        if change.version != data.version:
            raise stale_version("contact change", data.version, change.version)
        if change.status != "pending":
            raise Problem(409, "contact-change-decided", f"this proposal is {change.status} already")
        if data.decision == "confirmed":
            contacts = msgspec.convert(change.contacts, list[ContactIn])
            await partners_service.update_partner(
                conn,
                actor,
                partner_id,
                PartnerUpdate(version=change.base_version, contacts=contacts),
                settings,
            )
        await conn.execute(
            """
            UPDATE contact_change_requests
            SET status = $3, decision_note = $4, decided_by = $5, decided_at = now(), version = version + 1
            WHERE id = $1 AND partner_id = $2
            """,
            change_id,
            partner_id,
            data.decision,
            data.note,
            actor.id,
        )
        await audit.record(
            conn,
            actor=actor,
            action=f"contact_change.{data.decision}",
            entity_type="partner",
            entity_id=partner_id,
            after={"change_id": change_id, "note": data.note},
        )
        return await _get(conn, partner_id, change_id)
