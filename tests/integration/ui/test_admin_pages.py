"""Admin pages: webhooks (create, rotate the secret, disable), the outbox (dead letters,
retry) and the audit log (filters, verify the chain), each for the roles the API allows."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.integration.assessments.conftest import Client, User
from tests.integration.ui.conftest import Browser, OpenBrowser
from tests.integration.ui.querycount import count_queries
from vendor_risk.app import create_app
from vendor_risk.db import connect
from vendor_risk.notify.repository import open_webhook_secret
from vendor_risk.settings import Settings


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(settings.database_url or "")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def loopback_client(settings: Settings) -> AsyncIterator[Client]:
    """The service as an install that allows webhooks on this machine (our receiver is
    on loopback; no test reaches the internet)."""
    app = create_app(msgspec.structs.replace(settings, allow_private_webhooks=True))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture(scope="module")
async def admin(make_user: Any) -> User:
    user: User = await make_user("admin", name="管理员张伟")
    return user


def secret_of(html: str) -> str:
    found = re.search(r'<code class="hash">(whsec_[^<]+)</code>', html)
    assert found, "no secret on the page"
    return found.group(1)


def stored_secret(settings: Settings, row: asyncpg.Record) -> str | None:
    return open_webhook_secret(
        settings.data_keys,
        row["id"],
        row["secret"],
        row["secret_key_id"],
        row["secret_nonce"],
        row["secret_sealed"],
    )


async def test_an_admin_creates_rotates_and_disables_a_webhook(
    loopback_client: Client, db: asyncpg.Connection, admin: User, settings: Settings
) -> None:
    me = Browser(loopback_client)
    await me.sign_in_as(admin, lang="zh-CN")

    created = await me.submit(
        "/ui/admin/webhooks",
        "/ui/admin/webhooks",
        {
            "url": "http://127.0.0.1:9/hook",
            "events": ["incident.opened", "incident.closed"],
            "description": "值班",
        },
    )
    assert created.status_code == 201, created.text
    first = secret_of(created.text)
    row = await db.fetchrow("SELECT * FROM webhooks WHERE url = 'http://127.0.0.1:9/hook'")
    assert stored_secret(settings, row) == first
    assert row["events"] == ["incident.closed", "incident.opened"]
    listed = await me.get("/ui/admin/webhooks")
    assert first not in listed.text  # shown once

    rotated = await me.submit("/ui/admin/webhooks", f"/ui/admin/webhooks/{row['id']}/rotate")
    assert rotated.status_code == 200
    second = secret_of(rotated.text)
    assert second != first
    rotated_row = await db.fetchrow("SELECT * FROM webhooks WHERE id = $1", row["id"])
    assert rotated_row["secret"] is None  # sealed at rest, as at creation
    assert stored_secret(settings, rotated_row) == second
    audited = await db.fetch(
        "SELECT action, after::text AS after FROM audit_events WHERE entity_id = $1 ORDER BY seq",
        str(row["id"]),
    )
    assert [a["action"] for a in audited] == ["webhook.created", "webhook.secret_rotated"]
    assert all(second not in a["after"] and first not in a["after"] for a in audited)

    disabled = await me.submit("/ui/admin/webhooks", f"/ui/admin/webhooks/{row['id']}/disable")
    assert disabled.status_code == 303
    assert await db.fetchval("SELECT disabled_at IS NOT NULL FROM webhooks WHERE id = $1", row["id"])
    assert "http://127.0.0.1:9/hook" not in (await me.get("/ui/admin/webhooks")).text


async def test_a_refused_webhook_names_each_field_and_keeps_what_was_typed(
    browser: OpenBrowser, db: asyncpg.Connection, admin: User
) -> None:
    me = await browser(admin)
    await me.get("/ui", lang="zh-CN")
    empty = await me.submit("/ui/admin/webhooks", "/ui/admin/webhooks", {"url": "", "description": "保留"})
    assert empty.status_code == 400
    assert 'id="f-url-error"' in empty.text
    assert 'id="f-events-error"' in empty.text
    assert 'value="保留"' in empty.text
    # This install refuses private addresses: the service's refusal is shown beside the URL.
    private = await me.submit(
        "/ui/admin/webhooks", "/ui/admin/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}
    )
    assert private.status_code == 400
    assert "该地址不可用" in private.text
    assert 'value="http://127.0.0.1:9/x"' in private.text
    assert await db.fetchval("SELECT count(*) FROM webhooks WHERE url = 'http://127.0.0.1:9/x'") == 0


async def test_a_dead_letter_is_retried_from_the_outbox_page(
    browser: OpenBrowser, db: asyncpg.Connection, admin: User
) -> None:
    message = await db.fetchval(
        """
        INSERT INTO outbox (channel, topic, payload, status, attempts, last_error)
        VALUES ('email', 'assessment.invitation', $1, 'dead', 8, 'SMTP 550 mailbox unavailable')
        RETURNING id
        """,
        {"to": "gone@partner.example.com", "subject": "问卷", "text": "x", "lang": "zh-CN"},
    )
    me = await browser(admin)
    page = await me.get("/ui/admin/outbox", lang="zh-CN")
    assert page.status_code == 200
    assert "SMTP 550 mailbox unavailable" in page.text
    assert f"/ui/admin/outbox/{message}/retry" in page.text
    retried = await me.submit("/ui/admin/outbox", f"/ui/admin/outbox/{message}/retry")
    assert retried.status_code == 303
    row = await db.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", message)
    assert row["status"] in ("pending", "delivered")
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'outbox.retried'",
            str(message),
        )
        == 1
    )


async def test_the_audit_log_filters_and_verifies_the_chain_for_admins_and_auditors(
    browser: OpenBrowser, client: Client, db: asyncpg.Connection, admin: User, auditor: User, risk_owner: User
) -> None:
    me = await browser(auditor)
    await me.get("/ui", lang="zh-CN")
    latest = await db.fetchrow(
        "SELECT entity_type, entity_id, action FROM audit_events ORDER BY seq DESC LIMIT 1"
    )
    filtered = await me.get(
        "/ui/audit", entity_type=latest["entity_type"], entity_id=latest["entity_id"], action=latest["action"]
    )
    assert filtered.status_code == 200
    assert f"<code>{latest['action']}</code>" in filtered.text or latest["action"] in filtered.text
    nothing = await me.get("/ui/audit", action="no.such_action")
    assert 'class="card"' not in nothing.text

    verified = await me.submit("/ui/audit", "/ui/audit/verify")
    assert verified.status_code == 200
    checked = await db.fetchval("SELECT count(*) FROM audit_events")
    assert f"已校验 {checked} 条事件" in verified.text

    # Risk owners have no audit log, as in the API; nobody but an admin has the admin pages.
    owner = await browser(risk_owner)
    assert (await owner.get("/ui/audit")).status_code == 403
    assert (await owner.get("/ui/admin/webhooks")).status_code == 403
    assert (await me.get("/ui/admin/outbox")).status_code == 403
    assert "/ui/audit" not in (await owner.get("/ui")).text
    with count_queries() as queries:
        assert (await me.get("/ui/audit")).status_code == 200
    assert queries.queries <= 4
