"""The dashboard: what needs action today, most urgent first, without noise."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Review,
    Send,
    User,
    complete,
)
from tests.integration.ui.conftest import OpenBrowser
from tests.integration.ui.querycount import count_queries
from vendor_risk.db import connect
from vendor_risk.settings import Settings


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(settings.database_url or "")
    try:
        yield conn
    finally:
        await conn.close()


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="dash-{name}">.*?</section>', html, re.S)
    return found.group(0) if found else ""


async def open_incident(client: Client, partner_id: str, risk_owner: User, hours_ago: int) -> str:
    opened = await client.post(
        f"/api/v1/partners/{partner_id}/incidents",
        json={
            "title": f"泄露 {hours_ago}",
            "severity": "high",
            "detected_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
            "playbook": "partner-data-leak",
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    iid: str = opened.json()["id"]
    return iid


async def test_the_dashboard_lists_what_needs_action_most_urgent_first_without_noise(
    browser: OpenBrowser,
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    risk_owner: User,
) -> None:
    # A leak with an overdue step comes before a fresh one.
    fresh = await new_partner(name="新近事件合作方")
    late = await new_partner(name="逾期事件合作方")
    await open_incident(client, fresh["id"], risk_owner, hours_ago=0)
    await open_incident(client, late["id"], risk_owner, hours_ago=5)
    # An assessment waiting for review, with the days it has waited.
    waiting = await new_partner(name="待审核合作方")
    sent = await send(waiting["id"])
    await complete(Partner(client, sent["link"]))
    await db.execute(
        "UPDATE assessments SET submitted_at = now() - interval '3 days' WHERE id = $1",
        sent["assessment"]["id"],
    )
    # Due for reassessment: one assessed before with nothing out, shown; one never
    # assessed with a questionnaire out, not shown (the state the sweep and a rising tier
    # leave, set directly).
    due = await new_partner(name="应复评合作方")
    first = await send(due["id"])
    await complete(Partner(client, first["link"]))
    await review(first["assessment"]["id"])
    noisy = await new_partner(name="从未评估合作方")
    await send(noisy["id"])
    await db.execute(
        "UPDATE partners SET status = 'active', reassessment_due_at = now(),"
        " reassessment_due_reason = 'tier rose' WHERE id = ANY($1::uuid[])",
        [due["id"], noisy["id"]],
    )

    me = await browser(risk_owner)
    page = await me.get("/ui", lang="zh-CN")
    assert page.status_code == 200
    incidents = section(page.text, "incidents")
    assert incidents.index("逾期事件合作方") < incidents.index("新近事件合作方")
    assert "个步骤已逾期" in incidents
    reviews = section(page.text, "reviews")
    assert re.search(r"待审核合作方</a> · [^<]+ · <span[^>]*>已等待 3 天", reviews), reviews
    reassess = section(page.text, "reassessments")
    assert "应复评合作方" in reassess
    assert "从未评估合作方" not in page.text
    # The most urgent list comes first on the page.
    assert page.text.index('id="dash-incidents"') < page.text.index('id="dash-reviews"')


async def test_the_dashboard_runs_one_fixed_set_of_queries(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, risk_owner: User
) -> None:
    me = await browser(risk_owner)

    async def count() -> int:
        with count_queries() as queries:
            assert (await me.get("/ui")).status_code == 200
        return queries.queries

    before = await count()
    for hours in range(5):
        partner = await new_partner()
        await open_incident(client, partner["id"], risk_owner, hours_ago=hours)
    assert await count() == before
    assert before <= 3  # the session, the board


async def test_a_failed_nightly_verify_is_shown_first_to_admins_and_risk_owners(
    browser: OpenBrowser, db: asyncpg.Connection, make_user: Any, procurement: User, risk_owner: User
) -> None:
    admin = await make_user("admin")
    run_id = await db.fetchval(
        """
        INSERT INTO audit_verify_runs
            (started_at, events_checked, checkpoints_checked, ok, break_count, breaks)
        VALUES (now(), 1234, 3, false, 2, '[]') RETURNING id
        """
    )
    try:
        for user in (admin, risk_owner):
            me = await browser(user)
            html = (await me.get("/ui", lang="zh-CN")).text
            alert = re.search(r'<section id="dash-audit-failure".*?</section>', html, re.S)
            assert alert, html
            assert "审计链夜间校验失败" in alert.group(0)
            assert "检查了 1234 条审计事件，发现 2 处断裂" in alert.group(0)
            assert html.index("dash-audit-failure") < html.index("</h1>") + 200  # at the top
            assert ('href="/ui/audit"' in alert.group(0)) == (user is admin)  # risk owners cannot read it
        me = await browser(procurement)
        assert "dash-audit-failure" not in (await me.get("/ui")).text
        # A later run that passed clears it.
        await db.execute(
            """
            INSERT INTO audit_verify_runs
            (started_at, events_checked, checkpoints_checked, ok, break_count, breaks)
            VALUES (now(), 1240, 3, true, 0, '[]')
            """
        )
        me = await browser(risk_owner)
        assert "dash-audit-failure" not in (await me.get("/ui")).text
    finally:
        await db.execute("DELETE FROM audit_verify_runs WHERE id >= $1", run_id)
