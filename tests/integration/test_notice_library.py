"""Loading the notice library: stored once, unchanged on a second load, a changed text under
a loaded version refused naming the file; a stored version refuses every change."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from vendor_risk.notices.service import load_library

SAMPLE = """---
key: library-sample
version: {version}
kind: guidance
ack_required: true
title:
  zh-CN: 示例
  en: Sample
---
=== zh-CN ===
{body}
=== en ===
Body.
"""


async def test_loading_twice_changes_nothing_and_a_changed_version_is_refused(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "library-sample.md"
    path.write_text(SAMPLE.format(version=1, body="正文"), encoding="utf-8")
    assert [o.status for o in await load_library(db, tmp_path)] == ["stored"]
    assert [o.status for o in await load_library(db, tmp_path)] == ["unchanged"]
    path.write_text(SAMPLE.format(version=1, body="改过的正文"), encoding="utf-8")
    [refused] = await load_library(db, tmp_path)
    assert refused.status == "refused"
    assert refused.errors[0].startswith("library-sample.md: version 1 of 'library-sample' is already loaded")
    path.write_text(SAMPLE.format(version=2, body="改过的正文"), encoding="utf-8")
    assert [o.status for o in await load_library(db, tmp_path)] == ["stored"]
    html = await db.fetchval(
        "SELECT html_zh FROM notice_versions WHERE key = 'library-sample' AND version = 2"
    )
    assert html == "<p>改过的正文</p>\n"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_events"
            " WHERE action = 'notice.loaded' AND after->>'key' = 'library-sample'"
        )
        == 2
    )


async def test_a_stored_version_is_immutable(db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("UPDATE notice_versions SET title_en = 'x' WHERE key = 'incident-reporting'")
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await db.execute("DELETE FROM notice_versions WHERE key = 'incident-reporting'")
    assert await db.fetchval("SELECT count(*) FROM notice_versions WHERE key = 'incident-reporting'") == 1
