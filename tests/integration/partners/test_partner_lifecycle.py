"""Lifecycle moves and their gates, agreement termination, category deletion."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.partners.conftest import (
    Client,
    NewAgreement,
    NewPartner,
    NewScope,
    User,
)


async def move(client: Client, user: User, partner: dict[str, Any], to: str, **extra: Any) -> Any:
    return await client.post(
        f"/api/v1/partners/{partner['id']}/transitions",
        json={"to": to, "reason": f"to {to}"} | extra,
        headers=user["headers"],
    )


def codes(response: Any) -> list[str]:
    assert response.status_code == 409, response.text
    return [u["code"] for u in response.json()["unmet"]]


async def test_illegal_move(client: Client, risk_owner: User, new_partner: NewPartner) -> None:
    partner = await new_partner()
    assert codes(await move(client, risk_owner, partner, "active")) == ["illegal_transition"]
    assert codes(await move(client, risk_owner, partner, "offboarded")) == ["illegal_transition"]


async def test_onboarding_needs_owner_and_primary_contact(
    client: Client, procurement: User, new_partner: NewPartner
) -> None:
    partner = await new_partner(owner_id=None, contacts=[])
    assert codes(await move(client, procurement, partner, "onboarding")) == [
        "owner_missing",
        "primary_contact_missing",
    ]
    moved = await move(client, procurement, partner, "onboarding", version=partner["version"] + 5)
    assert moved.status_code == 409
    assert moved.json()["type"] == "urn:vendor-risk:problem:stale-version"


async def test_activation_lists_every_unmet_condition(
    client: Client,
    db: asyncpg.Connection,
    procurement: User,
    risk_owner: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_scope: NewScope,
) -> None:
    partner = await new_partner()
    moved = await move(client, procurement, partner, "onboarding")
    assert moved.status_code == 200, moved.text
    assert moved.json()["partner"]["status"] == "onboarding"
    scope = await new_scope(partner["id"], categories["invoices"])
    refused = await move(client, risk_owner, partner, "active")
    assert codes(refused) == ["nda_missing", "scope_not_approved", "onboarding_assessment_missing"]
    assert refused.json()["unmet"][1]["entity_id"] == scope["id"]
    status = await db.fetchval("SELECT status FROM partners WHERE id = $1", partner["id"])
    assert status == "onboarding"
    events = await db.fetch(
        "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq", partner["id"]
    )
    assert [e["action"] for e in events].count("partner.status_changed") == 1


async def test_offboarding_revokes_every_scope_and_offboarded_needs_the_attestation(
    client: Client,
    procurement: User,
    risk_owner: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> None:
    partner = await new_partner(business_criticality="low")
    pid = partner["id"]
    await new_agreement(pid, category_ids=[categories["invoices"], categories["contracts"]])
    approved = await new_scope(pid, categories["invoices"])
    requested = await new_scope(pid, categories["contracts"], volume_band="over_1m")
    response = await client.post(
        f"/api/v1/partners/{pid}/scopes/{approved['id']}/approve", json={}, headers=risk_owner["headers"]
    )
    assert response.status_code == 200
    tier_before = (await client.get(f"/api/v1/partners/{pid}", headers=procurement["headers"])).json()
    assert tier_before["tier"] == "medium"

    moved = await move(client, procurement, partner, "offboarding")
    assert moved.status_code == 200, moved.text
    assert set(moved.json()["revoked_scope_ids"]) == {approved["id"], requested["id"]}
    assert moved.json()["partner"]["tier"] == "low"
    scopes = await client.get(f"/api/v1/partners/{pid}/scopes", headers=procurement["headers"])
    assert {s["status"] for s in scopes.json()["items"]} == {"revoked"}
    assert all(s["status_reason"].startswith("partner offboarding") for s in scopes.json()["items"])

    # Data was shared (a scope was approved): the attestation is required first.
    assert codes(await move(client, procurement, partner, "offboarded")) == [
        "offboarding_attestation_missing"
    ]
    added = await client.post(
        f"/api/v1/partners/{pid}/scopes",
        json={
            "category_id": categories["invoices"],
            "purpose": "more",
            "processing_methods": ["process"],
            "transfer_method": "api",
            "starts_on": "2025-01-01",
            "retention_days": 0,
            "volume_band": "under_1k",
        },
        headers=procurement["headers"],
    )
    assert added.status_code == 409
    assert added.json()["type"] == "urn:vendor-risk:problem:partner-closed"


async def test_a_partner_that_never_received_data_leaves_without_attestation(
    client: Client, procurement: User, new_partner: NewPartner
) -> None:
    partner = await new_partner()
    assert (await move(client, procurement, partner, "offboarding")).status_code == 200
    done = await move(client, procurement, partner, "offboarded")
    assert done.status_code == 200, done.text
    assert done.json()["partner"]["status"] == "offboarded"
    # Its legal id is free again: a returning partner is a new record, registered once
    # the user has seen the former one's history.
    body = {
        "name": partner["name"],
        "legal_name": partner["legal_name"],
        "credit_code": partner["credit_code"],
        "business_criticality": "low",
    }
    warned = await client.post("/api/v1/partners", json=body, headers=procurement["headers"])
    assert warned.status_code == 409
    assert [h["id"] for h in warned.json()["history"]] == [partner["id"]]
    again = await client.post(
        "/api/v1/partners", json={**body, "confirm_history": True}, headers=procurement["headers"]
    )
    assert again.status_code == 201
    patched = await client.patch(
        f"/api/v1/partners/{partner['id']}",
        json={"version": done.json()["partner"]["version"], "name": "x"},
        headers=procurement["headers"],
    )
    assert patched.status_code == 409


async def test_terminating_an_agreement_suspends_the_scopes_it_backed(
    client: Client,
    procurement: User,
    risk_owner: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> None:
    partner = await new_partner()
    pid = partner["id"]
    nda = await new_agreement(pid, category_ids=[categories["invoices"], categories["contracts"]])
    msa = await new_agreement(pid, kind="msa", title="MSA", category_ids=[categories["contracts"]])
    invoices = await new_scope(pid, categories["invoices"])
    contracts = await new_scope(pid, categories["contracts"])
    for scope in (invoices, contracts):
        response = await client.post(
            f"/api/v1/partners/{pid}/scopes/{scope['id']}/approve",
            json={},
            headers=risk_owner["headers"],
        )
        assert response.status_code == 200

    terminated = await client.post(
        f"/api/v1/partners/{pid}/agreements/{nda['id']}/terminate",
        json={"reason": "partner breached confidentiality"},
        headers=procurement["headers"],
    )
    assert terminated.status_code == 200, terminated.text
    assert terminated.json()["agreement"]["status"] == "terminated"
    # Contracts are still covered by the MSA; invoices lost their only agreement.
    assert terminated.json()["suspended_scope_ids"] == [invoices["id"]]
    scope = await client.get(
        f"/api/v1/partners/{pid}/scopes/{invoices['id']}", headers=procurement["headers"]
    )
    assert scope.json()["status"] == "suspended"
    assert "no agreement in force covers" in scope.json()["status_reason"]
    again = await client.post(
        f"/api/v1/partners/{pid}/agreements/{nda['id']}/terminate",
        json={"reason": "twice"},
        headers=procurement["headers"],
    )
    assert again.status_code == 409
    # Reinstating the suspended scope goes through the gate again.
    reinstated = await client.post(
        f"/api/v1/partners/{pid}/scopes/{invoices['id']}/approve", json={}, headers=risk_owner["headers"]
    )
    assert codes(reinstated) == ["agreement_missing"]
    assert msa["status"] == "in_force"


async def test_sub_processors_need_consent_unless_the_scope_allows_them(
    client: Client,
    procurement: User,
    risk_owner: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> None:
    partner = await new_partner()
    pid = partner["id"]
    await new_agreement(pid, category_ids=[categories["financial_statements"]])
    sp = await client.post(
        f"/api/v1/partners/{pid}/sub-processors",
        json={"name": "阿里云", "country": "CN", "receives": "encrypted ledger backups"},
        headers=procurement["headers"],
    )
    assert sp.status_code == 201
    assert sp.json()["status"] == "pending"
    scope = await new_scope(pid, categories["financial_statements"], sub_processor_ids=[sp.json()["id"]])
    assert [s["name"] for s in scope["sub_processors"]] == ["阿里云"]
    url = f"/api/v1/partners/{pid}/scopes/{scope['id']}/approve"
    refused = await client.post(url, json={}, headers=risk_owner["headers"])
    assert codes(refused) == ["sub_processor_not_approved"]
    consent = await client.post(
        f"/api/v1/partners/{pid}/sub-processors/{sp.json()['id']}/approve",
        json={"note": "ISO 27001 certified"},
        headers=risk_owner["headers"],
    )
    assert consent.status_code == 200
    assert (await client.post(url, json={}, headers=risk_owner["headers"])).status_code == 200


async def test_category_in_use_cannot_be_deleted(
    client: Client,
    admin: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_scope: NewScope,
) -> None:
    partner = await new_partner()
    await new_scope(partner["id"], categories["shareholder_information"])
    response = await client.delete(
        f"/api/v1/data-categories/{categories['shareholder_information']}", headers=admin["headers"]
    )
    assert response.status_code == 409
    assert response.json()["type"] == "urn:vendor-risk:problem:category-in-use"
    category = await client.get(
        f"/api/v1/data-categories/{categories['shareholder_information']}", headers=admin["headers"]
    )
    assert category.status_code == 200
    changed = await client.patch(
        f"/api/v1/data-categories/{categories['shareholder_information']}",
        json={"version": category.json()["version"], "sensitivity": "public"},
        headers=admin["headers"],
    )
    assert changed.status_code == 409
