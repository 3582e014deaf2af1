"""The partner's stored residual rating: set when an assessment is approved, moved by
findings opened, accepted, resolved and expired, repaired by the worker's sweep, and
sortable and filterable in the partner list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import MakeUser
from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Review,
    Send,
    User,
    complete,
)
from vendor_risk.assessments.rules import rate
from vendor_risk.audit.models import SYSTEM
from vendor_risk.findings import service as findings_service
from vendor_risk.partners import rating


async def shown(client: Client, partner_id: str, user: User) -> dict[str, Any]:
    response = await client.get(f"/api/v1/partners/{partner_id}", headers=user["headers"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_finding(client: Client, partner_id: str, severity: str, risk_owner: User) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/findings",
        json={"partner_id": partner_id, "severity": severity, "title": "机房门禁失效"},
        headers=risk_owner["headers"],
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_rating_follows_approval_and_findings(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    risk_owner: User,
    auditor: User,
    make_user: MakeUser,
) -> None:
    # A critical risk is accepted by two risk owners, neither of them its raiser (policy.yaml).
    raiser, second = await make_user("risk_owner"), await make_user("risk_owner")
    partner = await new_partner(business_criticality="low")
    assert (await shown(client, partner["id"], auditor))["residual_rating"] is None
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]))
    # Submitted is not approved: still unrated.
    assert (await shown(client, partner["id"], auditor))["residual_rating"] is None
    detail = await review(sent["assessment"]["id"])

    after = await shown(client, partner["id"], auditor)
    assert after["residual_rating"] == detail["rating"]["level"]
    assert after["residual_rated_at"] is not None
    assert after["residual_rating"] == rate(after["tier"], detail["score"], {}).level

    # An open critical finding lifts it to at least high, at once.
    finding = await add_finding(client, partner["id"], "critical", raiser)
    assert (await shown(client, partner["id"], auditor))["residual_rating"] == "high"
    # Accepting the risk takes the finding out of the count.
    for acceptor, status in ((risk_owner, 202), (second, 200)):
        accepted = await client.post(
            f"/api/v1/findings/{finding['id']}/accept",
            json={
                "until": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
                "justification": "compensating control",
            },
            headers=acceptor["headers"],
        )
        assert accepted.status_code == status, accepted.text
    assert (await shown(client, partner["id"], auditor))["residual_rating"] == after["residual_rating"]

    # The acceptance runs out: the expiry sweep reopens the finding and the rating rises again.
    await db.execute("ALTER TABLE risk_acceptances DISABLE TRIGGER risk_acceptances_immutable")
    try:
        await db.execute(
            "UPDATE risk_acceptances SET until = current_date - 1 WHERE finding_id = $1", finding["id"]
        )
    finally:
        await db.execute("ALTER TABLE risk_acceptances ENABLE TRIGGER risk_acceptances_immutable")
    await findings_service.lapse_expired_acceptances(db, SYSTEM, datetime.now(UTC).date())
    reopened = await shown(client, partner["id"], auditor)
    assert reopened["residual_rating"] == "high"

    # Resolving it brings the rating back down.
    resolved = await client.patch(
        f"/api/v1/findings/{finding['id']}",
        json={
            "version": (
                await client.get(f"/api/v1/findings/{finding['id']}", headers=auditor["headers"])
            ).json()["version"],
            "status": "resolved",
        },
        headers=risk_owner["headers"],
    )
    assert resolved.status_code == 200, resolved.text
    assert (await shown(client, partner["id"], auditor))["residual_rating"] == after["residual_rating"]

    # Each change is audited and kept in the partner's rating history.
    events = await db.fetch(
        """
        SELECT before ->> 'residual_rating' AS before, after ->> 'residual_rating' AS after
        FROM audit_events WHERE action = 'partner.rating_changed' AND entity_id = $1 ORDER BY seq
        """,
        partner["id"],
    )
    level = after["residual_rating"]
    assert [(e["before"], e["after"]) for e in events] == [
        (None, level),
        (level, "high"),
        ("high", level),
        (level, "high"),
        ("high", level),
    ]
    history = await db.fetch(
        "SELECT rating FROM partner_ratings WHERE partner_id = $1 ORDER BY id", partner["id"]
    )
    assert [h["rating"] for h in history] == [level, "high", level, "high", level]


async def test_the_sweep_repairs_a_rating_and_changes_nothing_twice(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    auditor: User,
) -> None:
    partner = await new_partner(business_criticality="low")
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]))
    detail = await review(sent["assessment"]["id"])
    # Something wrote behind the services' back.
    await db.execute("UPDATE partners SET residual_rating = NULL WHERE id = $1", partner["id"])
    assert await rating.repair(db, SYSTEM) >= 1
    assert (await shown(client, partner["id"], auditor))["residual_rating"] == detail["rating"]["level"]
    assert await rating.repair(db, SYSTEM) == 0
    repaired = await db.fetchval(
        """
        SELECT count(*) FROM audit_events, jsonb_array_elements(after -> 'changes') c
        WHERE action = 'partners.ratings_repaired' AND c ->> 'partner_id' = $1
        """,
        partner["id"],
    )
    assert repaired == 1


async def test_the_list_sorts_worst_first_and_filters_by_rating(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    auditor: User,
) -> None:
    tag = f"排序{datetime.now(UTC).timestamp()}"
    made = {}
    for level in ("medium", None, "critical", "low", "critical"):
        partner = await new_partner(name=f"{tag} {level}")
        await db.execute("UPDATE partners SET residual_rating = $2 WHERE id = $1", partner["id"], level)
        made.setdefault(level, []).append(partner["id"])
    seen: list[str | None] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": tag, "sort": "rating", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/v1/partners", params=params, headers=auditor["headers"])
        assert page.status_code == 200, page.text
        seen += [p["residual_rating"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["critical", "critical", "medium", "low", None]
    # Ties keep the list's order: newest first.
    top = await client.get(
        "/api/v1/partners", params={"q": tag, "sort": "rating", "limit": 2}, headers=auditor["headers"]
    )
    assert [p["id"] for p in top.json()["items"]] == made["critical"][::-1]

    filtered = await client.get(
        "/api/v1/partners",
        params={"q": tag, "rating": ["critical", "unrated"]},
        headers=auditor["headers"],
    )
    assert sorted(p["id"] for p in filtered.json()["items"]) == sorted(made["critical"] + made[None])
    bad = await client.get("/api/v1/partners", params={"rating": "severe"}, headers=auditor["headers"])
    assert bad.status_code == 400
