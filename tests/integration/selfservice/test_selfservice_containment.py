"""An incident's containment cuts the partner's side of self-service at once: the open
sessions end with the questionnaire links, and no contact of that partner can sign in again
while the incident stands (a leaked mailbox must not act for the partner). A contact of two
partners keeps the other one."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User
from tests.integration.selfservice.conftest import Contact, SignIn, latest_link
from vendor_risk.incidents.automation import run_due_actions
from vendor_risk.settings import Settings


async def test_containment_ends_sessions_and_refuses_sign_in_until_the_incident_ends(
    client: Client,
    new_partner: NewPartner,
    sign_in: SignIn,
    risk_owner: User,
    pool: asyncpg.Pool,
    settings: Settings,
    db: asyncpg.Connection,
) -> None:
    leaking = await new_partner()
    email = leaking["contacts"][0]["email"]
    # The same person is a contact of a second partner, which no incident touches.
    other = await new_partner(contacts=[{"name": "李雷", "email": email, "primary": True, "locale": "zh-CN"}])
    me = await sign_in(email, partner_id=leaking["id"])
    assert (await me.get("/p")).status_code == 200
    colleague = await sign_in(leaking["contacts"][1]["email"], lang="en")
    assert (await colleague.get("/p")).status_code == 200

    opened = await client.post(
        f"/api/v1/partners/{leaking['id']}/incidents",
        json={
            "title": "合作方邮箱被钓鱼",
            "severity": "high",
            "detected_at": datetime.now(UTC).isoformat(),
            "playbook": "partner-data-leak",
            "affected_categories": [],
            "description": "合作方一名会计的邮箱密码被钓鱼窃取。",
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    await run_due_actions(pool, settings)

    # Both sessions of the contained partner ended: the next page is the sign-in page.
    for contact in (me, colleague):
        home = await contact.get("/p")
        assert home.status_code == 303
        assert home.headers["location"].startswith("/p/sign-in")
    run = await db.fetchrow(
        "SELECT status, outcome FROM incident_action_runs"
        " WHERE incident_id = $1 AND action = 'revoke_portal_links'",
        opened.json()["id"],
    )
    assert run["status"] == "succeeded"
    assert run["outcome"]["sessions_ended"] == 2
    ended = await db.fetchval(
        "SELECT after FROM audit_events WHERE action = 'selfservice.sessions_revoked' AND entity_id = $1",
        leaking["id"],
    )
    assert sorted(s["email"] for s in ended["sessions"]) == sorted(c["email"] for c in leaking["contacts"])

    # The colleague asks for a new link: the page answers as for any address, and nothing is
    # sent, since their only partner is contained.
    before = await latest_link(db, settings, colleague.email)
    asked = await Contact(client, colleague.email, "en").ask_link()
    assert asked.status_code == 303
    assert await latest_link(db, settings, colleague.email) == before

    # The contact of both partners signs in again, for the other partner only.
    again = await sign_in(email)
    home = await again.get("/p")
    assert home.status_code == 200, home.headers
    assert other["name"] in home.text
    assert leaking["name"] not in home.text
    chosen = await again.submit("/p/choose", "/p/choose", {"partner_id": leaking["id"]})
    assert chosen.status_code == 404, chosen.text
