"""Clients not listed by name: an approximate count kept on a scope (API, scope form and the
partner page's scope panel), added to an incident's listed affected clients and to the
art. 57 record's count, shown apart ("1 listed + about 2,500 not listed")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser

SCOPE = {
    "processing_methods": ["store"],
    "transfer_method": "api",
    "starts_on": "2026-01-01",
    "retention_days": 30,
    "volume_band": "1k_10k",
}


async def _scope(
    client: Client, procurement: User, partner_id: str, category: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    created = await client.post(
        f"/api/v1/partners/{partner_id}/scopes",
        json={**SCOPE, "category_id": category["id"], "purpose": f"代理记账 {category['code']}", **extra},
        headers=procurement["headers"],
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_a_scopes_unlisted_clients_count_flows_into_the_incident_and_its_record(
    client: Client,
    browser: OpenBrowser,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    pool: asyncpg.Pool,
) -> None:
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    first, second = categories[0], categories[1]
    partner = await new_partner()
    pid = partner["id"]
    payroll = await _scope(client, procurement, pid, first, unlisted_clients_approx=3000)
    assert payroll["unlisted_clients_approx"] == 3000
    plain = await _scope(client, procurement, pid, first)
    assert plain["unlisted_clients_approx"] is None
    elsewhere = await _scope(client, procurement, pid, second, unlisted_clients_approx=500)
    bad = await client.post(
        f"/api/v1/partners/{pid}/scopes",
        json={**SCOPE, "category_id": first["id"], "purpose": "x", "unlisted_clients_approx": -1},
        headers=procurement["headers"],
    )
    assert bad.status_code == 400
    assert "unlisted_clients_approx" in bad.text
    # Setup shortcut: approval has its own gates, tested elsewhere; here the data has gone.
    await pool.execute(
        "UPDATE scopes SET status = 'approved' WHERE id = ANY($1::uuid[])",
        [payroll["id"], plain["id"], elsewhere["id"]],
    )

    # The API: risk owners set it with the version read; a stale one is a 409.
    url = f"/api/v1/partners/{pid}/scopes/{plain['id']}/unlisted-clients"
    version = (
        await client.get(f"/api/v1/partners/{pid}/scopes/{plain['id']}", headers=risk_owner["headers"])
    ).json()["version"]
    refused = await client.put(
        url, json={"unlisted_clients_approx": 10, "version": version}, headers=procurement["headers"]
    )
    assert refused.status_code == 403
    set_ = await client.put(
        url, json={"unlisted_clients_approx": 10, "version": version}, headers=risk_owner["headers"]
    )
    assert set_.status_code == 200, set_.text
    assert set_.json()["unlisted_clients_approx"] == 10
    stale = await client.put(
        url, json={"unlisted_clients_approx": 11, "version": version}, headers=risk_owner["headers"]
    )
    assert stale.status_code == 409

    # The partner page shows the count and lets the risk owner change it.
    me = await browser(risk_owner)
    shown = await me.get(f"/ui/partners/{pid}", lang="zh-CN")
    assert shown.status_code == 200
    assert "另有约 3,000 个未逐一列名的客户" in shown.text
    fresh = await pool.fetchval("SELECT version FROM scopes WHERE id = $1", payroll["id"])
    action = f"/ui/partners/{pid}/scopes/{payroll['id']}/unlisted-clients"
    wrong = await me.post(
        action,
        {"_csrf_token": csrf_of(shown.text), "unlisted_clients_approx": "-5", "version": str(fresh)},
        lang="zh-CN",
    )
    assert wrong.status_code == 400
    assert f'id="f-scope-{payroll["id"]}-unlisted_clients_approx-error"' in wrong.text
    assert 'value="-5"' in wrong.text
    assert (
        await pool.fetchval("SELECT unlisted_clients_approx FROM scopes WHERE id = $1", payroll["id"]) == 3000
    )
    saved = await me.post(
        action,
        {"_csrf_token": csrf_of(shown.text), "unlisted_clients_approx": "2490", "version": str(fresh)},
        lang="zh-CN",
    )
    assert saved.status_code == 303, saved.text
    english = await me.get(f"/ui/partners/{pid}", lang="en")
    assert "About 2,490 clients not listed by name" in english.text
    audited = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'scope.unlisted_clients_set'"
        " AND entity_id::text = ANY($1::text[])",
        [payroll["id"], plain["id"]],
    )
    assert audited == 2

    # One listed client on the payroll scope.
    form = await me.get("/ui/clients/new", lang="zh-CN")
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    made = await me.post(
        "/ui/clients",
        {
            "_csrf_token": csrf_of(form.text),
            "name": f"客户甲{tag}",
            "kind": "person",
            "scope_ids": [payroll["id"]],
        },
    )
    assert made.status_code == 303, made.text

    opened = await client.post(
        f"/api/v1/partners/{pid}/incidents",
        json={
            "title": "工资数据泄露",
            "severity": "high",
            "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "playbook": "partner-data-leak",
            "affected_categories": [first["code"]],
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    incident_id = opened.json()["id"]
    # The other category's 500 are not affected: 2490 + 10 on the first category's scopes.
    page = await me.get(f"/ui/incidents/{incident_id}/clients", lang="zh-CN")
    assert "已列名 1 个 + 未列名约 2,500 个" in page.text
    page_en = await me.get(f"/ui/incidents/{incident_id}/clients", lang="en")
    assert "1 listed + about 2,500 not listed" in page_en.text

    filled = await me.post(
        f"/ui/incidents/{incident_id}/clients/fill", {"_csrf_token": csrf_of(page.text)}, lang="zh-CN"
    )
    assert filled.status_code == 303, filled.text
    record = await pool.fetchrow(
        "SELECT persons_affected_approx, affected_persons FROM incident_notification_records"
        " WHERE incident_id = $1",
        incident_id,
    )
    assert record["persons_affected_approx"] == 2501
    assert f"客户甲{tag}" in record["affected_persons"]
    assert "另有约 2,500 个未逐一列名的客户" in record["affected_persons"]
    # The art. 57 record for the authority carries the total.
    exported = await me.get(f"/ui/incidents/{incident_id}/notification-record/export", lang="zh-CN")
    assert exported.status_code == 200
    assert "约 2,501 人" in exported.text
    assert "另有约 2,500 个未逐一列名的客户" in exported.text
