"""Hostile and accidental input: each case is a 400 problem naming the field, never a 500,
and nothing is written."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.conftest import MakeUser
from tests.integration.assessments.conftest import PDF, Client, NewPartner, Partner, Send, User

NUL = "\x00"


@pytest.fixture(scope="package")
async def admin(make_user: MakeUser) -> User:
    return await make_user("admin")


def named(response: Any, field: str) -> None:
    """The response is a 400 problem whose errors name ``field``."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body


def partner_body(risk_owner: User, **overrides: Any) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    return {
        "name": "好会计",
        "legal_name": "好会计有限公司",
        "country": "US",
        "registration_number": f"C{tag}",
        "business_criticality": "low",
        "owner_id": str(risk_owner["id"]),
        "contacts": [{"name": "李雷", "email": "li.lei@partner.example.com", "primary": True}],
    } | overrides


async def count(db: asyncpg.Connection, table: str) -> int:
    value = await db.fetchval(f"SELECT count(*) FROM {table}")
    assert isinstance(value, int)
    return value


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": f"坏{NUL}名字"}, "name"),
        ({"name": "坏\x07名字"}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "\u3000\t"}, "name"),
        ({"name": "换行\r\nBcc: x@evil.example"}, "name"),
        ({"name": "结尾换行\n"}, "name"),
        ({"legal_name": f"公司{NUL}"}, "legal_name"),
        (
            {"contacts": [{"name": "李雷\r\n", "email": "li@partner.example.com", "primary": True}]},
            "contacts[0].name",
        ),
        (
            {
                "contacts": [
                    {"name": "李雷", "email": "li@partner.example.com\r\nBcc: x@e.example", "primary": True}
                ]
            },
            "contacts[0].email",
        ),
        ({"services": [f"记账{NUL}"]}, "services[0]"),
    ],
)
async def test_partner_text_refused(
    client: Client,
    procurement: User,
    risk_owner: User,
    db: asyncpg.Connection,
    overrides: dict[str, Any],
    field: str,
) -> None:
    before = await count(db, "partners")
    response = await client.post(
        "/api/v1/partners", json=partner_body(risk_owner, **overrides), headers=procurement["headers"]
    )
    named(response, field)
    assert await count(db, "partners") == before


async def test_a_name_with_inner_spaces_and_long_text_with_newlines_are_kept(
    client: Client, procurement: User, risk_owner: User, new_partner: NewPartner
) -> None:
    response = await client.post(
        "/api/v1/partners",
        json=partner_body(risk_owner, name=" Good  Books ", legal_name="Good Books Ltd."),
        headers=procurement["headers"],
    )
    assert response.status_code == 201, response.text
    partner = await new_partner()
    finding = await client.post(
        "/api/v1/findings",
        json={
            "partner_id": partner["id"],
            "severity": "low",
            "title": "备份未加密",
            "description": "第一行\r\n第二行\n\t缩进",
        },
        headers=procurement["headers"] | {},
    )
    # Procurement may not raise findings; the text itself is fine, so the refusal is the role.
    assert finding.status_code == 403


async def test_finding_title_and_long_text(
    client: Client, risk_owner: User, new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    base = {"partner_id": partner["id"], "severity": "high"}
    before = await count(db, "findings")
    named(
        await client.post(
            "/api/v1/findings", json=base | {"title": f"标题{NUL}"}, headers=risk_owner["headers"]
        ),
        "title",
    )
    named(
        await client.post(
            "/api/v1/findings",
            json=base | {"title": "标题", "description": f"a{NUL}b"},
            headers=risk_owner["headers"],
        ),
        "description",
    )
    assert await count(db, "findings") == before
    kept = await client.post(
        "/api/v1/findings",
        json=base | {"title": "标题", "description": "第一行\r\n第二行\n\t缩进"},
        headers=risk_owner["headers"],
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["description"] == "第一行\r\n第二行\n\t缩进"


async def test_scope_purpose(client: Client, procurement: User, new_partner: NewPartner) -> None:
    partner = await new_partner()
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    response = await client.post(
        f"/api/v1/partners/{partner['id']}/scopes",
        json={
            "category_id": categories[0]["id"],
            "purpose": f"代理记账{NUL}",
            "processing_methods": ["store"],
            "transfer_method": "api",
            "starts_on": "2025-01-01",
            "retention_days": 365,
            "volume_band": "1k_10k",
        },
        headers=procurement["headers"],
    )
    named(response, "purpose")


async def test_webhook_description_and_url(client: Client, admin: User, db: asyncpg.Connection) -> None:
    before = await count(db, "webhooks")
    body = {"url": "https://203.0.113.9/in", "events": ["*"]}
    named(
        await client.post(
            "/api/v1/webhooks", json=body | {"description": f"x{NUL}"}, headers=admin["headers"]
        ),
        "description",
    )
    named(
        await client.post("/api/v1/webhooks", json=body | {"url": "http://[::1/x"}, headers=admin["headers"]),
        "url",
    )
    named(
        await client.post(
            "/api/v1/webhooks",
            json=body | {"url": f"https://203.0.113.9/{NUL}"},
            headers=admin["headers"],
        ),
        "url",
    )
    assert await count(db, "webhooks") == before


async def test_incident_cause_and_persons_affected(
    client: Client, risk_owner: User, new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    opened = await client.post(
        f"/api/v1/partners/{partner['id']}/incidents",
        json={
            "title": "邮箱被钓鱼",
            "severity": "high",
            "detected_at": datetime.now(UTC).isoformat(),
            "playbook": "partner-data-leak",
            "affected_categories": [],
            "description": "合作方会计邮箱被盗。",
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    path = f"/api/v1/incidents/{opened.json()['id']}/notification-record"
    named(
        await client.put(path, json={"version": 0, "cause": f"钓鱼{NUL}"}, headers=risk_owner["headers"]),
        "cause",
    )
    named(
        await client.put(
            path, json={"version": 0, "persons_affected_approx": 1099511627776}, headers=risk_owner["headers"]
        ),
        "persons_affected_approx",
    )
    named(await client.put(path, json={"version": 1099511627776}, headers=risk_owner["headers"]), "version")
    saved = await client.put(
        path, json={"version": 0, "persons_affected_approx": 2_000_000_000}, headers=risk_owner["headers"]
    )
    assert saved.status_code == 200, saved.text


async def test_query_filters(client: Client, admin: User) -> None:
    named(await client.get("/api/v1/partners", params={"q": f"金蝶{NUL}"}, headers=admin["headers"]), "q")
    named(
        await client.get("/api/v1/audit-events", params={"action": f"x{NUL}"}, headers=admin["headers"]),
        "action",
    )


async def test_deeply_nested_body(client: Client, procurement: User) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = await client.post(
        "/api/v1/partners",
        content=f'{{"name": {deep}}}',
        headers=procurement["headers"] | {"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    response = await client.post(
        "/api/v1/questionnaires/valid-example/score",
        content=json.dumps({"answers": nested}),
        headers=procurement["headers"] | {"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text


async def test_portal_text_answer_comment_and_plan(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    # The page comes back with the error beside the question and what was typed kept.
    response = await me.save(0, "data", {"dh-2": f"明文{NUL}存储"})
    assert response.status_code == 422, response.text
    assert "包含不允许的控制字符" in response.text
    assert "明文" in response.text
    commented = await me.save(0, "access", {"ac-1": "yes"}, extra=[("c:ac-1", "注释\x1b[31m")])
    assert commented.status_code == 422
    assert "包含不允许的控制字符" in commented.text
    answers = await db.fetchval(
        "SELECT answers FROM assessment_parts WHERE assessment_id = $1", sent["assessment"]["id"]
    )
    assert answers == {}
    # Long text keeps its line breaks and tabs.
    kept = await me.save(0, "data", {"dh-2": "第一行\r\n\t第二行"})
    assert kept.status_code == 303, kept.text


async def test_portal_submitter_name(client: Client, new_partner: NewPartner, send: Send) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    await complete_answers(me)
    refused = await me.submit(name=f"李{NUL}雷")
    assert refused.status_code == 422
    assert "包含不允许的控制字符" in refused.text
    assert 'aria-describedby="err-submitter"' in refused.text
    assert (await me.submit(name="李雷")).status_code == 303


async def complete_answers(me: Partner) -> None:
    assert (await me.save(0, "access", {"ac-1": "yes", "ac-2": "1"})).status_code == 303
    data = await me.save(
        0, "data", {"dh-1": "aes256", "dh-3": ["encrypted", "tested"]}, files={"dh-3": ("b.pdf", PDF)}
    )
    assert data.status_code == 303, data.text
