"""Role matrix: procurement records, a risk owner decides, an auditor reads, an admin keeps
the category list, nobody without a key sees anything."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.partners.conftest import (
    PDF,
    Client,
    NewAgreement,
    NewPartner,
    NewScope,
    User,
)


@pytest.fixture
async def world(
    client: Client,
    procurement: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> dict[str, Any]:
    partner = await new_partner()
    agreement = await new_agreement(partner["id"], category_ids=[categories["invoices"]])
    await client.put(
        f"/api/v1/partners/{partner['id']}/agreements/{agreement['id']}/document",
        files={"file": ("nda.pdf", PDF, "application/pdf")},
        headers=procurement["headers"],
    )
    scope = await new_scope(partner["id"], categories["invoices"])
    return {"partner": partner, "agreement": agreement, "scope": scope, "categories": categories}


def requests(world: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    p = f"/api/v1/partners/{world['partner']['id']}"
    a = f"{p}/agreements/{world['agreement']['id']}"
    s = f"{p}/scopes/{world['scope']['id']}"
    return [
        ("GET", "/api/v1/partners", None),
        ("GET", p, None),
        ("GET", f"{p}/agreements", None),
        ("GET", a, None),
        ("GET", f"{a}/document", None),
        ("GET", f"{p}/scopes", None),
        ("GET", s, None),
        ("GET", f"{p}/sub-processors", None),
        ("GET", f"{p}/impact-assessments", None),
        ("GET", "/api/v1/data-categories", None),
        ("GET", "/api/v1/dashboard", None),
    ]


@pytest.mark.parametrize("role", ["procurement", "risk_owner", "auditor"])
async def test_staff_read_everything(
    client: Client, world: dict[str, Any], make_user: Any, role: str
) -> None:
    user = await make_user(role)
    for method, url, _ in requests(world):
        response = await client.request(method, url, headers=user["headers"])
        assert response.status_code == 200, f"{role} {method} {url}: {response.status_code}"


async def test_nobody_without_a_key_reads_anything(client: Client, world: dict[str, Any]) -> None:
    for method, url, _ in requests(world):
        response = await client.request(method, url)
        assert response.status_code == 401, f"{method} {url}"
        bad_key = await client.request(method, url, headers={"Authorization": "Bearer vrk_nope"})
        assert bad_key.status_code == 401, f"{method} {url}"


async def test_admin_reads_the_registry_but_not_signed_documents(
    client: Client, world: dict[str, Any], admin: User
) -> None:
    p = f"/api/v1/partners/{world['partner']['id']}"
    assert (await client.get(p, headers=admin["headers"])).status_code == 200
    document = await client.get(
        f"{p}/agreements/{world['agreement']['id']}/document", headers=admin["headers"]
    )
    assert document.status_code == 403


async def test_auditor_cannot_write(client: Client, world: dict[str, Any], auditor: User) -> None:
    p = f"/api/v1/partners/{world['partner']['id']}"
    a = f"{p}/agreements/{world['agreement']['id']}"
    s = f"{p}/scopes/{world['scope']['id']}"
    writes = [
        ("POST", "/api/v1/partners", {"name": "x"}),
        ("PATCH", p, {"version": 1}),
        ("POST", f"{p}/transitions", {"to": "onboarding", "reason": "x"}),
        ("POST", f"{p}/agreements", {}),
        ("PATCH", a, {"version": 1}),
        ("POST", f"{a}/terminate", {"reason": "x"}),
        ("POST", f"{p}/scopes", {}),
        ("POST", f"{s}/approve", {}),
        ("POST", f"{s}/suspend", {"reason": "x"}),
        ("POST", f"{s}/revoke", {"reason": "x"}),
        ("POST", f"{p}/sub-processors", {}),
        ("POST", f"{p}/impact-assessments", {}),
        ("POST", "/api/v1/data-categories", {}),
    ]
    for method, url, body in writes:
        response = await client.request(method, url, json=body, headers=auditor["headers"])
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
    upload = await client.put(
        f"{a}/document",
        files={"file": ("x.pdf", PDF, "application/pdf")},
        headers=auditor["headers"],
    )
    assert upload.status_code == 403


async def test_procurement_cannot_decide(
    client: Client, world: dict[str, Any], procurement: User, risk_owner: User
) -> None:
    p = f"/api/v1/partners/{world['partner']['id']}"
    s = f"{p}/scopes/{world['scope']['id']}"
    approve = await client.post(f"{s}/approve", json={}, headers=procurement["headers"])
    assert approve.status_code == 403
    assert "risk_owner" in approve.json()["detail"]
    suspend = await client.post(f"{s}/suspend", json={"reason": "x"}, headers=procurement["headers"])
    assert suspend.status_code == 403
    for target in ("active", "suspended"):
        moved = await client.post(
            f"{p}/transitions", json={"to": target, "reason": "x"}, headers=procurement["headers"]
        )
        assert moved.status_code == 403, target
    # The risk owner may; here the scope is approved under the NDA covering invoices.
    assert (await client.post(f"{s}/approve", json={}, headers=risk_owner["headers"])).status_code == 200
    # Ending an approved scope is the risk owner's decision too (issue 12: a side door).
    refused = await client.post(
        f"{s}/revoke", json={"reason": "no longer needed"}, headers=procurement["headers"]
    )
    assert refused.status_code == 403
    revoked = await client.post(
        f"{s}/revoke", json={"reason": "no longer needed"}, headers=risk_owner["headers"]
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"


async def test_only_admin_manages_categories(
    client: Client, admin: User, procurement: User, risk_owner: User
) -> None:
    body = {
        "code": "archive_boxes",
        "name": {"zh-CN": "纸质档案", "en": "Paper archives"},
        "sensitivity": "confidential",
    }
    for user in (procurement, risk_owner):
        response = await client.post("/api/v1/data-categories", json=body, headers=user["headers"])
        assert response.status_code == 403
    created = await client.post("/api/v1/data-categories", json=body, headers=admin["headers"])
    assert created.status_code == 201, created.text
    assert created.json()["builtin"] is False
    duplicate = await client.post("/api/v1/data-categories", json=body, headers=admin["headers"])
    assert duplicate.status_code == 409
    deleted = await client.delete(f"/api/v1/data-categories/{created.json()['id']}", headers=admin["headers"])
    assert deleted.status_code == 204
