"""What a partner sees and declares in self-service besides certificates: its agreements
(signed copies only where the policy allows), its sub-processors, and a new sub-processor
that waits for the risk owner's consent on the staff page."""

from __future__ import annotations

import asyncpg

from tests.integration.assessments.conftest import PDF, Client, NewPartner, User, csrf_of
from tests.integration.selfservice.conftest import SignIn
from tests.integration.ui.conftest import OpenBrowser


async def test_agreements_are_listed_and_copies_stay_with_the_firm_by_default(
    client: Client, new_partner: NewPartner, sign_in: SignIn, procurement: User
) -> None:
    partner = await new_partner()
    created = await client.post(
        f"/api/v1/partners/{partner['id']}/agreements",
        json={
            "kind": "nda",
            "title": "保密协议 2026",
            "signed_on": "2026-01-05",
            "effective_from": "2026-01-05",
            "signatories": [
                {"party": "us", "name": "张三"},
                {"party": "partner", "name": "李雷"},
            ],
        },
        headers=procurement["headers"],
    )
    assert created.status_code == 201, created.text
    agreement_id = created.json()["id"]
    uploaded = await client.put(
        f"/api/v1/partners/{partner['id']}/agreements/{agreement_id}/document",
        files={"file": ("nda.pdf", PDF, "application/pdf")},
        headers=procurement["headers"],
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    me = await sign_in(partner["contacts"][0]["email"])
    home = await me.get("/p")
    assert "保密协议 2026" in home.text
    assert "如需协议的签署版本" in home.text
    assert f"/p/agreements/{agreement_id}/document" not in home.text
    refused = await me.get(f"/p/agreements/{agreement_id}/document")
    assert refused.status_code == 403


async def test_a_declared_sub_processor_waits_for_the_risk_owners_consent(
    new_partner: NewPartner,
    sign_in: SignIn,
    browser: OpenBrowser,
    risk_owner: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"])
    refused = await me.submit("/p/sub-processors/new", "/p/sub-processors", {"name": "", "country": "CN"})
    assert refused.status_code == 400
    assert 'value="CN"' in refused.text
    done = await me.submit(
        "/p/sub-processors/new",
        "/p/sub-processors",
        {"name": "阿里云计算有限公司", "country": "cn", "receives": "加密备份的账套数据"},
    )
    assert done.status_code == 303
    home = await me.get("/p")
    assert "阿里云计算有限公司" in home.text
    assert "待决定" in home.text
    row = await db.fetchrow(
        "SELECT id, status, country, created_by FROM sub_processors WHERE partner_id = $1", partner["id"]
    )
    assert row["status"] == "pending"
    assert row["country"] == "CN"
    assert row["created_by"] is None
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'sub_processor.declared' AND payload->>'to' = $1"
            " AND payload->>'subject' LIKE '%阿里云%'",
            risk_owner["email"],
        )
        == 1
    )

    # The risk owner consents with the partner page's own buttons.
    staff = await browser(risk_owner)
    page = await staff.get(f"/ui/partners/{partner['id']}", lang="zh-CN")
    assert "阿里云计算有限公司" in page.text
    approved = await staff.post(
        f"/ui/partners/{partner['id']}/sub-processors/{row['id']}/approve",
        {"_csrf_token": csrf_of(page.text), "version": "1"},
    )
    assert approved.status_code == 303, approved.text
    assert await db.fetchval("SELECT status FROM sub_processors WHERE id = $1", row["id"]) == "approved"
    assert "已同意" in (await me.get("/p")).text
