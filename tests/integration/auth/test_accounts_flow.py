"""An invited person becomes a signed-in user with a second factor; links, recovery codes
and resets behave as a user would expect."""

from __future__ import annotations

import re
import time
from typing import Any

import asyncpg
import pyotp

from tests.helpers import Mailbox, database_dump
from tests.integration.assessments.conftest import deliver
from tests.integration.auth.conftest import Client, OpenBrowser, csrf_of, password_link, text_of
from vendor_risk.settings import Settings

NEW_PASSWORD = "a long sentence I remember 7"


async def _audit_actions(pool: asyncpg.Pool, user_id: Any) -> list[str]:
    rows = await pool.fetch(
        "SELECT action FROM audit_events WHERE entity_type = 'user' AND entity_id = $1 ORDER BY seq",
        str(user_id),
    )
    return [r["action"] for r in rows]


async def test_invitation_to_signed_in_with_password_and_code(
    client: Client,
    browser: OpenBrowser,
    make_user: Any,
    pool: asyncpg.Pool,
    settings: Settings,
    smtp: tuple[Mailbox, int],
) -> None:
    admin = await make_user("admin")
    email = f"wang.fang.{time.monotonic_ns()}@example.com"
    invited = await client.post(
        "/api/v1/users",
        json={"email": email, "name": "王芳", "role": "risk_owner", "locale": "zh-CN"},
        headers=admin["headers"],
    )
    assert invited.status_code == 201, invited.text
    user_id = invited.json()["user"]["id"]
    await deliver(pool, settings)
    [mail] = smtp[0].to(email)
    assert mail["Subject"] == "邀请您使用供应商风险管理系统"
    assert "风险负责人" in text_of(mail)
    link = password_link(mail)

    me = await browser()
    form = await me.get(link)
    assert form.status_code == 200
    assert email in form.text
    # A weak password is refused beside its field, and nothing is written.
    weak = await me.post(
        link, {"_csrf_token": csrf_of(form.text), "password": "password1234", "confirm": "password1234"}
    )
    assert weak.status_code == 400
    assert 'id="f-password-error"' in weak.text
    assert await pool.fetchval("SELECT password_hash FROM users WHERE id = $1::uuid", user_id) is None
    saved = await me.post(
        link, {"_csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/ui/login?done=password"
    # The link worked once.
    used = await me.get(link)
    assert used.status_code == 410
    assert "链接已失效" in used.text

    # The role requires a second factor: the first sign-in enrols one.
    signed = await me.sign_in(email, NEW_PASSWORD)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ui/login/enrol"
    assert (await me.get("/ui")).status_code == 303  # not signed in yet
    enrol = await me.get("/ui/login/enrol")
    assert enrol.status_code == 200
    assert "<svg" in enrol.text
    found = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', enrol.text)
    assert found
    totp = pyotp.TOTP(found.group(1))
    wrong = await me.post("/ui/login/enrol", {"_csrf_token": csrf_of(enrol.text), "code": "000000"})
    assert wrong.status_code == 400
    confirmed = await me.post("/ui/login/enrol", {"_csrf_token": csrf_of(enrol.text), "code": totp.now()})
    assert confirmed.status_code == 200
    codes = re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", confirmed.text)
    assert len(codes) == 10
    # The secret is sealed with the data key: a copy of the database cannot make codes.
    assert found.group(1) not in await database_dump(settings.database_url or "")
    dashboard = await me.get("/ui")
    assert dashboard.status_code == 200
    assert "王芳" in dashboard.text

    out = await me.post("/ui/logout", {"_csrf_token": csrf_of(dashboard.text)})
    assert out.status_code == 303
    assert (await me.get("/ui")).status_code == 303

    again = await me.sign_in(email, NEW_PASSWORD)
    assert again.headers["location"] == "/ui/login/code"
    # The code just used is spent; the next time step's is accepted (one step of drift).
    assert (await me.enter_code(totp.at(int(time.time()) - 30))).status_code == 401
    done = await me.enter_code(totp.at(int(time.time()) + 30))
    assert done.status_code == 303
    assert (await me.get("/ui")).status_code == 200

    actions = await _audit_actions(pool, user_id)
    for action in (
        "user.invited",
        "password.set",
        "second_factor.enrolled",
        "signin.succeeded",
        "session.ended",
    ):
        assert action in actions, actions
    assert actions.count("signin.succeeded") == 2
    secrets_in_audit = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE after::text LIKE $1 OR after::text LIKE $2",
        f"%{NEW_PASSWORD}%",
        f"%{found.group(1)}%",
    )
    assert secrets_in_audit == 0


async def test_a_recovery_code_works_once(browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool) -> None:
    user = await make_user("risk_owner")
    me = await browser(user)
    account = await me.get("/ui/account")
    assert account.status_code == 200
    fresh = await me.post("/ui/account/recovery-codes", {"_csrf_token": csrf_of(account.text)})
    assert fresh.status_code == 200
    codes = re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", fresh.text)
    assert len(codes) == 10
    for attempt, expected in ((codes[0].lower().replace("-", " "), 303), (codes[0], 401)):
        other = await browser()
        first = await other.sign_in(user["email"], user["password"])
        assert first.headers["location"] == "/ui/login/code"
        assert (await other.enter_code(attempt)).status_code == expected
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", user["id"]
        )
        == 9
    )
    assert "second_factor.recovery_code_used" in await _audit_actions(pool, user["id"])


async def test_a_reset_by_email_ends_the_old_sessions(
    browser: OpenBrowser, make_user: Any, pool: asyncpg.Pool, settings: Settings, smtp: tuple[Mailbox, int]
) -> None:
    user = await make_user("procurement", locale="en")
    old = await browser(user)
    assert (await old.get("/ui")).status_code == 200

    me = await browser()
    answers = []
    for email in (user["email"], f"nobody.{time.monotonic_ns()}@example.com"):
        form = await me.get("/ui/password/forgot")
        asked = await me.post("/ui/password/forgot", {"_csrf_token": csrf_of(form.text), "email": email})
        answers.append((asked.status_code, asked.headers["location"]))
    # The same answer whether or not the address has an account.
    assert answers[0] == answers[1] == (303, "/ui/login?done=reset")
    await deliver(pool, settings)
    [mail] = smtp[0].to(user["email"])
    assert mail["Subject"] == "Reset your password"
    link = password_link(mail)
    form = await me.get(link)
    mismatch = await me.post(
        link, {"_csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"}
    )
    assert mismatch.status_code == 400
    assert 'id="f-confirm-error"' in mismatch.text
    saved = await me.post(
        link, {"_csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert saved.status_code == 303
    # Every earlier session ended at once; the old password no longer works, the new one does.
    assert (await old.get("/ui")).status_code == 303
    assert (await me.sign_in(user["email"], user["password"])).status_code == 401
    assert (await me.sign_in(user["email"], NEW_PASSWORD)).status_code == 303
    actions = await _audit_actions(pool, user["id"])
    assert "password.reset_requested" in actions
    assert "password.reset" in actions
    assert "sessions.ended" in actions


async def test_an_expired_or_unknown_link_shows_a_clear_page(
    client: Client, make_user: Any, pool: asyncpg.Pool, settings: Settings, smtp: tuple[Mailbox, int]
) -> None:
    admin = await make_user("admin")
    email = f"late.{time.monotonic_ns()}@example.com"
    invited = await client.post(
        "/api/v1/users",
        json={"email": email, "name": "Late", "role": "auditor", "locale": "en"},
        headers=admin["headers"],
    )
    assert invited.status_code == 201
    await deliver(pool, settings)
    link = password_link(smtp[0].to(email)[0])
    await pool.execute(
        "UPDATE user_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1::uuid",
        invited.json()["user"]["id"],
    )
    for path in (link, "/ui/password/" + "x" * 43):
        gone = await client.get(path, params={"lang": "zh-CN"})
        assert gone.status_code == 410
        assert "链接已失效" in gone.text
        assert "content-security-policy" in gone.headers
    # A resent invitation works again.
    resent = await client.post(
        f"/api/v1/users/{invited.json()['user']['id']}/invitation", headers=admin["headers"]
    )
    assert resent.status_code == 200
    await deliver(pool, settings)
    assert (await client.get(password_link(smtp[0].to(email)[-1]))).status_code == 200
