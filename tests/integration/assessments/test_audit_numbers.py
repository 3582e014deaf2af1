"""A partner's number answer must never break the audit chain: 1e16 is hashed as PostgreSQL
stores it (10000000000000000), not as the float the form produced."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.assessments.conftest import Client, NewPartner, Partner, Send
from vendor_risk.audit.service import verify_report


@pytest.mark.parametrize("answer", ["1e16", "1e308", "0.1", "-0", "123456789012345678"])
async def test_a_number_answer_saved_in_the_portal_keeps_the_chain_intact(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection, answer: str
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"], lang="en")
    saved = await me.save(0, "access", {"ac-1": "yes", "ac-2": answer})
    assert saved.status_code == 303, saved.text
    stored = await db.fetchval(
        """
        SELECT after -> 'answers' -> 'ac-2' ->> 'value' FROM audit_events
        WHERE action = 'assessment.section_saved' AND entity_id = $1 ORDER BY seq DESC LIMIT 1
        """,
        sent["assessment"]["id"],
    )
    assert float(stored) == float(answer)
    report = await verify_report(db)
    assert report.breaks == []
    assert report.events_checked > 0
