"""Offboarding end to end with nobody sending anything by hand: moving the partner to
``offboarding`` sends the attestation due in the agreement's notice period (else the
policy's 30 days), the sweep reminds the partner before that date, the partner answers it
through the portal, a risk owner approves it and the partner can be marked offboarded."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from tests.helpers import outbox_emails
from tests.integration.assessments.conftest import (
    PDF,
    Client,
    NewPartner,
    Partner,
    Review,
    User,
)
from vendor_risk.settings import Settings
from vendor_risk.sweeps import send_reminders


async def _agreement(client: Client, partner_id: str, procurement: User, **more: Any) -> None:
    created = await client.post(
        f"/api/v1/partners/{partner_id}/agreements",
        json={
            "kind": "dpa",
            "title": "委托处理协议",
            "signed_on": "2025-01-10",
            "signatories": [{"party": "us", "name": "张三"}, {"party": "partner", "name": "李雷"}],
            **more,
        },
        headers=procurement["headers"],
    )
    assert created.status_code == 201, created.text
    assert created.json()["notice_period_days"] == more.get("notice_period_days")


async def _offboard(client: Client, partner_id: str, procurement: User) -> str:
    moved = await client.post(
        f"/api/v1/partners/{partner_id}/transitions",
        json={"to": "offboarding", "reason": "合同终止"},
        headers=procurement["headers"],
    )
    assert moved.status_code == 200, moved.text
    attestation: str = moved.json()["offboarding_assessment_id"]
    return attestation


async def _due_on(pool: asyncpg.Pool, assessment_id: str) -> date:
    due: date = await pool.fetchval("SELECT due_on FROM assessments WHERE id = $1", assessment_id)
    return due


async def test_the_attestation_is_due_in_the_agreements_notice_period_else_thirty_days(
    client: Client, new_partner: NewPartner, procurement: User, pool: asyncpg.Pool
) -> None:
    today = datetime.now(UTC).date()
    with_notice, without = await new_partner(), await new_partner()
    await _agreement(client, with_notice["id"], procurement, notice_period_days=45)
    await _agreement(client, with_notice["id"], procurement, notice_period_days=15)
    await _agreement(client, without["id"], procurement)
    assert await _due_on(pool, await _offboard(client, with_notice["id"], procurement)) == today + timedelta(
        days=45
    )
    assert await _due_on(pool, await _offboard(client, without["id"], procurement)) == today + timedelta(
        days=30
    )


async def test_offboarding_end_to_end_through_the_portal(
    client: Client,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    review: Review,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    partner = await new_partner()
    pid = partner["id"]
    primary = next(c for c in partner["contacts"] if c["primary"])
    await _agreement(client, pid, procurement, notice_period_days=20)
    await pool.execute("UPDATE partners SET ever_shared_data = true WHERE id = $1", pid)
    attestation_id = await _offboard(client, pid, procurement)
    due = await _due_on(pool, attestation_id)

    # The invitation went by itself; the sweep reminds once a week before the due date.
    conn = await pool.acquire()
    try:
        [invitation] = await outbox_emails(
            conn,
            settings.data_keys,
            "topic = 'assessment.invitation' AND payload ->> 'to' = $1",
            primary["email"],
        )
        for day in (due - timedelta(days=7), due - timedelta(days=7)):
            await send_reminders(pool, settings, today=day)
        reminders = await outbox_emails(
            conn,
            settings.data_keys,
            "topic = 'assessment.reminder' AND payload ->> 'to' = $1",
            primary["email"],
        )
    finally:
        await pool.release(conn)
    assert len(reminders) == 1
    link = re.search(r"https?://\S+/q/[A-Za-z0-9_-]{43}", invitation["text"])
    assert link is not None

    # The partner answers the attestation through the portal.
    me = Partner(client, link.group(0))
    destroyed = {
        "off-01": "destroyed",
        "off-03": (due - timedelta(days=25)).isoformat(),
        "off-04": "碎纸机粉碎并由第三方监销",
        "off-05": "secure_erase",
        "off-06": "shredded",
    }
    saved = await me.save(0, "disposal", destroyed, files={"off-03": ("销毁证明.pdf", PDF)})
    assert saved.status_code == 303, saved.text
    copies = {
        "off-08": "yes",
        "off-09": datetime.now(UTC).date().isoformat(),
        "off-10": "yes",
        "off-11": "none_used",
    }
    assert (await me.save(0, "copies", copies)).status_code == 303
    assert (await me.save(0, "access-items", {"off-13": "yes", "off-14": "yes"})).status_code == 303
    attest = {"off-15": "yes", "off-16": "yes", "off-17": "yes", "off-18": "李雷，信息安全负责人"}
    assert (await me.save(0, "attestation", attest)).status_code == 303
    submitted = await me.submit()
    assert submitted.status_code == 303, submitted.text

    await review(attestation_id)
    done = await client.post(
        f"/api/v1/partners/{pid}/transitions",
        json={"to": "offboarded", "reason": "数据已销毁"},
        headers=risk_owner["headers"],
    )
    assert done.status_code == 200, done.text
    status = await pool.fetchval("SELECT status FROM partners WHERE id = $1", pid)
    assert status == "offboarded"
    # Nobody sent an assessment by hand: the only one is the automatic attestation.
    kinds = await pool.fetch("SELECT kind FROM assessments WHERE partner_id = $1", pid)
    assert [r["kind"] for r in kinds] == ["offboarding"]
