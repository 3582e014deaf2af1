"""SQL for the client register and the clients an incident affects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.clients.models import AffectedClient, Client

CLIENT_COLUMNS = """
    c.id, c.name, c.kind, c.contact_name, c.contact_email, c.contact_phone,
    coalesce((SELECT array_agg(sc.scope_id ORDER BY sc.scope_id) FROM scope_clients sc
              WHERE sc.client_id = c.id), '{}') AS scope_ids,
    c.created_at, c.updated_at, c.version
"""


async def list_clients(conn: asyncpg.Connection, after: tuple[str, UUID] | None, limit: int) -> list[Client]:
    """By name (clients_name_idx), keyset after (lower(name), id)."""
    rows = await conn.fetch(
        f"""
        SELECT {CLIENT_COLUMNS} FROM clients c
        WHERE $1::text IS NULL OR (lower(c.name), c.id) > ($1, $2::uuid)
        ORDER BY lower(c.name), c.id LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [msgspec.convert(dict(r), Client) for r in rows]


async def get_client(conn: asyncpg.Connection, client_id: UUID, *, for_update: bool = False) -> Client | None:
    if for_update:
        await conn.execute("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", client_id)
    row = await conn.fetchrow(f"SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.id = $1", client_id)
    return msgspec.convert(dict(row), Client) if row else None


async def insert_client(conn: asyncpg.Connection, fields: dict[str, Any], created_by: UUID | None) -> UUID:
    client_id: UUID = await conn.fetchval(
        """
        INSERT INTO clients (name, kind, contact_name, contact_email, contact_phone, created_by)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
        """,
        fields["name"],
        fields["kind"],
        fields["contact_name"],
        fields["contact_email"] or "",
        fields["contact_phone"] or "",
        created_by,
    )
    return client_id


async def update_client(conn: asyncpg.Connection, client_id: UUID, fields: dict[str, Any]) -> None:
    await conn.execute(
        """
        UPDATE clients SET name = $2, kind = $3, contact_name = $4, contact_email = $5,
               contact_phone = $6, updated_at = now(), version = version + 1
        WHERE id = $1
        """,
        client_id,
        fields["name"],
        fields["kind"],
        fields["contact_name"],
        fields["contact_email"] or "",
        fields["contact_phone"] or "",
    )


async def set_scopes(conn: asyncpg.Connection, client_id: UUID, scope_ids: Sequence[UUID]) -> None:
    await conn.execute("DELETE FROM scope_clients WHERE client_id = $1", client_id)
    await conn.execute(
        "INSERT INTO scope_clients (scope_id, client_id) SELECT unnest($2::uuid[]), $1",
        client_id,
        list(dict.fromkeys(scope_ids)),
    )


async def unknown_scopes(conn: asyncpg.Connection, scope_ids: Sequence[UUID]) -> list[UUID]:
    rows = await conn.fetch(
        """
        SELECT u.id FROM unnest($1::uuid[]) AS u(id)
        WHERE NOT EXISTS (SELECT 1 FROM scopes s WHERE s.id = u.id)
        """,
        list(scope_ids),
    )
    return [r["id"] for r in rows]


async def scope_choices(conn: asyncpg.Connection, lang: str) -> list[tuple[str, str]]:
    """Every scope that may carry data (not merely requested), as (id, label)."""
    rows = await conn.fetch(
        """
        SELECT s.id, p.name AS partner, CASE WHEN $1 = 'en' THEN d.name_en ELSE d.name_zh END AS category,
               s.purpose
        FROM scopes s JOIN partners p ON p.id = s.partner_id JOIN data_categories d ON d.id = s.category_id
        WHERE p.status <> 'offboarded'
        ORDER BY p.name, d.code, s.created_at
        LIMIT 1000
        """,
        lang,
    )
    sep = " · "
    return [(str(r["id"]), f"{r['partner']}{sep}{r['category']}{sep}{r['purpose']}") for r in rows]


# Scopes that may have carried data: approved now, or approved once and stopped since.
_SHARED = "s.status IN ('approved', 'suspended', 'revoked', 'expired')"


async def affected(
    conn: asyncpg.Connection, partner_id: UUID, categories: Sequence[str], lang: str
) -> list[AffectedClient]:
    """The clients whose data the partner's scopes of ``categories`` (all when empty)
    carry, by name, each once with the categories concerned: one query."""
    rows = await conn.fetch(
        f"""
        SELECT c.id, c.name, c.kind, c.contact_name, c.contact_email, c.contact_phone,
               array_agg(DISTINCT CASE WHEN $3 = 'en' THEN d.name_en ELSE d.name_zh END) AS categories
        FROM scopes s
        JOIN data_categories d ON d.id = s.category_id
        JOIN scope_clients sc ON sc.scope_id = s.id
        JOIN clients c ON c.id = sc.client_id
        WHERE s.partner_id = $1 AND {_SHARED}
          AND (cardinality($2::text[]) = 0 OR d.code = ANY ($2::text[]))
        GROUP BY c.id
        ORDER BY lower(c.name), c.id
        """,
        partner_id,
        list(categories),
        lang,
    )
    return [msgspec.convert(dict(r), AffectedClient) for r in rows]


async def unlisted(conn: asyncpg.Connection, partner_id: UUID, categories: Sequence[str]) -> int:
    """The sum of the approximate counts of clients not listed by name over the partner's
    scopes of ``categories`` (all when empty) that may have carried data."""
    total: int = await conn.fetchval(
        f"""
        SELECT coalesce(sum(s.unlisted_clients_approx), 0)
        FROM scopes s JOIN data_categories d ON d.id = s.category_id
        WHERE s.partner_id = $1 AND {_SHARED}
          AND (cardinality($2::text[]) = 0 OR d.code = ANY ($2::text[]))
        """,
        partner_id,
        list(categories),
    )
    return total
