"""Concurrent writers: one legal id registers once, a partner's tier never goes stale."""

from __future__ import annotations

import asyncio

from tests.helpers import new_credit_code
from tests.integration.partners.conftest import (
    Client,
    NewPartner,
    NewScope,
    User,
)


async def test_the_same_legal_id_registers_once(client: Client, procurement: User) -> None:
    code = new_credit_code()
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/partners",
                json={
                    "name": f"并发 {i}",
                    "legal_name": f"并发有限公司 {i}",
                    "credit_code": code,
                    "business_criticality": "low",
                },
                headers=procurement["headers"],
            )
            for i in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 5
    winner = next(r.json() for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert response.json()["existing_partner_id"] == winner["id"]


async def test_concurrent_scope_requests_leave_the_right_tier(
    client: Client,
    auditor: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_scope: NewScope,
) -> None:
    partner = await new_partner(business_criticality="low")
    codes = ["invoices", "contracts", "tax_returns", "client_contact_details", "bank_accounts"]
    await asyncio.gather(*(new_scope(partner["id"], categories[c], volume_band="over_1m") for c in codes))
    shown = await client.get(f"/api/v1/partners/{partner['id']}", headers=auditor["headers"])
    # bank accounts: sensitive_personal 6 + over_1m 4 + store 2 = 12 → high
    assert shown.json()["tier"] == "high"
    assert shown.json()["tier_points"] == 12
