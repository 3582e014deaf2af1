"""SQL for partners, their contacts, the partner list and the dashboard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Literal, get_args
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk.pagination import Params, sql_limit
from vendor_risk.partners.models import ContactIn, Partner, PartnerSummary
from vendor_risk.partners.rules import TIERS, FindingFact, TierResult

# Why a partner needs attention, as SQL over `p` with $1 = today and $2 = the expiring
# window in days. An expired or expiring agreement stops counting once a later agreement
# of the same kind runs beyond the window (it was renewed) or once it is terminated.
# Written as a scalar subquery (not EXISTS) so that it stays a per-row index probe: as an
# anti-join the planner would hash every agreement of every partner.
_NOT_RENEWED = """
    (SELECT true FROM agreements r
     WHERE r.partner_id = a.partner_id AND r.kind = a.kind AND r.id <> a.id
       AND r.terminated_at IS NULL
       AND (r.expires_on IS NULL OR r.expires_on > $1::date + $2::int)
     LIMIT 1) IS NULL
"""
# The set of expired or expiring agreements not renewed, read from the counters of
# migration 0125 (both dashboards): a group of
# live agreements of one partner and kind is due when its last expiry (its horizon) is
# within the window. DUE_AGREEMENTS_COUNT filters dashboard_agreement_days `d`;
# DUE_AGREEMENTS_SQL lists, given a further predicate on `a`: it walks the expiry index,
# probes each agreement's group (a scalar subquery, so never a hash of every group) and
# stops at the page.
DUE_AGREEMENTS_COUNT = "d.horizon <= $1::date + $2::int"
DUE_AGREEMENTS_SQL = """
    SELECT a.id, a.partner_id, p.name AS partner_name, a.kind, a.title, a.expires_on
    FROM (SELECT a.* FROM agreements a
          WHERE a.terminated_at IS NULL AND a.expires_on <= $1::date + $2::int AND {where}
            AND (SELECT g.horizon FROM dashboard_agreement_groups g
                 WHERE g.partner_id = a.partner_id AND g.kind = a.kind) <= $1::date + $2::int
          ORDER BY a.expires_on, a.id LIMIT $3) a
    JOIN partners p ON p.id = a.partner_id
"""
ATTENTION_SQL = f"""
CASE WHEN p.status IN ('offboarding', 'offboarded') THEN '{{}}'::text[] ELSE array_remove(ARRAY[
    CASE WHEN p.reassessment_due_at IS NOT NULL THEN 'reassessment_due' END,
    CASE WHEN EXISTS (
        SELECT 1 FROM agreements a
        WHERE a.partner_id = p.id AND a.terminated_at IS NULL AND a.expires_on < $1::date
          AND {_NOT_RENEWED}) THEN 'agreement_expired' END,
    CASE WHEN EXISTS (
        SELECT 1 FROM agreements a
        WHERE a.partner_id = p.id AND a.terminated_at IS NULL
          AND a.expires_on BETWEEN $1::date AND $1::date + $2::int
          AND {_NOT_RENEWED}) THEN 'agreement_expiring' END,
    CASE WHEN EXISTS (
        SELECT 1 FROM scopes s
        WHERE s.partner_id = p.id AND s.status = 'approved' AND s.ends_on < $1::date)
        THEN 'scope_ended' END,
    CASE WHEN EXISTS (
        SELECT 1 FROM scopes s
        WHERE s.partner_id = p.id AND s.status = 'approved'
          AND s.ends_on BETWEEN $1::date AND $1::date + $2::int)
        THEN 'scope_ending' END
], NULL) END
"""
# Whether a partner needs attention, as a filter. Each branch is a scalar subquery (LIMIT 1,
# never hashed) so that a page is found by walking the partners newest first and probing
# each through its indexes, which stops after the page; as `IN (subquery)` the planner
# computed the whole set first, about 100 ms at 100k partners before the first row.
NEEDS_ATTENTION_SQL = f"""
(p.status NOT IN ('offboarding', 'offboarded') AND (
    p.reassessment_due_at IS NOT NULL
    OR (SELECT true FROM agreements a
        WHERE a.partner_id = p.id AND a.terminated_at IS NULL AND a.expires_on <= $1::date + $2::int
          AND {_NOT_RENEWED}
        LIMIT 1) IS NOT NULL
    OR (SELECT true FROM scopes s
        WHERE s.partner_id = p.id AND s.status = 'approved' AND s.ends_on <= $1::date + $2::int
        LIMIT 1) IS NOT NULL))
"""
# Per-partner figures owned by the assessments domain: the score of the latest approved
# security assessment and the count of open findings (both read through indexes).
STATS_LATERAL = """
LEFT JOIN LATERAL (
    SELECT (SELECT a.score FROM assessments a
            WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind <> 'offboarding'
            ORDER BY a.reviewed_at DESC LIMIT 1) AS last_assessment_score,
           (SELECT count(*)::int FROM findings f
            WHERE f.partner_id = p.id
              AND f.status IN ('open', 'remediating', 'verifying')) AS open_findings
) stats ON true
"""

PARTNER_COLUMNS = """
    p.id, p.name, p.legal_name, p.credit_code, p.registration_number, p.country, p.website,
    p.domain, p.services, p.service_types, p.business_criticality, p.owner_id, p.status, p.status_reason,
    p.status_changed_at, p.tier, p.tier_points, p.tier_factors, p.reassessment_due_at,
    p.reassessment_due_reason, p.next_reassessment_at, p.residual_rating, p.residual_rated_at,
    p.created_at, p.updated_at, p.version, p.reassessment_blocked, p.reassessment_blocked_at
"""

SUMMARY_COLUMNS = """
    p.id, p.name, p.legal_name, p.country, p.credit_code, p.business_criticality,
    p.service_types, p.owner_id, p.status, p.tier, p.next_reassessment_at, p.residual_rating,
    p.residual_rated_at, p.created_at, p.updated_at, p.version
"""


async def get_partner(
    conn: asyncpg.Connection,
    partner_id: UUID,
    today: date,
    expiring_within_days: int,
    *,
    for_update: bool = False,
) -> Partner | None:
    if for_update:
        await conn.execute("SELECT 1 FROM partners WHERE id = $1 FOR UPDATE", partner_id)
    row = await conn.fetchrow(
        f"""
        SELECT {PARTNER_COLUMNS}, {ATTENTION_SQL} AS attention,
               stats.last_assessment_score, stats.open_findings,
               coalesce((
                   SELECT jsonb_agg(jsonb_build_object(
                              'id', c.id, 'name', c.name, 'email', c.email, 'phone', c.phone,
                              'role', c.role, 'primary', c.is_primary, 'locale', c.locale)
                          ORDER BY c.position, c.created_at)
                   FROM partner_contacts c WHERE c.partner_id = p.id), '[]') AS contacts
        FROM partners p {STATS_LATERAL}
        WHERE p.id = $3
        """,
        today,
        expiring_within_days,
        partner_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["needs_attention"] = bool(values["attention"])
    return msgspec.convert(values, Partner)


async def created_by(conn: asyncpg.Connection, partner_id: UUID) -> UUID | None:
    """Who registered the partner (the request a two-person rule's approvers may not own)."""
    user_id: UUID | None = await conn.fetchval("SELECT created_by FROM partners WHERE id = $1", partner_id)
    return user_id


async def status_of(conn: asyncpg.Connection, partner_id: UUID, *, lock: bool = False) -> str | None:
    """The partner's status (None if it does not exist); ``lock`` serialises its changes."""
    suffix = " FOR UPDATE" if lock else ""
    status: str | None = await conn.fetchval(f"SELECT status FROM partners WHERE id = $1{suffix}", partner_id)
    return status


class ListFilters(msgspec.Struct, kw_only=True):
    statuses: Sequence[str] | None = None
    tiers: Sequence[str] | None = None
    # Partners providing any of these services.
    service_types: Sequence[str] | None = None
    owner_id: UUID | None = None
    q: str | None = None
    needs_attention: bool | None = None
    # Residual ratings; "unrated" selects partners without one yet.
    ratings: Sequence[str] | None = None


PartnerSort = Literal["created", "name", "tier", "reassessment", "rating"]
PARTNER_SORTS: Final[tuple[PartnerSort, ...]] = get_args(PartnerSort)


class _SortSpec(msgspec.Struct, frozen=True):
    order: str
    # The row's key as SQL, compared with the cursor's key (one direction per sort).
    key: str
    after: str
    # The types of the key's parts, for decoding a cursor.
    types: tuple[type, ...]


# Each sort walks an index of its own (migrations 0040 and 0070); the key ends in the id so that
# ties keep a stable order and a cursor resumes exactly after the last row served.
SORTS: Final[Mapping[PartnerSort, _SortSpec]] = {
    "created": _SortSpec("p.created_at DESC, p.id DESC", "(p.created_at, p.id)", "<", (datetime, UUID)),
    "name": _SortSpec("p.name, p.id", "(p.name, p.id)", ">", (str, UUID)),
    "tier": _SortSpec(
        "tier_rank(p.tier) DESC, p.created_at DESC, p.id DESC",
        "(tier_rank(p.tier), p.created_at, p.id)",
        "<",
        (int, datetime, UUID),
    ),
    "reassessment": _SortSpec(
        "reassessment_sort_key(p.next_reassessment_at), p.id",
        "(reassessment_sort_key(p.next_reassessment_at), p.id)",
        ">",
        (datetime, UUID),
    ),
    # Worst residual rating first (unrated last), then newest (migration 0070).
    "rating": _SortSpec(
        "rating_rank(p.residual_rating) DESC, p.created_at DESC, p.id DESC",
        "(rating_rank(p.residual_rating), p.created_at, p.id)",
        "<",
        (int, datetime, UUID),
    ),
}
# The sentinel migration 0040 sorts "never reassessed again" by, after every real date.
NO_REASSESSMENT: Final = datetime(9999, 12, 31, tzinfo=UTC)


def sort_key(row: PartnerSummary, sort: PartnerSort) -> tuple[Any, ...]:
    """The key of ``row`` under ``sort``, as its cursor carries it."""
    if sort == "name":
        return (row.name, row.id)
    if sort == "tier":
        return (TIERS.index(row.tier), row.created_at, row.id)
    if sort == "reassessment":
        return (row.next_reassessment_at or NO_REASSESSMENT, row.id)
    if sort == "rating":
        # The SQL function rating_rank: 0 unrated, 1 low … 4 critical.
        rank = TIERS.index(row.residual_rating) + 1 if row.residual_rating else 0
        return (rank, row.created_at, row.id)
    return (row.created_at, row.id)


async def list_partners(
    conn: asyncpg.Connection,
    filters: ListFilters,
    after: Sequence[Any] | None,
    limit: int,
    today: date,
    expiring_within_days: int,
    *,
    sort: PartnerSort = "created",
) -> list[PartnerSummary]:
    """One page of partners with tier, status, rating, attention, score and open findings,
    in the order ``sort`` names; ``after`` is the ``sort_key`` of the last row of the page
    before.

    The WHERE clause is assembled from fixed fragments (never from input) so each filter
    reaches the planner as a plain predicate its index can serve.
    """
    spec = SORTS[sort]
    param = Params(today, expiring_within_days)
    where: list[str] = []

    if filters.statuses:
        where.append(f"p.status = ANY({param(list(filters.statuses))}::text[])")
    if filters.tiers:
        where.append(f"p.tier = ANY({param(list(filters.tiers))}::text[])")
    if filters.service_types:
        where.append(f"p.service_types && {param(list(filters.service_types))}::text[]")
    if filters.owner_id is not None:
        where.append(f"p.owner_id = {param(filters.owner_id)}")
    if filters.q:
        q = param(filters.q)
        where.append(
            f"p.search_grams @> search_query_grams({q}) "
            f"AND strpos(lower(p.name || ' ' || p.legal_name), lower(btrim({q}))) > 0"
        )
    if filters.needs_attention is not None:
        where.append(NEEDS_ATTENTION_SQL if filters.needs_attention else f"NOT {NEEDS_ATTENTION_SQL}")
    if filters.ratings:
        rated = [r for r in filters.ratings if r != "unrated"]
        clauses = [f"p.residual_rating = ANY({param(rated)}::text[])"] if rated else []
        if len(rated) < len(filters.ratings):
            clauses.append("p.residual_rating IS NULL")
        where.append(f"({' OR '.join(clauses)})")
    if after is not None:
        cursor = ", ".join(param(value) for value in after)
        where.append(f"{spec.key} {spec.after} ({cursor})")
    # The page is chosen first, so the planner probes attention and stats for its rows
    # only, instead of hashing every agreement and scope as it would for 100k rows.
    sql = f"""
        SELECT {SUMMARY_COLUMNS}, {ATTENTION_SQL} AS attention,
               stats.last_assessment_score, stats.open_findings
        FROM (
            SELECT {SUMMARY_COLUMNS}, p.reassessment_due_at FROM partners p
            WHERE {" AND ".join(where) or "true"}
            ORDER BY {spec.order}
            LIMIT {sql_limit(limit)}
        ) p {STATS_LATERAL}
        ORDER BY {spec.order}
    """
    rows = await conn.fetch(sql, *param.values)
    result = []
    for row in rows:
        values = dict(row)
        values["needs_attention"] = bool(values["attention"])
        result.append(msgspec.convert(values, PartnerSummary))
    return result


async def find_by_legal_id(
    conn: asyncpg.Connection,
    credit_code: str | None,
    country: str,
    registration_number: str | None,
    exclude: UUID | None = None,
) -> tuple[UUID, str, str] | None:
    """A partner still dealt with that holds this legal id: (id, name, which id matched)."""
    row = await conn.fetchrow(
        """
        SELECT id, name, CASE WHEN credit_code = $1 THEN 'credit_code'
                              ELSE 'registration_number' END AS field
        FROM partners
        WHERE status <> 'offboarded' AND ($4::uuid IS NULL OR id <> $4)
          AND (credit_code = $1
               OR (country = $2 AND lower(registration_number) = lower($3)))
        LIMIT 1
        """,
        credit_code,
        country,
        registration_number,
        exclude,
    )
    return (row["id"], row["name"], row["field"]) if row else None


class FormerPartner(msgspec.Struct, kw_only=True):
    """A former (offboarded) partner that held a legal id, with its incidents."""

    id: UUID
    name: str
    offboarded_at: datetime
    status_reason: str | None
    incidents: int


async def legal_id_history(
    conn: asyncpg.Connection, credit_code: str | None, country: str, registration_number: str | None
) -> list[FormerPartner]:
    """The offboarded partners that held this legal id, newest first (their own indexes)."""
    rows = await conn.fetch(
        """
        SELECT p.id, p.name, p.status_changed_at AS offboarded_at, p.status_reason,
               (SELECT count(*)::int FROM incidents i WHERE i.partner_id = p.id) AS incidents
        FROM partners p
        WHERE p.status = 'offboarded'
          AND ((p.credit_code IS NOT NULL AND p.credit_code = $1)
               OR (p.registration_number IS NOT NULL AND p.country = $2
                   AND lower(p.registration_number) = lower($3)))
        ORDER BY p.status_changed_at DESC, p.id
        LIMIT 20
        """,
        credit_code,
        country,
        registration_number,
    )
    return [msgspec.convert(dict(r), FormerPartner) for r in rows]


# The columns a partner create or update writes, in the order of their $n parameters.
PARTNER_WRITABLE = (
    "name",
    "legal_name",
    "credit_code",
    "registration_number",
    "country",
    "website",
    "domain",
    "services",
    "business_criticality",
    "owner_id",
    "service_types",
)


async def insert_partner(
    conn: asyncpg.Connection, fields: dict[str, Any], tier: TierResult, created_by: UUID | None
) -> UUID:
    partner_id: UUID = await conn.fetchval(
        """
        INSERT INTO partners (name, legal_name, credit_code, registration_number, country,
                              website, domain, services, business_criticality, owner_id,
                              service_types, tier, tier_points, tier_factors, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        RETURNING id
        """,
        *(fields[name] for name in PARTNER_WRITABLE),
        tier.tier,
        tier.points,
        tier.factors,
        created_by,
    )
    return partner_id


async def update_partner(conn: asyncpg.Connection, partner_id: UUID, fields: dict[str, Any]) -> None:
    await conn.execute(
        """
        UPDATE partners
        SET name = $2, legal_name = $3, credit_code = $4, registration_number = $5,
            country = $6, website = $7, domain = $8, services = $9,
            business_criticality = $10, owner_id = $11, service_types = $12, updated_at = now(),
            version = version + 1
        WHERE id = $1
        """,
        partner_id,
        *(fields[name] for name in PARTNER_WRITABLE),
    )


async def replace_contacts(conn: asyncpg.Connection, partner_id: UUID, contacts: Sequence[ContactIn]) -> None:
    """Make the partner's contacts exactly ``contacts``, keeping the ids of those sent."""
    keep = [c.id for c in contacts if c.id is not None]
    await conn.execute(
        "DELETE FROM partner_contacts WHERE partner_id = $1 AND NOT (id = ANY($2::uuid[]))",
        partner_id,
        keep,
    )
    await conn.executemany(
        """
        INSERT INTO partner_contacts (id, partner_id, name, email, phone, role, is_primary,
                                      locale, position)
        VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (id) DO UPDATE
        SET name = excluded.name, email = excluded.email, phone = excluded.phone,
            role = excluded.role, is_primary = excluded.is_primary, locale = excluded.locale,
            position = excluded.position
        """,
        [
            (c.id, partner_id, c.name, c.email, c.phone, c.role, c.primary, c.locale, i)
            for i, c in enumerate(contacts)
        ],
    )


async def contact_ids(conn: asyncpg.Connection, partner_id: UUID) -> set[UUID]:
    rows = await conn.fetch("SELECT id FROM partner_contacts WHERE partner_id = $1", partner_id)
    return {r["id"] for r in rows}


async def set_tier(
    conn: asyncpg.Connection, partner_id: UUID, tier: TierResult, *, rose: bool, reason: str
) -> None:
    """Store a recomputed tier; a tier that rose marks the partner due for reassessment."""
    await conn.execute(
        """
        UPDATE partners
        SET tier = $2, tier_points = $3, tier_factors = $4, tier_changed_at = now(),
            reassessment_due_at = CASE WHEN $5 THEN coalesce(reassessment_due_at, now())
                                       ELSE reassessment_due_at END,
            reassessment_due_reason = CASE WHEN $5 THEN $6 ELSE reassessment_due_reason END
        WHERE id = $1
        """,
        partner_id,
        tier.tier,
        tier.points,
        tier.factors,
        rose,
        reason,
    )


async def set_tier_points(conn: asyncpg.Connection, partner_id: UUID, tier: TierResult) -> None:
    """Same tier, new explanation (another scope now carries the points, say)."""
    await conn.execute(
        "UPDATE partners SET tier_points = $2, tier_factors = $3 WHERE id = $1",
        partner_id,
        tier.points,
        tier.factors,
    )


async def set_status(conn: asyncpg.Connection, partner_id: UUID, status: str, reason: str) -> None:
    await conn.execute(
        """
        UPDATE partners
        SET status = $2, status_reason = $3, status_changed_at = now(), updated_at = now(),
            version = version + 1
        WHERE id = $1
        """,
        partner_id,
        status,
        reason,
    )


async def mark_shared_data(conn: asyncpg.Connection, partner_id: UUID) -> None:
    await conn.execute(
        "UPDATE partners SET ever_shared_data = true WHERE id = $1 AND NOT ever_shared_data",
        partner_id,
    )


class PartnerFacts(msgspec.Struct, kw_only=True):
    """Partner-level inputs of the gates, read in one query."""

    has_owner: bool
    has_primary_contact: bool
    ever_shared_data: bool
    country: str
    criticality: str
    # From the assessments domain (None / empty until it exists): see rules.LifecycleFacts.
    onboarding_assessment_approved_on: date | None = None
    offboarding_attestation_approved_on: date | None = None
    approved_assessment_score: float | None = None
    unaccepted_critical_findings: list[FindingFact] = msgspec.field(default_factory=list)


async def partner_facts(conn: asyncpg.Connection, partner_id: UUID) -> PartnerFacts:
    """The partner's own facts for the gates.

    From the assessments domain: the date of the latest approved security assessment (a
    periodic or triggered reassessment renews the onboarding one), the approved offboarding
    attestation, the latest approved score, and the open critical findings whose risk no
    live acceptance covers (an acceptance past its date no longer counts, even before the
    sweep reopens the finding). Dates are UTC dates.
    """
    row = await conn.fetchrow(
        """
        SELECT p.owner_id IS NOT NULL AS has_owner,
               EXISTS (SELECT 1 FROM partner_contacts c
                       WHERE c.partner_id = p.id AND c.is_primary) AS has_primary_contact,
               p.ever_shared_data, p.country, p.business_criticality AS criticality,
               (SELECT (a.reviewed_at AT TIME ZONE 'UTC')::date FROM assessments a
                WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind <> 'offboarding'
                ORDER BY a.reviewed_at DESC LIMIT 1) AS onboarding_assessment_approved_on,
               (SELECT (a.reviewed_at AT TIME ZONE 'UTC')::date FROM assessments a
                WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind = 'offboarding'
                ORDER BY a.reviewed_at DESC LIMIT 1) AS offboarding_attestation_approved_on,
               (SELECT a.score FROM assessments a
                WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind <> 'offboarding'
                ORDER BY a.reviewed_at DESC LIMIT 1) AS approved_assessment_score,
               coalesce((
                   SELECT jsonb_agg(jsonb_build_object('id', f.id, 'title', f.title ->> 'en',
                                                      'title_zh', f.title ->> 'zh-CN')
                                    ORDER BY f.created_at)
                   FROM findings f
                   WHERE f.partner_id = p.id AND f.severity = 'critical'
                     AND (f.status IN ('open', 'remediating', 'verifying')
                          OR (f.status = 'accepted' AND NOT EXISTS (
                              SELECT 1 FROM risk_acceptances r
                              WHERE r.finding_id = f.id AND r.stale_at IS NULL
                                AND r.until >= (now() AT TIME ZONE 'UTC')::date)))), '[]')
                   AS unaccepted_critical_findings
        FROM partners p WHERE p.id = $1
        """,
        partner_id,
    )
    return msgspec.convert(dict(row), PartnerFacts)


async def is_active_risk_owner(conn: asyncpg.Connection, user_id: UUID) -> bool:
    ok: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM users
                       WHERE id = $1 AND role = 'risk_owner' AND disabled_at IS NULL)
        """,
        user_id,
    )
    return ok


async def dashboard(
    conn: asyncpg.Connection, today: date, expiring_within_days: int, limit: int
) -> dict[str, Any]:
    """Everything the dashboard shows, in one statement (one round trip)."""
    row = await conn.fetchrow(
        f"""
        SELECT
            (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'status', status, 'tier', tier, 'count', n)), '[]')
             FROM dashboard_partner_counts WHERE n > 0) AS partners,
            (SELECT coalesce(sum(d.n), 0)::bigint FROM dashboard_agreement_days d
             WHERE {DUE_AGREEMENTS_COUNT} AND d.expires_on >= $1) AS expiring_count,
            (SELECT coalesce(sum(d.n), 0)::bigint FROM dashboard_agreement_days d
             WHERE {DUE_AGREEMENTS_COUNT} AND d.expires_on < $1) AS expired_count,
            (SELECT coalesce(jsonb_agg(x ORDER BY x.expires_on, x.id), '[]') FROM (
                {DUE_AGREEMENTS_SQL.format(where="a.expires_on >= $1")}) x) AS expiring,
            (SELECT coalesce(jsonb_agg(x ORDER BY x.expires_on, x.id), '[]') FROM (
                {DUE_AGREEMENTS_SQL.format(where="a.expires_on < $1")}) x) AS expired,
            coalesce((SELECT n FROM dashboard_counts WHERE name = 'scopes_requested'), 0) AS awaiting_count,
            (SELECT coalesce(jsonb_agg(x ORDER BY x.created_at, x.id), '[]') FROM (
                SELECT s.id, s.partner_id, p.name AS partner_name, c.code AS category_code,
                       jsonb_build_object('zh-CN', c.name_zh, 'en', c.name_en) AS category_name,
                       c.sensitivity, s.created_at
                FROM scopes s
                JOIN partners p ON p.id = s.partner_id
                JOIN data_categories c ON c.id = s.category_id
                WHERE s.status = 'requested'
                ORDER BY s.created_at, s.id LIMIT $3) x) AS awaiting,
            -- NEEDS_ATTENTION_SQL, counted by the first day each partner needs it (0125).
            (SELECT coalesce(sum(n), 0)::bigint FROM dashboard_attention_days
             WHERE horizon <= $1::date + $2::int) AS attention_count,
            (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'id', p.id, 'name', p.name, 'status', p.status, 'tier', p.tier,
                        'attention', {ATTENTION_SQL})
                    ORDER BY tier_rank(p.tier) DESC, p.name, p.id), '[]')
             FROM (SELECT p.* FROM partners p
                   JOIN dashboard_partner_attention pa ON pa.partner_id = p.id
                   WHERE pa.horizon <= $1::date + $2::int
                   ORDER BY tier_rank(p.tier) DESC, p.name, p.id LIMIT $3) p) AS attention
        """,
        today,
        expiring_within_days,
        limit,
    )
    return dict(row)


async def risk_owner_choices(conn: asyncpg.Connection) -> list[tuple[UUID, str]]:
    """Enabled risk owners, by name: who may own a partner (a short list, one query)."""
    rows = await conn.fetch(
        "SELECT id, name FROM users WHERE role = 'risk_owner' AND disabled_at IS NULL ORDER BY name, id"
    )
    return [(r["id"], r["name"]) for r in rows]
