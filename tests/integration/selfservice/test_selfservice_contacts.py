"""A partner proposes contact changes in self-service; nothing changes until procurement
confirms on the partner page; a stale proposal gets the side-by-side page; a rejected one
changes nothing."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.selfservice.conftest import SignIn
from tests.integration.ui.conftest import OpenBrowser


def proposal(partner: dict[str, Any], version: int) -> dict[str, str]:
    first = partner["contacts"][0]
    return {
        "version": str(version),
        "contacts.0.id": first["id"],
        "contacts.0.name": first["name"],
        "contacts.0.email": first["email"],
        "contacts.0.phone": "010-88886666",
        "contacts.0.locale": "zh-CN",
        "contacts.0.primary": "true",
        # The second contact's row left blank: removed. A new one added.
        "contacts.2.name": "韩梅梅",
        "contacts.2.email": "han.meimei@partner.example.com",
        "contacts.2.locale": "zh-CN",
        "note": "韩女士接替原联系人",
    }


async def test_contacts_change_only_when_procurement_confirms(
    client: Client,
    new_partner: NewPartner,
    sign_in: SignIn,
    browser: OpenBrowser,
    procurement: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"])
    form = await me.get("/p/contacts")
    assert form.status_code == 200
    assert partner["contacts"][1]["email"] in form.text

    # Bad input stays on the page beside its field.
    bad = proposal(partner, partner["version"]) | {"contacts.2.email": "not an address"}
    refused = await me.submit("/p/contacts", "/p/contacts", bad)
    assert refused.status_code == 400
    assert 'value="not an address"' in refused.text

    done = await me.submit("/p/contacts", "/p/contacts", proposal(partner, partner["version"]))
    assert done.status_code == 303, done.text
    stored = await db.fetch("SELECT email, phone FROM partner_contacts WHERE partner_id = $1", partner["id"])
    assert {r["email"] for r in stored} == {c["email"] for c in partner["contacts"]}  # nothing changed yet
    home = await me.get("/p")
    assert "正在等待我司确认" in home.text

    staff = await browser(procurement)
    page = await staff.get(f"/ui/partners/{partner['id']}", lang="zh-CN")
    assert "韩梅梅" in page.text
    assert "确认并生效" in page.text
    change_id = await db.fetchval(
        "SELECT id FROM contact_change_requests WHERE partner_id = $1 AND status = 'pending'", partner["id"]
    )
    confirmed = await staff.post(
        f"/ui/partners/{partner['id']}/contact-changes/{change_id}/decision",
        {"_csrf_token": csrf_of(page.text), "decision": "confirmed", "version": "1"},
    )
    assert confirmed.status_code == 303, confirmed.text
    stored = await db.fetch("SELECT email, phone FROM partner_contacts WHERE partner_id = $1", partner["id"])
    assert {r["email"] for r in stored} == {partner["contacts"][0]["email"], "han.meimei@partner.example.com"}
    assert "010-88886666" in {r["phone"] for r in stored}
    actions = [
        r["action"]
        for r in await db.fetch(
            "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq", partner["id"]
        )
    ]
    assert "contact_change.proposed" in actions
    assert "contact_change.confirmed" in actions
    assert "partner.updated" in actions

    # A proposal made on a version that changed since: both side by side, then resubmitted.
    stale = await me.submit("/p/contacts", "/p/contacts", proposal(partner, partner["version"]))
    assert stale.status_code == 409
    assert "联系人已被修改" in stale.text
    assert "han.meimei@partner.example.com" in stale.text


async def test_a_rejected_proposal_changes_nothing(
    new_partner: NewPartner, sign_in: SignIn, browser: OpenBrowser, procurement: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"], lang="en")
    assert (
        await me.submit("/p/contacts", "/p/contacts", proposal(partner, partner["version"]))
    ).status_code == 303
    change_id = await db.fetchval(
        "SELECT id FROM contact_change_requests WHERE partner_id = $1", partner["id"]
    )
    staff = await browser(procurement)
    page = await staff.get(f"/ui/partners/{partner['id']}")
    rejected = await staff.post(
        f"/ui/partners/{partner['id']}/contact-changes/{change_id}/decision",
        {"_csrf_token": csrf_of(page.text), "decision": "rejected", "version": "1", "note": "请先发函确认"},
    )
    assert rejected.status_code == 303
    stored = await db.fetch("SELECT email FROM partner_contacts WHERE partner_id = $1", partner["id"])
    assert {r["email"] for r in stored} == {c["email"] for c in partner["contacts"]}
    assert (
        await db.fetchval("SELECT status FROM contact_change_requests WHERE id = $1", change_id) == "rejected"
    )
