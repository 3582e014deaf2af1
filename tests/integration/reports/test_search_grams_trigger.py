"""``partners.search_grams`` kept by triggers (migration 0161): set on insert, recomputed
when a name changes, never left out of step with the names, and found by the search."""

from __future__ import annotations

import asyncpg


async def grams_match(db: asyncpg.Connection, partner_id: object) -> bool:
    return bool(
        await db.fetchval(
            "SELECT search_grams = search_grams(name || ' ' || legal_name) FROM partners WHERE id = $1",
            partner_id,
        )
    )


async def test_search_grams_follow_the_names(db: asyncpg.Connection) -> None:
    partner_id = await db.fetchval(
        """
        INSERT INTO partners (name, legal_name, country, registration_number, business_criticality)
        VALUES ('金蝶测试', 'Grams Trigger Ltd', 'GB', 'GRAMS-' || md5(random()::text), 'low')
        RETURNING id
        """
    )
    assert await grams_match(db, partner_id)
    assert "金蝶" in await db.fetchval("SELECT search_grams FROM partners WHERE id = $1", partner_id)

    await db.execute("UPDATE partners SET name = '用友测试' WHERE id = $1", partner_id)
    grams = await db.fetchval("SELECT search_grams FROM partners WHERE id = $1", partner_id)
    assert "用友" in grams
    assert "金蝶" not in grams
    await db.execute("UPDATE partners SET legal_name = 'Renamed Ltd' WHERE id = $1", partner_id)
    assert await grams_match(db, partner_id)

    # Other changes leave the grams as they are; a write of the column itself is undone.
    await db.execute("UPDATE partners SET status = 'active', version = version + 1 WHERE id = $1", partner_id)
    assert await grams_match(db, partner_id)
    await db.execute("UPDATE partners SET search_grams = '{}' WHERE id = $1", partner_id)
    assert await grams_match(db, partner_id)

    found = await db.fetchval(
        "SELECT count(*) FROM partners WHERE search_grams @> search_query_grams('用友') AND id = $1",
        partner_id,
    )
    assert found == 1
    await db.execute("DELETE FROM partners WHERE id = $1", partner_id)
