"""The partner list (filters, search, keyset pages) and the dashboard."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.partners.conftest import (
    Client,
    NewAgreement,
    NewPartner,
    NewScope,
    User,
)


def chinese_tag() -> str:
    """Two random CJK characters: a query no other test's partner matches."""
    return "".join(chr(0x4E00 + secrets.randbelow(0x51A5)) for _ in range(2))


def today() -> datetime:
    return datetime.now(UTC)


async def listing(client: Client, user: User, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/partners", params=params, headers=user["headers"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_search_by_name_or_legal_name_in_any_script(
    client: Client, auditor: User, new_partner: NewPartner
) -> None:
    tag = chinese_tag()
    latin = secrets.token_hex(4)
    by_name = await new_partner(name=f"{tag}税务代理")
    by_legal = await new_partner(name=f"Acme-{latin}", legal_name=f"上海{tag}信息技术有限公司")
    await new_partner(name=f"{tag[0]}other")  # shares only one character

    found = await listing(client, auditor, q=tag)
    assert [p["id"] for p in found["items"]] == [by_legal["id"], by_name["id"]]
    assert (await listing(client, auditor, q=f"ACME-{latin.upper()}"))["items"][0]["id"] == by_legal["id"]
    assert (await listing(client, auditor, q=f" {tag}税务 "))["items"][0]["id"] == by_name["id"]
    assert (await listing(client, auditor, q=f"{tag}不存在"))["items"] == []
    single = await listing(client, auditor, q=tag[1], limit=200)
    assert {by_name["id"], by_legal["id"]} <= {p["id"] for p in single["items"]}
    # A full legal name: its 有限公司 is not looked up in the index (every legal name has
    # it), but the whole name is still what must match.
    assert [p["id"] for p in (await listing(client, auditor, q=f"上海{tag}信息技术有限公司"))["items"]] == [
        by_legal["id"]
    ]
    assert (await listing(client, auditor, q=f"上海{tag}信息技术股份有限公司"))["items"] == []
    assert (await listing(client, auditor, q=f"{tag}税务代理有限公司"))["items"] == []


async def test_rows_carry_tier_status_score_and_findings(
    client: Client, auditor: User, risk_owner: User, new_partner: NewPartner
) -> None:
    tag = chinese_tag()
    partner = await new_partner(name=f"{tag}工资", business_criticality="critical")
    [row] = (await listing(client, auditor, q=tag))["items"]
    assert row["id"] == partner["id"]
    assert row["tier"] == "medium"
    assert row["status"] == "proposed"
    assert row["last_assessment_score"] is None
    assert row["open_findings"] == 0
    assert row["needs_attention"] is False
    assert row["owner_id"] == str(risk_owner["id"])


async def test_filters_combine(
    client: Client, auditor: User, procurement: User, risk_owner: User, new_partner: NewPartner
) -> None:
    tag = chinese_tag()
    low = await new_partner(name=f"{tag}甲", business_criticality="low", owner_id=None)
    critical = await new_partner(name=f"{tag}乙", business_criticality="critical")
    moved = await client.post(
        f"/api/v1/partners/{critical['id']}/transitions",
        json={"to": "onboarding", "reason": "start"},
        headers=procurement["headers"],
    )
    assert moved.status_code == 200

    def ids(body: dict[str, Any]) -> list[str]:
        return [p["id"] for p in body["items"]]

    assert ids(await listing(client, auditor, q=tag, status="onboarding")) == [critical["id"]]
    assert ids(await listing(client, auditor, q=tag, status=["proposed", "onboarding"])) == [
        critical["id"],
        low["id"],
    ]
    assert ids(await listing(client, auditor, q=tag, tier="low")) == [low["id"]]
    assert ids(await listing(client, auditor, q=tag, owner=str(risk_owner["id"]))) == [critical["id"]]
    bad = await client.get("/api/v1/partners", params={"tier": "extreme"}, headers=auditor["headers"])
    assert bad.status_code == 400


async def test_keyset_pages_cover_everything_once(
    client: Client, auditor: User, new_partner: NewPartner
) -> None:
    tag = chinese_tag()
    created = [await new_partner(name=f"{tag}{i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": tag, "limit": 2} | ({"cursor": cursor} if cursor else {})
        body = await listing(client, auditor, **params)
        seen += [p["id"] for p in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [p["id"] for p in reversed(created)]
    forged = await client.get(
        "/api/v1/partners", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auditor["headers"]
    )
    assert forged.status_code == 400
    assert forged.json()["errors"][0]["field"] == "cursor"


async def test_needs_attention_follows_expiring_agreements_and_renewals(
    client: Client,
    auditor: User,
    new_partner: NewPartner,
    new_agreement: NewAgreement,
) -> None:
    tag = chinese_tag()
    day = today().date()
    expiring = await new_partner(name=f"{tag}将到期")
    expired = await new_partner(name=f"{tag}已过期")
    renewed = await new_partner(name=f"{tag}已续签")
    calm = await new_partner(name=f"{tag}正常")
    await new_agreement(expiring["id"], expires_on=str(day + timedelta(days=10)))
    await new_agreement(expired["id"], expires_on=str(day - timedelta(days=1)))
    await new_agreement(renewed["id"], expires_on=str(day + timedelta(days=5)))
    await new_agreement(renewed["id"], expires_on=str(day + timedelta(days=730)))
    await new_agreement(calm["id"], expires_on=str(day + timedelta(days=61)))

    attention = await listing(client, auditor, q=tag, needs_attention="true")
    assert {p["id"]: p["attention"] for p in attention["items"]} == {
        expiring["id"]: ["agreement_expiring"],
        expired["id"]: ["agreement_expired"],
    }
    calm_rows = await listing(client, auditor, q=tag, needs_attention="false")
    assert {p["id"] for p in calm_rows["items"]} == {renewed["id"], calm["id"]}
    shown = await client.get(f"/api/v1/partners/{expired['id']}", headers=auditor["headers"])
    assert shown.json()["needs_attention"] is True
    agreements = await client.get(f"/api/v1/partners/{expired['id']}/agreements", headers=auditor["headers"])
    assert [a["status"] for a in agreements.json()["items"]] == ["expired"]


async def test_dashboard_in_one_call(
    client: Client,
    auditor: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> None:
    before = (await client.get("/api/v1/dashboard", headers=auditor["headers"])).json()
    partner = await new_partner(business_criticality="critical")
    await new_agreement(partner["id"], expires_on=str(today().date() + timedelta(days=3)))
    await new_scope(partner["id"], categories["invoices"])
    response = await client.get("/api/v1/dashboard", headers=auditor["headers"])
    assert response.status_code == 200
    after = response.json()
    assert after["partners_total"] == before["partners_total"] + 1
    assert after["partners_by_status"]["proposed"] == before["partners_by_status"]["proposed"] + 1
    assert sum(after["partners_by_tier"].values()) == after["partners_total"]
    assert set(after["partners_by_status"]) == {
        "proposed",
        "onboarding",
        "active",
        "suspended",
        "offboarding",
        "offboarded",
    }
    assert after["agreements_expiring_count"] == before["agreements_expiring_count"] + 1
    assert after["scopes_awaiting_approval_count"] == before["scopes_awaiting_approval_count"] + 1
    assert after["partners_needing_attention_count"] == before["partners_needing_attention_count"] + 1
    assert len(after["agreements_expiring"]) <= 10
    expiry_dates = [a["expires_on"] for a in after["agreements_expiring"]]
    assert expiry_dates == sorted(expiry_dates)
    assert after["expiring_within_days"] == 60


async def test_sorted_lists_page_through_everything_once_in_order(
    client: Client, auditor: User, new_partner: NewPartner
) -> None:
    tag = chinese_tag()
    made = [
        await new_partner(name=f"{tag} {letter}", business_criticality=crit)
        for letter, crit in (("c", "low"), ("a", "critical"), ("d", "high"), ("b", "low"), ("e", "medium"))
    ]
    ids = {p["id"] for p in made}
    for sort in ("name", "tier", "reassessment", "rating", "created"):
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await listing(
                client, auditor, q=tag, sort=sort, limit=2, **({"cursor": cursor} if cursor else {})
            )
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [p["id"] for p in seen if p["id"] in ids] == [p["id"] for p in seen], sort
        assert {p["id"] for p in seen} == ids, sort
        if sort == "name":
            assert [p["name"][-1] for p in seen] == ["a", "b", "c", "d", "e"]
        if sort == "tier":
            ranks = ["low", "medium", "high", "critical"]
            assert [ranks.index(p["tier"]) for p in seen] == sorted(
                (ranks.index(p["tier"]) for p in seen), reverse=True
            )
        if sort == "reassessment":
            dues = [p["next_reassessment_at"] for p in seen]
            assert dues == sorted(dues)
    bad = await client.get("/api/v1/partners", params={"sort": "colour"}, headers=auditor["headers"])
    assert bad.status_code == 400
