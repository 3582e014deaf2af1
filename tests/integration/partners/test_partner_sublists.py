"""A partner's own lists: an unknown partner is a 404, a known one without records an empty page."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.integration.partners.conftest import Client, NewPartner, User

SUBLISTS = ["agreements", "scopes", "sub-processors", "impact-assessments"]


@pytest.mark.parametrize("sublist", SUBLISTS)
async def test_unknown_partner_is_not_found(client: Client, auditor: User, sublist: str) -> None:
    response = await client.get(f"/api/v1/partners/{uuid4()}/{sublist}", headers=auditor["headers"])
    assert response.status_code == 404
    assert response.json()["type"] == "urn:vendor-risk:problem:not-found"


@pytest.mark.parametrize("sublist", SUBLISTS)
async def test_known_partner_without_records_lists_nothing(
    client: Client, auditor: User, new_partner: NewPartner, sublist: str
) -> None:
    partner = await new_partner()
    response = await client.get(f"/api/v1/partners/{partner['id']}/{sublist}", headers=auditor["headers"])
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
