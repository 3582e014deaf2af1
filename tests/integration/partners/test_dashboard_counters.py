"""The dashboard's counters (migration 0125) equal a fresh count of the tables after every
kind of change, and the repair sweep puts them right when they are not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.integration.partners.conftest import NewAgreement, NewPartner, NewScope
from vendor_risk.dashboard.repository import repair_counters
from vendor_risk.db import connect
from vendor_risk.partners.repository import NEEDS_ATTENTION_SQL
from vendor_risk.settings import Settings

# The dashboard's agreements before 0125, counted from the tables: live, of a partner not
# offboarding, ending by the horizon, and no live agreement of the same kind outlives it.
FRESH_DUE_AGREEMENTS = """
SELECT count(*) FILTER (WHERE a.expires_on < $1) AS expired,
       count(*) FILTER (WHERE a.expires_on >= $1) AS expiring
FROM agreements a JOIN partners p ON p.id = a.partner_id
WHERE a.terminated_at IS NULL AND a.expires_on <= $1::date + $2::int
  AND p.status NOT IN ('offboarding', 'offboarded')
  AND NOT EXISTS (SELECT 1 FROM agreements r
                  WHERE r.partner_id = a.partner_id AND r.kind = a.kind AND r.terminated_at IS NULL
                    AND (r.expires_on IS NULL OR r.expires_on > $1::date + $2::int))
"""
COUNTED_DUE_AGREEMENTS = """
SELECT coalesce(sum(n) FILTER (WHERE expires_on < $1), 0) AS expired,
       coalesce(sum(n) FILTER (WHERE expires_on >= $1), 0) AS expiring
FROM dashboard_agreement_days WHERE horizon <= $1::date + $2::int
"""
WINDOWS = (-400, -5, 0, 30, 400, 4000)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(settings.database_url or "")
    try:
        yield conn
    finally:
        await conn.close()


async def fresh_and_counted(db: asyncpg.Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    today = datetime.now(UTC).date()
    fresh: dict[str, Any] = {
        "partners": {
            (r["status"], r["tier"]): r["n"]
            for r in await db.fetch("SELECT status, tier, count(*) AS n FROM partners GROUP BY 1, 2")
        },
        "named": dict(
            await db.fetchrow(
                """
                SELECT (SELECT count(*) FROM scopes WHERE status = 'requested') AS scopes_requested,
                       (SELECT count(*) FROM findings WHERE severity = 'critical'
                          AND status IN ('open', 'remediating', 'verifying')) AS findings_critical_open,
                       (SELECT count(*) FROM assessments WHERE status = 'submitted')
                          AS assessments_submitted
                """
            )
        ),
    }
    counted: dict[str, Any] = {
        "partners": {
            (r["status"], r["tier"]): r["n"]
            for r in await db.fetch("SELECT status, tier, n FROM dashboard_partner_counts WHERE n <> 0")
        },
        "named": {r["name"]: r["n"] for r in await db.fetch("SELECT name, n FROM dashboard_counts")},
    }
    for days in WINDOWS:
        fresh[f"agreements {days}"] = dict(await db.fetchrow(FRESH_DUE_AGREEMENTS, today, days))
        counted[f"agreements {days}"] = dict(await db.fetchrow(COUNTED_DUE_AGREEMENTS, today, days))
        fresh[f"attention {days}"] = await db.fetchval(
            f"SELECT count(*) FROM partners p WHERE {NEEDS_ATTENTION_SQL}", today, days
        )
        counted[f"attention {days}"] = await db.fetchval(
            "SELECT coalesce(sum(n), 0) FROM dashboard_attention_days WHERE horizon <= $1::date + $2::int",
            today,
            days,
        )
    return fresh, counted


async def assert_counters_fresh(db: asyncpg.Connection) -> None:
    fresh, counted = await fresh_and_counted(db)
    assert counted == fresh


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def test_counters_follow_every_change_and_the_repair_restores_them(
    db: asyncpg.Connection,
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
    categories: dict[str, str],
) -> None:
    a = (await new_partner())["id"]
    b = (await new_partner(business_criticality="low"))["id"]
    await new_agreement(a, kind="nda", effective_from=day(-400), expires_on=day(-10))
    await new_agreement(a, kind="dpa", effective_from=day(-400), expires_on=day(5))
    # An MSA renewed: the earlier one is not due while the later one runs.
    await new_agreement(a, kind="msa", effective_from=day(-400), expires_on=day(3))
    renewal = await new_agreement(a, kind="msa", effective_from=day(-400), expires_on=day(300))
    await new_agreement(b, kind="nda", effective_from=day(-400))  # open-ended
    await new_agreement(b, kind="dpa", effective_from=day(-400), expires_on=day(20))
    scope = await new_scope(b, next(iter(categories.values())))
    await assert_counters_fresh(db)

    # Changes straight in SQL, several rows per statement, as a migration or a sweep would.
    async with db.transaction():
        await db.execute("UPDATE agreements SET terminated_at = now() WHERE id = $1", renewal["id"])
        await db.execute(
            "UPDATE agreements SET expires_on = expires_on + 60 WHERE partner_id = $1 AND kind <> 'nda'", b
        )
    await assert_counters_fresh(db)
    await db.execute(
        "UPDATE scopes SET status = 'approved', ends_on = $2 WHERE id = $1",
        scope["id"],
        datetime.now(UTC).date() + timedelta(days=7),
    )
    await db.execute("UPDATE partners SET reassessment_due_at = now(), tier = 'critical' WHERE id = $1", b)
    await assert_counters_fresh(db)
    await db.execute("UPDATE partners SET status = 'offboarding' WHERE id = ANY($1::uuid[])", [a, b])
    await assert_counters_fresh(db)
    await db.execute("UPDATE partners SET status = 'active' WHERE id = $1", a)
    await db.execute(
        "DELETE FROM agreement_categories c USING agreements a"
        " WHERE a.id = c.agreement_id AND a.partner_id = $1",
        a,
    )
    await db.execute("DELETE FROM agreements WHERE partner_id = $1 AND kind = 'dpa'", a)
    await assert_counters_fresh(db)

    # Many rows in one statement, as an import writes them: the set refreshes (0200), over
    # new partners and groups and over groups that already hold an agreement.
    many = [
        r["id"]
        for r in await db.fetch(
            """
            INSERT INTO partners (name, legal_name, credit_code, country, business_criticality,
                                  reassessment_due_at)
            SELECT 'Bulk ' || i, 'Bulk Ltd ' || i, 'BULK' || i, 'CN', 'medium',
                   CASE WHEN i % 3 = 0 THEN now() END
            FROM generate_series(1, 8) i RETURNING id
            """
        )
    ]
    await db.execute(
        """
        INSERT INTO agreements (partner_id, kind, title, signed_on, effective_from, expires_on)
        SELECT p, k, 'bulk', $2::date - 400, $2::date - 400, $2::date + (n * 17 - 60)::int
        FROM unnest($1::uuid[]) WITH ORDINALITY AS x (p, n), unnest(ARRAY['nda', 'dpa']) AS k
        """,
        [*many, a, b],
        datetime.now(UTC).date(),
    )
    await assert_counters_fresh(db)
    await db.execute("DELETE FROM agreements WHERE partner_id = ANY($1::uuid[]) AND kind = 'nda'", [*many, a])
    await assert_counters_fresh(db)
    await db.execute("DELETE FROM agreements WHERE partner_id = ANY($1::uuid[])", many)
    await assert_counters_fresh(db)
    await db.execute("DELETE FROM partners WHERE id = ANY($1::uuid[]) AND reassessment_due_at IS NULL", many)
    await assert_counters_fresh(db)

    # Counters gone wrong (a bulk load without triggers, say): the repair rebuilds them.
    assert await repair_counters(db) == 0
    await db.execute("UPDATE dashboard_counts SET n = n + 7")
    await db.execute("UPDATE dashboard_partner_counts SET n = 0")
    await db.execute("DELETE FROM dashboard_agreement_groups")
    await db.execute("UPDATE dashboard_attention_days SET n = n + 1")
    await db.execute("DELETE FROM dashboard_partner_attention")
    fresh, counted = await fresh_and_counted(db)
    assert counted != fresh
    assert await repair_counters(db) > 0
    await assert_counters_fresh(db)
    assert await repair_counters(db) == 0
