"""The client register (the firm's own clients) and the clients an incident affects.

Client contact data is personal data of the firm's own clients: only risk owners keep the
register and read it, auditors read it (see ``pages.py``); procurement, which onboards
partners, never sees it. Every change is audited.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.assessments.emails import format_date
from vendor_risk.assessments.rendering import render
from vendor_risk.audit.models import Actor
from vendor_risk.clients import repository as repo
from vendor_risk.clients.models import Affected, Client, ClientCreate, ClientUpdate
from vendor_risk.errors import field_error, not_found, stale_version
from vendor_risk.i18n import translator
from vendor_risk.reports.pdf import stylesheet, to_pdf

# The art. 57 record's texts a notice letter carries.
LETTER_FIELDS = ("cause", "possible_harm", "remedial_measures", "individual_measures", "contact")


async def load(conn: asyncpg.Connection, client_id: UUID) -> Client:
    found = await repo.get_client(conn, client_id)
    if found is None:
        raise not_found("client", client_id)
    return found


async def _check_scopes(conn: asyncpg.Connection, scope_ids: list[UUID]) -> None:
    if await repo.unknown_scopes(conn, scope_ids):
        raise field_error("scope_ids", "no such scope")


async def create_client(conn: asyncpg.Connection, actor: Actor, data: ClientCreate) -> Client:
    """Add a client and the scopes carrying its data; audited ``client.created``."""
    fields: dict[str, Any] = msgspec.structs.asdict(data)
    async with conn.transaction():
        await _check_scopes(conn, data.scope_ids)
        client_id = await repo.insert_client(conn, fields, actor.id)
        await repo.set_scopes(conn, client_id, data.scope_ids)
        client = await load(conn, client_id)
        await audit.record(
            conn,
            actor=actor,
            action="client.created",
            entity_type="client",
            entity_id=client_id,
            after=client,
        )
    return client


async def update_client(
    conn: asyncpg.Connection, actor: Actor, client_id: UUID, data: ClientUpdate
) -> Client:
    """Replace a client's fields and scopes; a stale ``version`` is a 409."""
    async with conn.transaction():
        before = await repo.get_client(conn, client_id, for_update=True)
        if before is None:
            raise not_found("client", client_id)
        if before.version != data.version:
            raise stale_version("client", data.version, before.version)
        await _check_scopes(conn, data.scope_ids)
        await repo.update_client(conn, client_id, msgspec.structs.asdict(data))
        await repo.set_scopes(conn, client_id, data.scope_ids)
        after = await load(conn, client_id)
        await audit.record(
            conn,
            actor=actor,
            action="client.updated",
            entity_type="client",
            entity_id=client_id,
            before=before,
            after=after,
        )
    return after


async def affected(conn: asyncpg.Connection, incident_id: UUID, lang: str) -> Affected:
    """The clients the incident affects, across its partner's scopes of the incident's
    data categories (every category when the incident names none)."""
    row = await conn.fetchrow(
        "SELECT partner_id, affected_categories FROM incidents WHERE id = $1", incident_id
    )
    if row is None:
        raise not_found("incident", incident_id)
    categories = list(row["affected_categories"] or [])
    clients = await repo.affected(conn, row["partner_id"], categories, lang)
    return Affected(
        incident_id=incident_id,
        partner_id=row["partner_id"],
        categories=categories,
        clients=clients,
        persons=sum(1 for c in clients if c.kind == "person"),
        companies=sum(1 for c in clients if c.kind == "company"),
        unlisted=await repo.unlisted(conn, row["partner_id"], categories),
    )


async def fill_record_counts(
    conn: asyncpg.Connection, actor: Actor, incident_id: UUID, lang: str
) -> Affected:
    """Write the affected clients into the art. 57 record: the number of persons affected
    (every client counted: a company's data names its people) and who they are; the
    record stays editable. Audited ``incident.record_counts_filled``."""
    found = await affected(conn, incident_id, lang)
    names = (
        "、".join(c.name for c in found.clients)
        if lang == "zh-CN"
        else ", ".join(c.name for c in found.clients)
    )
    who = (
        f"{len(found.clients)} 个客户（个人 {found.persons}，企业 {found.companies}）：{names}"
        if lang == "zh-CN"
        else f"{len(found.clients)} clients ({found.persons} persons, {found.companies} companies): {names}"
    )
    if found.unlisted:
        who += (
            f"；另有约 {found.unlisted:,} 个未逐一列名的客户"
            if lang == "zh-CN"
            else f"; and about {found.unlisted:,} clients not listed by name"
        )
    total = len(found.clients) + found.unlisted
    async with conn.transaction():
        before = await conn.fetchrow(
            "SELECT persons_affected_approx, affected_persons FROM incident_notification_records"
            " WHERE incident_id = $1 FOR UPDATE",
            incident_id,
        )
        await conn.execute(
            """
            INSERT INTO incident_notification_records (incident_id, persons_affected_approx, affected_persons,
                                                       updated_by, updated_by_label)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (incident_id) DO UPDATE
            SET persons_affected_approx = EXCLUDED.persons_affected_approx,
                affected_persons = EXCLUDED.affected_persons, updated_at = now(),
                updated_by = EXCLUDED.updated_by, updated_by_label = EXCLUDED.updated_by_label,
                version = incident_notification_records.version + 1
            """,
            incident_id,
            total,
            who,
            actor.id,
            actor.label,
        )
        await audit.record(
            conn,
            actor=actor,
            action="incident.record_counts_filled",
            entity_type="incident",
            entity_id=incident_id,
            before=dict(before) if before else None,
            after={
                "persons_affected_approx": total,
                "clients": [c.id for c in found.clients],
                "unlisted": found.unlisted,
            },
        )
    return found


async def notice_letters(conn: asyncpg.Connection, incident_id: UUID) -> bytes:
    """One combined PDF: the art. 57 notice letter to each client affected, each in Chinese
    and in English (the record's texts as the firm wrote them), one client a page."""

    zh = await affected(conn, incident_id, "zh-CN")
    en = await affected(conn, incident_id, "en")
    english = {c.id: c.categories for c in en.clients}
    row = await conn.fetchrow(
        """
        SELECT i.detected_at, p.name AS partner_name, r.cause, r.possible_harm, r.remedial_measures,
               r.individual_measures, r.contact
        FROM incidents i JOIN partners p ON p.id = i.partner_id
        LEFT JOIN incident_notification_records r ON r.incident_id = i.id
        WHERE i.id = $1
        """,
        incident_id,
    )
    day = row["detected_at"].date()
    clients = [
        {
            "name": c.name,
            "categories_by_lang": {"zh-CN": "、".join(c.categories), "en": ", ".join(english.get(c.id, []))},
        }
        for c in zh.clients
    ]
    html = render(
        "reports/client_notice_letters.html",
        {
            "zh": translator("zh-CN"),
            "en": translator("en"),
            "clients": clients,
            "record": {
                k: row[k] or ""
                for k in ("cause", "possible_harm", "remedial_measures", "individual_measures", "contact")
            },
            "partner_name": row["partner_name"],
            "dates": {"zh-CN": format_date(day, "zh-CN"), "en": format_date(day, "en")},
            "stylesheet": stylesheet(),
        },
    )
    return await to_pdf(html)
