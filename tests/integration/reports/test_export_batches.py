"""The exports' cursor reads ahead one batch: every row comes once and in order, and a
reader that stops early (a client gone mid-download) leaves the connection usable."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from vendor_risk.reports import exports


async def test_batches_read_ahead_and_stop_cleanly(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await db.execute(
        """
        INSERT INTO partners (name, legal_name, country, registration_number, business_criticality)
        SELECT 'batch ' || i, 'Batch Read Ltd ' || i, 'GB', 'BATCH-' || md5(random()::text), 'low'
        FROM generate_series(1, 7) AS i
        """
    )
    monkeypatch.setattr(exports, "BATCH", 2)
    spec = exports.SPECS["partner-register"]
    today = datetime.now(UTC).date()
    query = exports.build_query(spec, {}, {})
    expected = [r["name"] for r in await db.fetch(query[0], *query[1])]
    assert len(expected) >= 7

    batches = [rows async for rows in exports._rows(db, spec, query, today)]
    assert {len(b) for b in batches[:-1]} == {2}
    assert [r["name"] for b in batches for r in b] == expected

    reader = exports._rows(db, spec, query, today)
    first = await anext(reader)
    assert [r["name"] for r in first] == expected[:2]
    await reader.aclose()
    assert not db.is_in_transaction()
    assert await db.fetchval("SELECT count(*) FROM partners") == len(expected)
    await db.execute("DELETE FROM partners WHERE name LIKE 'batch %' AND legal_name LIKE 'Batch Read Ltd %'")
