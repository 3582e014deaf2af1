"""Throttling and lockout, the same answer for an unknown email, the authorization rules
(own keys only, the last admin) and bad input, on the API and on the pages."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from tests.conftest import fresh_database, user_maker
from tests.helpers import Mailbox
from tests.integration.assessments.conftest import deliver
from tests.integration.auth.conftest import Browser, Client, OpenBrowser, csrf_of, text_of
from vendor_risk.app import create_app
from vendor_risk.cli import prepare_database
from vendor_risk.settings import Settings


async def _time_passes(pool: asyncpg.Pool) -> None:
    """As if the backoff's wait had passed (the test does not sleep through it)."""
    await pool.execute("UPDATE signin_failures SET last_failed_at = last_failed_at - interval '2 minutes'")


async def test_wrong_passwords_are_slowed_then_locked_and_the_owner_emailed(
    browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool, settings: Settings, smtp: tuple[Mailbox, int]
) -> None:
    user = await make_user("auditor", locale="zh-CN")
    me = await browser()
    statuses = []
    for _ in range(4):
        statuses.append((await me.sign_in(user["email"], "wrong password, again")).status_code)
    # Three free tries, then the next one must wait.
    assert statuses == [401, 401, 401, 429]
    slowed = await me.sign_in(user["email"], user["password"])
    assert slowed.status_code == 429
    assert int(slowed.headers["retry-after"]) >= 1
    failures = 3  # the refused (throttled) try was not counted
    while failures < 10:
        await _time_passes(pool)
        assert (await me.sign_in(user["email"], "wrong password, again")).status_code == 401
        failures += 1
    # Locked: even the right password is refused now, and waiting out the backoff does not help.
    await _time_passes(pool)
    locked = await me.sign_in(user["email"], user["password"])
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 600
    await deliver(pool, settings)
    [notice] = smtp[0].to(user["email"])
    assert notice["Subject"] == "您的账户已被暂时锁定"
    assert "10 次" in text_of(notice)
    assert "/ui/password/forgot" in text_of(notice)
    events = await pool.fetch(
        "SELECT action FROM audit_events WHERE entity_id = $1 AND action LIKE 'signin.%'", str(user["id"])
    )
    actions = [e["action"] for e in events]
    assert actions.count("signin.failed") == 10
    assert actions.count("signin.locked") == 1
    # The lock ends by itself.
    await pool.execute("UPDATE signin_failures SET locked_until = now() - interval '1 second'")
    assert (await me.sign_in(user["email"], user["password"])).status_code == 303


async def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(
    browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool
) -> None:
    user = await make_user("procurement")
    me = await browser()
    unknown_email = "no.one.here@example.com"
    wrong = await me.sign_in(user["email"], "wrong password, again")
    unknown = await me.sign_in(unknown_email, "wrong password, again")
    assert wrong.status_code == unknown.status_code == 401
    # Only what was typed differs.
    assert wrong.text.replace(user["email"], "EMAIL").replace(
        csrf_of(wrong.text), ""
    ) == unknown.text.replace(unknown_email, "EMAIL").replace(csrf_of(unknown.text), "")
    # Both are counted and slowed alike: throttling tells accounts apart no better.
    await me.sign_in(user["email"], "wrong password, again")
    await me.sign_in(unknown_email, "wrong password, again")
    counted = dict(await pool.fetch("SELECT key, failures FROM signin_failures WHERE key LIKE 'account:%'"))
    assert counted == {f"account:{user['email'].lower()}": 2, f"account:{unknown_email}": 2}
    await me.sign_in(user["email"], "wrong password, again")
    await me.sign_in(unknown_email, "wrong password, again")
    await pool.execute("UPDATE signin_failures SET last_failed_at = now()")
    assert (await me.sign_in(user["email"], "x" * 12)).status_code == 429
    assert (await me.sign_in(unknown_email, "x" * 12)).status_code == 429
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = 'signin.failed' AND entity_id = $1",
            unknown_email,
        )
        >= 1
    )


async def test_admin_cannot_create_a_key_for_another_user(
    client: Client, browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool
) -> None:
    admin = await make_user("admin")
    other = await make_user("procurement")
    refused = await client.post(
        f"/api/v1/users/{other['id']}/api-keys", json={"name": "x"}, headers=admin["headers"]
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:vendor-risk:problem:own-keys-only"
    # The admin's page for the user offers revoking, never creating, their keys.
    me = await browser(admin)
    page = await me.get(f"/ui/admin/users/{other['id']}")
    assert page.status_code == 200
    assert "/ui/admin/keys/" in page.text
    assert "Create API key" not in page.text
    # The keys page lists everyone's keys; revoking one there works like the API.
    keys_page = await me.get("/ui/admin/keys")
    [other_key] = await pool.fetch("SELECT id, prefix FROM api_keys WHERE user_id = $1", other["id"])
    assert other_key["prefix"] in keys_page.text
    revoked = await me.post(
        f"/ui/admin/keys/{other_key['id']}/revoke?from=keys", {"_csrf_token": csrf_of(keys_page.text)}
    )
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/ui/admin/keys"
    assert (await client.get("/api/v1/me", headers=other["headers"])).status_code == 401
    # Everyone creates their own on their account page, shown once.
    mine = await me.get("/ui/account")
    created = await me.post("/ui/account/keys", {"_csrf_token": csrf_of(mine.text), "name": "laptop"})
    assert created.status_code == 200
    assert 'id="new-key">vrk_' in created.text
    key = created.text.split('id="new-key">', 1)[1].split("<", 1)[0]
    assert key not in (await me.get("/ui/account")).text
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM api_keys WHERE user_id = $1 AND name = 'laptop'", admin["id"]
        )
        == 1
    )


async def test_the_last_admin_cannot_be_disabled_or_demoted(settings: Settings) -> None:
    """On a database of its own, where the test knows every admin."""
    shared = settings.database_url or ""
    async with fresh_database(shared.rsplit("/", 1)[0] + "/postgres") as url:
        own = msgspec.structs.replace(settings, database_url=url)
        await prepare_database(own, quiet=True)
        make = user_maker(own)
        first, second = await make("admin"), await make("admin")
        async with AsyncTestClient(app=create_app(own), base_url="http://testserver.local") as client:

            async def patch(target: dict[str, Any], actor: dict[str, Any], **change: Any) -> Any:
                conn = await asyncpg.connect(url)
                try:
                    version = await conn.fetchval("SELECT version FROM users WHERE id = $1", target["id"])
                finally:
                    await conn.close()
                return await client.patch(
                    f"/api/v1/users/{target['id']}",
                    json={"version": version, **change},
                    headers=actor["headers"],
                )

            assert (await patch(second, first, disabled=True)).status_code == 200
            demoted = await patch(first, first, role="auditor")
            assert demoted.status_code == 409
            assert demoted.json()["type"] == "urn:vendor-risk:problem:last-admin-credential"
            assert demoted.json()["rule"] == "last-admin-credential"
            assert "last enabled administrator" in demoted.json()["detail"]
            me = (await client.get("/api/v1/me", headers=first["headers"])).json()
            assert me["role"] == "admin"  # nothing was changed
            # Re-enabling the second admin makes it possible; then the first may step down.
            assert (await patch(second, first, disabled=False)).status_code == 200
            assert (await patch(first, first, role="auditor")).status_code == 200
            # ... and now the second is the last: disabling it is refused, on the page too.
            third = await make("risk_owner")
            assert (await patch(second, third, disabled=True)).status_code == 403
            browser = Browser(client)
            await browser.sign_in_as(second)
            own_page = await browser.get(f"/ui/admin/users/{second['id']}")
            assert own_page.status_code == 200
            demote = await browser.post(
                f"/ui/admin/users/{second['id']}/role",
                {
                    "_csrf_token": csrf_of(own_page.text),
                    "role": "auditor",
                    "version": _version(own_page.text),
                },
            )
            assert demote.status_code == 409
            assert "系统必须至少保留一名已启用且能够登录的管理员" in demote.text
            # Revoking the last admin's key is fine while its password still lets it in.
            [key] = (await client.get("/api/v1/me/api-keys", headers=second["headers"])).json()
            await client.get("/api/v1/me", headers=second["headers"])
            revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=second["headers"])
            assert revoked.status_code == 200


def _version(html: str) -> str:
    marker = 'name="version" value="'
    return html.split(marker, 1)[1].split('"', 1)[0]


async def test_bad_input_names_the_field_and_writes_nothing(
    client: Client, browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool
) -> None:
    admin = await make_user("admin")
    before = await pool.fetchval("SELECT count(*) FROM users")
    for body, field in (
        ({"email": "not-an-email", "name": "X", "role": "auditor"}, "email"),
        ({"email": "long@example.com", "name": "x" * 201, "role": "auditor"}, "name"),
        ({"email": "a" * 250 + "@example.com", "name": "X", "role": "auditor"}, "email"),
    ):
        response = await client.post("/api/v1/users", json=body, headers=admin["headers"])
        assert response.status_code == 400, body
        assert response.json()["type"] == "urn:vendor-risk:problem:validation"
        assert {e["field"] for e in response.json()["errors"]} == {field}
    me = await browser(admin)
    page = await me.get("/ui/admin/users")
    refused = await me.post(
        "/ui/admin/users",
        {
            "_csrf_token": csrf_of(page.text),
            "email": "nope",
            "name": "Typed name",
            "role": "auditor",
            "locale": "en",
        },
    )
    assert refused.status_code == 400
    assert 'id="f-email-error"' in refused.text
    assert 'value="Typed name"' in refused.text  # what was typed is kept
    long_login = await me.sign_in("x" * 300 + "@example.com", "whatever password")
    assert long_login.status_code == 400
    assert 'id="f-email-error"' in long_login.text
    assert await pool.fetchval("SELECT count(*) FROM users") == before
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE payload->>'to' = 'nope'") == 0


async def test_an_admin_resets_a_second_factor_and_ends_sessions(
    client: Client, browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool
) -> None:
    admin = await make_user("admin")
    user = await make_user("risk_owner")
    theirs = await browser(user)
    assert (await theirs.get("/ui")).status_code == 200
    me = await browser(admin)
    page = await me.get(f"/ui/admin/users/{user['id']}")
    reset = await me.post(f"/ui/admin/users/{user['id']}/reset-2fa", {"_csrf_token": csrf_of(page.text)})
    assert reset.status_code == 303
    assert (await theirs.get("/ui")).status_code == 303  # signed out
    # Their next sign-in enrols again, as the role requires.
    again = await theirs.sign_in(user["email"], user["password"])
    assert again.headers["location"] == "/ui/login/enrol"
    # A user cannot turn off what the role requires.
    account = await (await browser(admin)).get("/ui/account")
    assert "/ui/account/second-factor/disable" not in account.text
    actions = [
        r["action"]
        for r in await pool.fetch("SELECT action FROM audit_events WHERE entity_id = $1", str(user["id"]))
    ]
    assert "second_factor.reset" in actions
    assert "sessions.ended" in actions


async def test_the_policy_names_the_roles_that_need_a_second_factor(
    make_user: Any, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Sign-in follows the policy's ``second_factor_roles`` (there is no setting for it)."""
    from vendor_risk.auth import service

    procurement_rule = msgspec.structs.replace(
        settings, policy=msgspec.structs.replace(settings.policy, second_factor_roles=("procurement",))
    )
    admin = await user_maker(procurement_rule)("admin")  # no second factor: its role needs none
    buyer = await make_user("procurement")  # made under the default policy: no second factor yet
    where = service.Client(address="127.0.0.1", user_agent="test")

    async def sign_in(user: dict[str, Any], rules: Settings) -> Any:
        async with pool.acquire() as conn:
            return await service.sign_in(conn, rules, user["email"], user["password"], where, "/ui")

    assert isinstance(await sign_in(admin, procurement_rule), service.SignedIn)
    assert isinstance(await sign_in(buyer, settings), service.SignedIn)
    owed = await sign_in(buyer, procurement_rule)
    assert isinstance(owed, service.SecondStep)
    assert owed.stage == "enrol"
    # Under the shipped policy an admin without a second factor must enrol first.
    owed = await sign_in(admin, settings)
    assert isinstance(owed, service.SecondStep)
    assert owed.stage == "enrol"
