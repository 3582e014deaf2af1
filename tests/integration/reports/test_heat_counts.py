"""The heat map's appended counts (migration 0160) against a full count of the partners,
after every kind of partner write, a rolled-back one, and a recount after writes the
triggers did not see."""

from __future__ import annotations

import asyncpg

from vendor_risk.reports import snapshots


async def counted(db: asyncpg.Connection) -> dict[str, dict[str, int]]:
    cells = {t: dict.fromkeys(snapshots.RATINGS, 0) for t in snapshots.LEVELS}
    for r in await db.fetch(
        """
        SELECT tier, coalesce(residual_rating, 'unrated') AS rating, count(*)::int AS n
        FROM partners WHERE status <> 'offboarded' GROUP BY 1, 2
        """
    ):
        cells[r["tier"]][r["rating"]] = r["n"]
    return cells


async def assert_heat_is_counted(db: asyncpg.Connection) -> None:
    heat = await snapshots.heat_map(db)
    expected = await counted(db)
    assert heat.cells == expected
    assert heat.total == sum(sum(row.values()) for row in expected.values())


async def test_the_heat_map_follows_every_partner_write(db: asyncpg.Connection) -> None:
    await assert_heat_is_counted(db)
    ids = [
        r["id"]
        for r in await db.fetch(
            """
            INSERT INTO partners (name, legal_name, country, registration_number,
                                  business_criticality, tier, residual_rating)
            SELECT 'heat ' || i, 'Heat Count Ltd ' || i, 'GB', 'HEAT-' || md5(random()::text),
                   'low', (ARRAY['low', 'medium', 'high', 'critical'])[1 + i % 4],
                   (ARRAY[NULL, 'low', 'high'])[1 + i % 3]
            FROM generate_series(1, 24) AS i
            RETURNING id
            """
        )
    ]
    await assert_heat_is_counted(db)
    assert (await snapshots.heat_map(db)).total >= 24

    # A rating, a tier and a status change; an offboarding leaves the map.
    await db.execute("UPDATE partners SET residual_rating = 'critical' WHERE id = ANY($1)", ids[:5])
    await db.execute("UPDATE partners SET tier = 'high' WHERE id = ANY($1)", ids[5:10])
    await db.execute("UPDATE partners SET status = 'offboarded' WHERE id = ANY($1)", ids[10:14])
    # An update that changes nothing the map shows appends nothing.
    before = await db.fetchval("SELECT count(*) FROM partner_heat_counts")
    await db.execute("UPDATE partners SET updated_at = now() WHERE id = ANY($1)", ids)
    assert await db.fetchval("SELECT count(*) FROM partner_heat_counts") == before
    await assert_heat_is_counted(db)

    # What a rolled-back transaction wrote is not counted.
    async with db.transaction():
        await db.execute("DELETE FROM partners WHERE id = ANY($1)", ids[14:18])
        await assert_heat_is_counted(db)
        savepoint = db.transaction()
        await savepoint.start()
        await db.execute("UPDATE partners SET tier = 'critical' WHERE id = ANY($1)", ids[18:])
        await savepoint.rollback()
    await assert_heat_is_counted(db)

    # Writes the triggers did not see (a bulk load as the benchmarks' generator does it)
    # are repaired by the sweep's recount, which leaves one row per cell.
    await db.execute("SET session_replication_role = replica")
    try:
        await db.execute("UPDATE partners SET residual_rating = 'medium' WHERE id = ANY($1)", ids[18:])
    finally:
        await db.execute("RESET session_replication_role")
    assert (await snapshots.heat_map(db)).cells != await counted(db)
    await snapshots.recount_heat(db)
    await assert_heat_is_counted(db)
    assert await db.fetchval("SELECT count(*) = count(DISTINCT (tier, rating)) FROM partner_heat_counts")

    await db.execute("DELETE FROM partners WHERE id = ANY($1)", ids)
    await assert_heat_is_counted(db)
