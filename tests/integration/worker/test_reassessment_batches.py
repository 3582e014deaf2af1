"""The reassessment sweep sends in batches with the guarantees of one-by-one sending:
one assessment per partner (two workers at once, run again), pre-filled parts, one
invitation with a live link and one audit event each; a partner that cannot be sent is
marked with the reason, left alone, and sent once the reason is gone."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_DATA_KEY
from tests.helpers import outbox_emails
from tests.integration.worker.conftest import ctx_for
from tests.integration.worker.test_assessment_sweeps import active_partner
from vendor_risk import sweeps
from vendor_risk.assessments.tokens import hash_token
from vendor_risk.audit.service import verify
from vendor_risk.db import create_pool
from vendor_risk.questionnaires import repository as templates_repo
from vendor_risk.settings import Settings, parse_data_keys
from vendor_risk.worker import sweep_reassessments as sweep_reassessments_job

pytestmark = pytest.mark.usefixtures("clean_outbox")

KEYS = parse_data_keys("test", TEST_DATA_KEY)


async def give_previous_answer(pool: asyncpg.Pool, partner_id: UUID) -> str:
    """Record an answer in the partner's approved assessment; returns its question id."""
    part = await pool.fetchrow(
        """
        SELECT ap.assessment_id, ap.position, ap.template_key FROM assessment_parts ap
        JOIN assessments a ON a.id = ap.assessment_id
        WHERE a.partner_id = $1 AND a.status = 'approved' ORDER BY ap.position LIMIT 1
        """,
        partner_id,
    )
    async with pool.acquire() as conn:
        stored = await templates_repo.get_version(conn, part["template_key"])
    assert stored is not None
    question = next(q for s in stored.content.sections for q in s.questions if q.type == "yes_no")
    await pool.execute(
        "UPDATE assessment_parts SET answers = $3 WHERE assessment_id = $1 AND position = $2",
        part["assessment_id"],
        part["position"],
        {question.id: {"value": question.effective_choices()[0].value}},
    )
    return question.id


async def test_a_sweep_in_batches_sends_each_due_partner_one_complete_reassessment(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of two over five due partners: three transactions per sweep.
    monkeypatch.setattr(sweeps, "REASSESSMENT_BATCH", 2)
    partners = [await active_partner(pool, worker_settings, approved_months_ago=37) for _ in range(5)]
    answered = await give_previous_answer(pool, partners[0])
    await pool.execute("TRUNCATE outbox")
    started = datetime.now(UTC)

    second_pool = await create_pool(worker_settings.database_url or "", 1, 5)
    try:
        await asyncio.gather(
            sweeps.sweep_reassessments(pool, worker_settings),
            sweeps.sweep_reassessments(second_pool, worker_settings),
        )
    finally:
        await second_pool.close()
    assert await sweep_reassessments_job(ctx_for(pool, http, worker_settings)) == 0

    sent = await pool.fetch(
        """
        SELECT a.id, a.partner_id, a.kind, a.status, a.previous_assessment_id, a.recipient_email,
               (SELECT id FROM assessments p WHERE p.partner_id = a.partner_id AND p.status = 'approved')
                   AS approved_id
        FROM assessments a WHERE a.partner_id = ANY($1::uuid[]) AND a.sent_at >= $2
        """,
        partners,
        started,
    )
    assert sorted(r["partner_id"] for r in sent) == sorted(partners)
    assert {(r["kind"], r["status"]) for r in sent} == {("periodic", "sent")}
    assert all(r["previous_assessment_id"] == r["approved_id"] for r in sent)
    by_partner = {r["partner_id"]: r for r in sent}

    # Pre-filled from the last answers where there were some.
    prefilled = await pool.fetchrow(
        "SELECT answers, prefilled_sections FROM assessment_parts WHERE assessment_id = $1 AND position = 0",
        by_partner[partners[0]]["id"],
    )
    assert answered in prefilled["answers"]
    assert prefilled["prefilled_sections"] != []

    # One invitation each, whose link is the assessment's live one.
    for row in sent:
        [invitation] = await outbox_emails(
            pool, KEYS, "topic = 'assessment.invitation' AND payload ->> 'to' = $1", row["recipient_email"]
        )
        token = re.search(r"/q/([A-Za-z0-9_-]{43})", invitation["text"])
        assert token is not None
        link = await pool.fetchrow(
            "SELECT assessment_id, revoked_at, expires_at FROM portal_links WHERE token_hash = $1",
            hash_token(token.group(1)),
        )
        assert link["assessment_id"] == row["id"]
        assert link["revoked_at"] is None
        assert link["expires_at"] > started
        assert ("reassessment" in invitation["text"].lower()) == (row["partner_id"] == partners[0])

    # One audit event each, naming the assessment as the API shows it; the chain holds.
    events = await pool.fetch(
        "SELECT entity_id, after FROM audit_events"
        " WHERE action = 'assessment.sent' AND entity_id = ANY($1::text[])",
        [str(r["id"]) for r in sent],
    )
    assert sorted(e["entity_id"] for e in events) == sorted(str(r["id"]) for r in sent)
    assert all(e["after"]["status"] == "sent" and e["after"]["link_expires_at"] for e in events)
    async with pool.acquire() as conn:
        checked, broken = await verify(conn)
    assert broken is None
    assert checked > 0


async def test_a_partner_that_cannot_be_sent_is_marked_left_alone_and_sent_once_fixed(
    worker_settings: Settings, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    partner = await active_partner(pool, worker_settings, approved_months_ago=37)
    await pool.execute("UPDATE partner_contacts SET is_primary = false WHERE partner_id = $1", partner)
    await pool.execute("TRUNCATE outbox")
    policy = worker_settings.policy

    await sweeps.sweep_reassessments(pool, worker_settings)

    row = await pool.fetchrow(
        "SELECT reassessment_blocked, reassessment_blocked_at, reassessment_blocked_policy"
        " FROM partners WHERE id = $1",
        partner,
    )
    assert row["reassessment_blocked"] == "no_primary_contact"
    assert row["reassessment_blocked_at"] is not None
    assert row["reassessment_blocked_policy"] == policy.sha256
    assert await pool.fetchval("SELECT count(*) FROM assessments WHERE partner_id = $1", partner) == 1
    # Not retried under this policy; another policy looks again.
    async with pool.acquire() as conn:
        now = datetime.now(UTC)
        assert partner not in {
            d.partner_id
            for d in await sweeps.reassessments_due(conn, now, policy.cadence_months, policy.sha256)
        }
        assert partner in {
            d.partner_id for d in await sweeps.reassessments_due(conn, now, policy.cadence_months, "other")
        }

    # Naming a primary contact clears the mark; the next sweep sends.
    await pool.execute("UPDATE partner_contacts SET is_primary = true WHERE partner_id = $1", partner)
    assert await pool.fetchval("SELECT reassessment_blocked FROM partners WHERE id = $1", partner) is None
    await sweeps.sweep_reassessments(pool, worker_settings)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM assessments"
            " WHERE partner_id = $1 AND kind = 'periodic' AND status = 'sent'",
            partner,
        )
        == 1
    )


async def test_a_change_of_tier_or_a_new_questionnaire_clears_the_mark(
    worker_settings: Settings, pool: asyncpg.Pool
) -> None:
    partner = await active_partner(pool, worker_settings, approved_months_ago=37)
    mark = (
        "UPDATE partners SET reassessment_blocked = 'no_questionnaire', reassessment_blocked_at = now()"
        " WHERE id = $1"
    )
    blocked = "SELECT reassessment_blocked FROM partners WHERE id = $1"

    await pool.execute(mark, partner)
    await pool.execute("UPDATE partners SET name = name || ' Ltd' WHERE id = $1", partner)
    assert await pool.fetchval(blocked, partner) == "no_questionnaire"
    await pool.execute("UPDATE partners SET tier = 'high' WHERE id = $1", partner)
    assert await pool.fetchval(blocked, partner) is None

    await pool.execute(mark, partner)
    async with pool.acquire() as conn:
        stored = await templates_repo.get_version(conn, "lite-screening")
    assert stored is not None
    # A questionnaire no policy selects (versions are immutable: it stays).
    await pool.execute(
        """
        INSERT INTO questionnaire_templates (key, version, title_zh, title_en, section_count,
                                             question_count, content, content_sha256)
        SELECT 'pw-unblocks', 1, title_zh, title_en, section_count, question_count,
               jsonb_set(content, '{key}', '"pw-unblocks"'), content_sha256
        FROM questionnaire_templates WHERE id = $1
        """,
        stored.id,
    )
    assert await pool.fetchval(blocked, partner) is None


async def test_a_partner_with_an_open_assessment_is_not_due_until_it_closes(
    worker_settings: Settings, pool: asyncpg.Pool
) -> None:
    # Past its cadence, but the assessment sent before it became due is still unanswered:
    # sending would only meet the unique index of open assessments, every hour.
    partner = await active_partner(pool, worker_settings, approved_months_ago=37)
    open_id = await pool.fetchval(
        """
        INSERT INTO assessments (partner_id, kind, recipient_email, recipient_name, locale, due_on,
                                 sent_by_label, sent_at)
        VALUES ($1, 'triggered', 'ann@example.com', 'Ann', 'en', current_date + 7, 'test',
                now() - interval '40 months')
        RETURNING id
        """,
        partner,
    )
    policy = worker_settings.policy

    async def due() -> set[UUID]:
        async with pool.acquire() as conn:
            found = await sweeps.reassessments_due(
                conn, datetime.now(UTC), policy.cadence_months, policy.sha256
            )
        return {d.partner_id for d in found}

    assert partner not in await due()
    await pool.execute("UPDATE assessments SET status = 'expired' WHERE id = $1", open_id)
    assert partner in await due()
