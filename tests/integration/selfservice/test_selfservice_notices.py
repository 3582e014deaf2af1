"""Notices in self-service: the home page lists the contact's open notices, the contact
acknowledges there (the same record as through the emailed link), and a contact of one
partner cannot open or acknowledge another partner's notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.selfservice.conftest import SignIn


async def _publish(client: Client, risk_owner: User, partner_id: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/notice-publications",
        json={
            "notice_key": "partner-security-baseline",
            "notice_version": 1,
            "audience": "partner",
            "audience_value": partner_id,
            "due_on": (datetime.now(UTC).date() + timedelta(days=20)).isoformat(),
        },
        headers=risk_owner["headers"],
    )
    assert response.status_code == 201, response.text
    published: dict[str, Any] = response.json()
    return published


async def _recipient(db: asyncpg.Connection, publication_id: str, email: str) -> str:
    found = await db.fetchval(
        "SELECT id::text FROM notice_recipients WHERE publication_id = $1 AND email = $2",
        publication_id,
        email,
    )
    assert found is not None
    return str(found)


async def test_a_signed_in_contact_acknowledges_from_the_home_page(
    client: Client, new_partner: NewPartner, sign_in: SignIn, risk_owner: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    other = await new_partner()
    mine = await _publish(client, risk_owner, partner["id"])
    theirs = await _publish(client, risk_owner, other["id"])
    email = partner["contacts"][0]["email"]
    me = await sign_in(email)
    home = await me.get("/p")
    assert home.status_code == 200
    assert "待确认的安全通知" in home.text
    assert "合作方信息安全基本要求" in home.text
    recipient = await _recipient(db, mine["id"], email)
    assert f"/p/notices/{recipient}" in home.text

    page = await me.get(f"/p/notices/{recipient}")
    assert page.status_code == 200
    assert "<h2>一、人员与保密</h2>" in page.text
    refused = await me.post(f"/p/notices/{recipient}", {"_csrf_token": csrf_of(page.text), "name": "李雷"})
    assert refused.status_code == 400
    assert "请勾选确认声明。" in refused.text
    done = await me.post(
        f"/p/notices/{recipient}", {"_csrf_token": csrf_of(page.text), "name": "李雷", "agree": "true"}
    )
    assert done.status_code == 303
    receipt = await me.get(f"/p/notices/{recipient}")
    assert "李雷 已于" in receipt.text
    row = await db.fetchrow(
        "SELECT acknowledged_name, acknowledged_via FROM notice_recipients WHERE id = $1::uuid", recipient
    )
    assert (row["acknowledged_name"], row["acknowledged_via"]) == ("李雷", "portal")
    assert "目前没有需要确认的安全通知。" in (await me.get("/p")).text

    # Another partner's notice (or another contact's): a 404, nothing recorded.
    foreign = await _recipient(db, theirs["id"], other["contacts"][0]["email"])
    assert (await me.get(f"/p/notices/{foreign}")).status_code == 404
    posted = await me.post(
        f"/p/notices/{foreign}", {"_csrf_token": csrf_of(page.text), "name": "x", "agree": "true"}
    )
    assert posted.status_code == 404
    colleague = await _recipient(db, mine["id"], partner["contacts"][1]["email"])
    assert (await me.get(f"/p/notices/{colleague}")).status_code == 404
    assert (
        await db.fetchval(
            "SELECT count(*) FROM notice_recipients"
            " WHERE id = ANY($1::uuid[]) AND acknowledged_at IS NOT NULL",
            [foreign, colleague],
        )
        == 0
    )
