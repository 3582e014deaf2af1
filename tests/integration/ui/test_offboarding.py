"""Offboarding as a visible flow: moving to ``offboarding`` cancels the partner's other
open assessments (and their waiting reminders) and sends the offboarding attestation to
the primary contact; the partner page shows its progress; ``offboarded`` needs it approved."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.helpers import outbox_emails
from tests.integration.assessments.conftest import Client, NewPartner, Review, Send, User, portal_path
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.assessments import service as assessments
from vendor_risk.db import connect
from vendor_risk.settings import Settings


@pytest.fixture
async def db(settings: Settings) -> Any:
    conn = await connect(settings.database_url or "")
    try:
        yield conn
    finally:
        await conn.close()


def panel(html: str) -> str:
    found = re.search(r'<section id="offboarding".*?</section>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(0)) if found else ""


async def test_offboarding_sends_the_attestation_cancels_the_rest_and_waits_for_its_approval(
    browser: OpenBrowser,
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    procurement: User,
    risk_owner: User,
    settings: Settings,
) -> None:
    partner = await new_partner()
    pid = partner["id"]
    primary = next(c for c in partner["contacts"] if c["primary"])
    onboarding = await send(pid)
    aid = onboarding["assessment"]["id"]
    # A reminder waiting in the outbox for the assessment that offboarding cancels.
    assert await assessments.send_reminder(db, aid, "d7", today=datetime.now(UTC).date(), settings=settings)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'assessment.reminder' AND dedupe_key LIKE $1",
            f"assessment:{aid}:%",
        )
        == 1
    )
    # Setup shortcut: the partner once received data, so the attestation is required.
    await db.execute("UPDATE partners SET ever_shared_data = true WHERE id = $1", pid)
    me = await browser(risk_owner)
    assert "离场进度" not in (await me.get(f"/ui/partners/{pid}", lang="zh-CN")).text

    moved = await client.post(
        f"/api/v1/partners/{pid}/transitions",
        json={"to": "offboarding", "reason": "合同终止"},
        headers=procurement["headers"],
    )
    assert moved.status_code == 200, moved.text
    result = moved.json()
    assert result["cancelled_assessment_ids"] == [aid]
    attestation_id = result["offboarding_assessment_id"]
    rows = {
        r["kind"]: (r["status"], r["recipient_email"])
        for r in await db.fetch(
            "SELECT kind, status, recipient_email FROM assessments WHERE partner_id = $1", pid
        )
    }
    assert rows == {"onboarding": ("cancelled", primary["email"]), "offboarding": ("sent", primary["email"])}
    assert (await client.get(portal_path(onboarding["link"]))).status_code == 410
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'assessment.reminder' AND dedupe_key LIKE $1",
            f"assessment:{aid}:%",
        )
        == 0
    )
    invitations = await outbox_emails(
        db, settings.data_keys, "topic = 'assessment.invitation' AND payload ->> 'to' = $1", primary["email"]
    )
    assert len(invitations) == 2  # onboarding, then the attestation
    assert "合作终止数据处置声明" in invitations[-1]["text"]
    cancelled = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'assessment.cancelled'", aid
    )
    assert cancelled == 1

    shown = panel((await me.get(f"/ui/partners/{pid}")).text)
    assert f"离场声明已发送给{primary['name']}（{primary['email']}）" in shown
    assert "数据共享范围已全部撤销" in shown
    assert "其他未完成的评估已取消" in shown
    assert "等待合作方提交声明" in shown
    assert "完成以上事项后才能标记为已离场" in shown

    refused = await client.post(
        f"/api/v1/partners/{pid}/transitions",
        json={"to": "offboarded", "reason": "完成"},
        headers=risk_owner["headers"],
    )
    assert refused.status_code == 409
    assert [u["code"] for u in refused.json()["unmet"]] == ["offboarding_attestation_missing"]

    # Answering the attestation is the portal's own flow (tested there); here its approval matters.
    await db.execute(
        "UPDATE assessments SET status = 'submitted', submitted_at = now() WHERE id = $1", attestation_id
    )
    await review(attestation_id)
    assert "条件已满足，可以标记为已离场" in panel((await me.get(f"/ui/partners/{pid}")).text)
    done = await client.post(
        f"/api/v1/partners/{pid}/transitions",
        json={"to": "offboarded", "reason": "完成"},
        headers=risk_owner["headers"],
    )
    assert done.status_code == 200, done.text
    assert "已离场" in panel((await me.get(f"/ui/partners/{pid}")).text)


async def test_a_partner_without_a_primary_contact_is_offboarded_with_the_gap_shown(
    browser: OpenBrowser,
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
) -> None:
    partner = await new_partner(contacts=[])
    moved = await client.post(
        f"/api/v1/partners/{partner['id']}/transitions",
        json={"to": "offboarding", "reason": "未签约"},
        headers=procurement["headers"],
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["offboarding_assessment_id"] is None
    assert await db.fetchval("SELECT count(*) FROM assessments WHERE partner_id = $1", partner["id"]) == 0
    me = await browser(risk_owner)
    shown = panel((await me.get(f"/ui/partners/{partner['id']}", lang="zh-CN")).text)
    assert "该合作方没有主要联系人" in shown
    assert "该合作方从未接收数据，无须声明" in shown
