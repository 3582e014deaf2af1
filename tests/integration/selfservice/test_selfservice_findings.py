"""Findings to remediate in self-service: long after any assessment link, a partner's
contact sees its findings on the home page, gives a plan and sends a fix with proof files
(stored encrypted); the finding then waits for a reviewer, in both languages."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.assessments.conftest import PDF, Client, NewPartner, User, csrf_of, deliver
from tests.integration.selfservice.conftest import SignIn
from vendor_risk.settings import Settings


async def _raise(client: Client, risk_owner: User, partner_id: str) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/findings",
        json={
            "partner_id": partner_id,
            "severity": "high",
            "title": "未启用多因素认证",
            "remediation": "为所有远程访问启用多因素认证。",
        },
        headers=risk_owner["headers"],
    )
    assert created.status_code == 201, created.text
    found: dict[str, Any] = created.json()
    return found


async def test_a_contact_plans_and_fixes_a_finding_from_self_service(
    client: Client,
    new_partner: NewPartner,
    sign_in: SignIn,
    risk_owner: User,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    partner = await new_partner()
    finding = await _raise(client, risk_owner, partner["id"])
    primary = next(c for c in partner["contacts"] if c["primary"])
    me = await sign_in(primary["email"])

    home = await me.get("/p")
    assert home.status_code == 200
    assert "待整改的发现" in home.text
    assert "未启用多因素认证" in home.text
    page = await me.get("/p/findings")
    assert page.status_code == 200
    assert "为所有远程访问启用多因素认证。" in page.text
    assert "整改期限" in page.text

    refused = await me.post(
        f"/p/findings/{finding['id']}/plan",
        {"_csrf_token": csrf_of(page.text), "plan": "接入统一身份认证", "planned_on": "2020-01-01"},
    )
    assert refused.status_code == 422
    assert "预计完成日期不能早于今天" in refused.text
    assert "接入统一身份认证</textarea>" in refused.text
    planned = await me.post(
        f"/p/findings/{finding['id']}/plan",
        {"_csrf_token": csrf_of(page.text), "plan": "接入统一身份认证", "planned_on": "2099-01-31"},
    )
    assert planned.status_code == 303, planned.text

    page = await me.get("/p/findings")
    fixed = await me.post(
        f"/p/findings/{finding['id']}/fix",
        {"_csrf_token": csrf_of(page.text), "note": "已为 VPN 和堡垒机启用 TOTP"},
        files=[("proof", ("mfa.pdf", PDF))],
    )
    assert fixed.status_code == 303, fixed.text
    shown = (await client.get(f"/api/v1/findings/{finding['id']}", headers=risk_owner["headers"])).json()
    assert shown["status"] == "verifying"
    assert [p["filename"] for p in shown["proofs"]] == ["mfa.pdf"]
    assert [e["side"] for e in shown["history"] if e["kind"] in ("planned", "fixed")] == [
        "partner",
        "partner",
    ]
    assert primary["email"] in shown["history"][-1]["actor_label"]
    ciphertext = await pool.fetchval(
        "SELECT ciphertext FROM documents WHERE id = $1", shown["proofs"][0]["id"]
    )
    assert PDF not in bytes(ciphertext)

    english = await me.get("/p/findings", lang="en")
    assert "you sent your fix and proof; we are verifying it." in english.text.lower()
    home = await me.get("/p", lang="en")
    assert "Findings to remediate" in home.text
    assert "Awaiting our verification" in home.text
    # The owner's "to verify" email leaves now, not in another test's delivery run.
    assert (await deliver(pool, settings))["delivered"] >= 1


async def test_another_partners_finding_is_not_found_from_self_service(
    client: Client, new_partner: NewPartner, sign_in: SignIn, risk_owner: User
) -> None:
    mine, theirs = await new_partner(), await new_partner()
    their_finding = await _raise(client, risk_owner, theirs["id"])
    me = await sign_in(next(c for c in mine["contacts"] if c["primary"])["email"])
    page = await me.get("/p/findings")
    assert "未启用多因素认证" not in page.text
    for action, fields in (
        ("plan", {"plan": "不是我的", "planned_on": "2099-01-31"}),
        ("fix", {"note": "不是我的"}),
    ):
        answer = await me.post(
            f"/p/findings/{their_finding['id']}/{action}",
            {"_csrf_token": csrf_of(page.text), **fields},
            files=[("proof", ("x.pdf", PDF))] if action == "fix" else None,
        )
        assert answer.status_code == 404, answer.text
    shown = (
        await client.get(f"/api/v1/findings/{their_finding['id']}", headers=risk_owner["headers"])
    ).json()
    assert shown["status"] == "open"
    assert shown["partner_plan"] is None
