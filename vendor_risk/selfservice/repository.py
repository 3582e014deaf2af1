"""SQL of self-service sign-in and sessions. Every query that returns a partner's data
takes the session's ``partner_id`` as a parameter: the scope is a predicate, not a check
made afterwards in Python."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from vendor_risk.assessments.repository import CONTAINING
from vendor_risk.selfservice.models import PartnerChoice, Viewer

# A partner an incident's containment has cut off gets no self-service session until the
# incident ends: a leaked mailbox must not act for the partner.
CONTAINED = f"EXISTS (SELECT 1 FROM incidents i WHERE i.partner_id = p.id AND {CONTAINING})"

# The partners an address may act for: it is one of their contacts, we still deal with
# them (an offboarded partner has nothing left to do here), and no containment stands.
CHOICES = f"""
SELECT p.id AS partner_id, p.name AS partner_name, c.id AS contact_id, c.name AS contact_name
FROM partner_contacts c
JOIN partners p ON p.id = c.partner_id
WHERE lower(c.email) = $1 AND p.status <> 'offboarded' AND NOT {CONTAINED}
ORDER BY p.name, p.id, c.position
"""


async def partner_choices(conn: asyncpg.Connection, email: str) -> list[PartnerChoice]:
    """One row per partner (its first matching contact) for this lower-cased address."""
    seen: set[UUID] = set()
    choices = []
    for row in await conn.fetch(CHOICES, email):
        if row["partner_id"] in seen:
            continue
        seen.add(row["partner_id"])
        choices.append(PartnerChoice(**dict(row)))
    return choices


async def insert_link(
    conn: asyncpg.Connection, token_hash: bytes, email: str, lang: str, address: str, lifetime: timedelta
) -> Any:
    """Store a new link's hash (sweeping links ended a day ago); returns its expiry."""
    await conn.execute("DELETE FROM selfservice_links WHERE expires_at < now() - interval '1 day'")
    return await conn.fetchval(
        """
        INSERT INTO selfservice_links (token_hash, email, lang, address, expires_at)
        VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING expires_at
        """,
        token_hash,
        email,
        lang,
        address[:100],
        lifetime,
    )


async def link_state(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT email, lang, used_at IS NOT NULL AS used, expires_at <= now() AS expired
        FROM selfservice_links WHERE token_hash = $1
        """,
        token_hash,
    )


async def use_link(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Spend a live link, once: two browsers racing with the same link get one session."""
    return await conn.fetchrow(
        """
        UPDATE selfservice_links SET used_at = now()
        WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
        RETURNING email, lang
        """,
        token_hash,
    )


async def open_session(
    conn: asyncpg.Connection,
    token_hash: bytes,
    email: str,
    lang: str,
    choice: PartnerChoice | None,
    address: str,
    user_agent: str,
    lifetime: timedelta,
    idle: timedelta,
) -> UUID:
    """A new session (ended sessions swept on the way), scoped to ``choice`` when given."""
    session_id: UUID = await conn.fetchval(
        """
        WITH swept AS (
            DELETE FROM selfservice_sessions WHERE expires_at <= now() OR last_seen_at <= now() - $9::interval
        )
        INSERT INTO selfservice_sessions (token_hash, email, lang, partner_id, contact_id, address,
                                          user_agent, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)
        RETURNING id
        """,
        token_hash,
        email,
        lang,
        choice.partner_id if choice else None,
        choice.contact_id if choice else None,
        address[:100],
        user_agent[:300],
        lifetime,
        idle,
    )
    return session_id


# One statement per request: extends the idle end, remembers a language picked with the
# switch, and re-checks that the contact still has this address at a partner we deal with.
RESOLVE = """
WITH s AS (
    UPDATE selfservice_sessions s
    SET last_seen_at = now(), lang = coalesce($2, s.lang)
    WHERE s.token_hash = $1 AND s.expires_at > now() AND s.last_seen_at > now() - $3::interval
    RETURNING s.id, s.email, s.lang, s.partner_id, s.contact_id
)
SELECT s.id AS session_id, s.email, s.lang, s.partner_id, s.contact_id,
       p.name AS partner_name, c.name AS contact_name,
       (s.partner_id IS NULL OR p.id IS NOT NULL) AS valid
FROM s
LEFT JOIN partner_contacts c ON c.id = s.contact_id AND lower(c.email) = s.email
LEFT JOIN partners p ON p.id = c.partner_id AND p.id = s.partner_id AND p.status <> 'offboarded'
"""


async def resolve(
    conn: asyncpg.Connection, token_hash: bytes, lang: str | None, idle: timedelta
) -> Viewer | None:
    row = await conn.fetchrow(RESOLVE, token_hash, lang, idle)
    if row is None or not row["valid"]:
        return None
    return Viewer(
        session_id=row["session_id"],
        email=row["email"],
        lang=row["lang"],
        partner_id=row["partner_id"],
        partner_name=row["partner_name"],
        contact_id=row["contact_id"],
        contact_name=row["contact_name"],
    )


async def choose(
    conn: asyncpg.Connection, session_id: UUID, email: str, partner_id: UUID
) -> PartnerChoice | None:
    """Scope the session to ``partner_id`` when its address is a contact there."""
    row = await conn.fetchrow(
        f"""
        WITH pick AS (
            SELECT p.id AS partner_id, p.name AS partner_name, c.id AS contact_id, c.name AS contact_name
            FROM partner_contacts c JOIN partners p ON p.id = c.partner_id
            WHERE lower(c.email) = $2 AND p.id = $3 AND p.status <> 'offboarded' AND NOT {CONTAINED}
            ORDER BY c.position LIMIT 1
        )
        UPDATE selfservice_sessions s SET partner_id = pick.partner_id, contact_id = pick.contact_id
        FROM pick WHERE s.id = $1
        RETURNING pick.partner_id, pick.partner_name, pick.contact_id, pick.contact_name
        """,
        session_id,
        email,
        partner_id,
    )
    return PartnerChoice(**dict(row)) if row else None


async def delete_session(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "DELETE FROM selfservice_sessions WHERE token_hash = $1 RETURNING id, email, partner_id", token_hash
    )


async def revoke(conn: asyncpg.Connection, partner_id: UUID, session_id: UUID | None) -> list[asyncpg.Record]:
    """End one of the partner's sessions (or all, with ``session_id`` None)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        DELETE FROM selfservice_sessions
        WHERE partner_id = $1 AND ($2::uuid IS NULL OR id = $2)
        RETURNING id, email
        """,
        partner_id,
        session_id,
    )
    return rows
