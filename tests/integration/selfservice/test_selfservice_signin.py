"""Signing in to self-service by emailed link: the flow, the clear pages for expired, used
and unknown links in both languages, the same answer for unknown addresses, rate limits,
partner choice, sign-out, and staff ending sessions from the partner page."""

from __future__ import annotations

import hashlib
import re

import asyncpg
import pytest

from tests.integration.assessments.conftest import NewPartner, User, csrf_of
from tests.integration.selfservice.conftest import Contact, SignIn, latest_link
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.selfservice.web import LINKS_PER_CLIENT, LINKS_PER_EMAIL, SESSION_COOKIE
from vendor_risk.settings import Settings


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'id="f-{name}-error" role="alert">([^<]*)<', html)
    return found.group(1) if found else None


async def test_link_signs_in_to_the_partner_page_once(
    client: object, new_partner: NewPartner, sign_in: SignIn, db: asyncpg.Connection, settings: Settings
) -> None:
    partner = await new_partner()
    email = partner["contacts"][0]["email"]
    me = Contact(client, email)  # type: ignore[arg-type]
    asked = await me.ask_link(email.upper())  # addresses match whatever their case
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/p/sign-in/sent")
    sent = await me.get("/p/sign-in/sent")
    assert "15 分钟" in sent.text

    # Sealed in the outbox: only recipient, subject and language readable without the key.
    row = await db.fetchrow(
        "SELECT payload, sealed FROM outbox WHERE topic = 'selfservice_link' AND payload->>'to' = $1", email
    )
    assert row["sealed"] is not None
    assert "text" not in row["payload"]
    link = await latest_link(db, settings, email)
    assert link
    token = link.rsplit("/", 1)[1]
    stored = await db.fetchrow(
        "SELECT token_hash, expires_at - created_at AS lifetime FROM selfservice_links WHERE email = $1",
        email,
    )
    assert stored["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert stored["lifetime"].total_seconds() == 15 * 60

    # The GET only shows the button (a mail scanner following the link spends nothing).
    page = await me.get(link)
    assert page.status_code == 200
    assert "登录" in page.text
    assert (await me.get(link)).status_code == 200
    used = await me.post(link, {"_csrf_token": csrf_of(page.text)})
    assert used.status_code == 303
    assert used.headers["location"].startswith("/p")
    cookie = used.headers["set-cookie"]
    assert SESSION_COOKIE in cookie
    assert "HttpOnly" in cookie
    assert "Path=/p" in cookie
    home = await me.get("/p")
    assert home.status_code == 200, home.text
    assert partner["name"] in home.text
    assert "待填写的问卷" in home.text

    # Used: a clear page, in either language, for this browser and any other.
    again = Contact(client, email, "en")  # type: ignore[arg-type]
    gone = await again.get(link)
    assert gone.status_code == 410
    assert "This link was used already" in gone.text
    gone = await me.get(link)
    assert gone.status_code == 410
    assert "链接已使用" in gone.text

    events = await db.fetch(
        "SELECT action FROM audit_events WHERE entity_id = $1 AND action LIKE 'selfservice.%' ORDER BY seq",
        partner["id"],
    )
    assert [e["action"] for e in events] == ["selfservice.link_requested", "selfservice.signed_in"]


async def test_expired_and_unknown_links_say_so_in_both_languages(
    client: object, new_partner: NewPartner, db: asyncpg.Connection, settings: Settings
) -> None:
    partner = await new_partner()
    email = partner["contacts"][1]["email"]
    me = Contact(client, email, "en")  # type: ignore[arg-type]
    assert (await me.ask_link()).status_code == 303
    link = await latest_link(db, settings, email)
    assert link
    await db.execute(
        "UPDATE selfservice_links SET expires_at = now() - interval '1 second' WHERE email = $1", email
    )
    page = await me.get(link)
    assert page.status_code == 410
    assert "This link has expired" in page.text
    me.lang = "zh-CN"
    page = await me.get(link)
    assert page.status_code == 410
    assert "链接已过期" in page.text
    # Posting it (a page left open) does not sign in either.
    sign_in_page = await me.get("/p/sign-in")
    posted = await me.post(link, {"_csrf_token": csrf_of(sign_in_page.text)})
    assert posted.status_code == 410
    assert SESSION_COOKIE not in posted.headers.get("set-cookie", "")

    # A link we never sent (or one cut short in the mail client).
    for lang, text in (("zh-CN", "链接无效"), ("en", "This link is not valid")):
        me.lang = lang
        foreign = await me.get("/p/link/" + "A" * 43)
        assert foreign.status_code == 404
        assert text in foreign.text
        assert (await me.get(link[:-5])).status_code == 404


async def test_unknown_address_gets_the_same_answer_and_no_email(
    client: object, db: asyncpg.Connection
) -> None:
    me = Contact(client, "nobody@nowhere.example.com")  # type: ignore[arg-type]
    known_count = await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'selfservice_link'")
    asked = await me.ask_link()
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/p/sign-in/sent")
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'selfservice_link'") == known_count
    assert await db.fetchval("SELECT count(*) FROM selfservice_links WHERE email = $1", me.email) == 0


async def test_bad_address_is_refused_beside_the_field_keeping_what_was_typed(client: object) -> None:
    me = Contact(client, "not an address")  # type: ignore[arg-type]
    refused = await me.ask_link()
    assert refused.status_code == 400
    assert field_error(refused.text, "email") == "请输入有效的邮箱地址，例如 name@example.com。"
    assert 'value="not an address"' in refused.text


async def test_link_requests_are_limited_per_address_and_per_client(
    client: object, new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    email = partner["contacts"][0]["email"]
    me = Contact(client, email)  # type: ignore[arg-type]
    for _ in range(LINKS_PER_EMAIL[1]):
        assert (await me.ask_link()).status_code == 303
    refused = await me.ask_link()
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "过于频繁" in (field_error(refused.text, "email") or "")
    assert f'value="{email}"' in refused.text
    assert (
        await db.fetchval("SELECT count(*) FROM selfservice_links WHERE email = $1", email)
        == LINKS_PER_EMAIL[1]
    )
    # An unknown address counts the same (the limit says nothing about who is known).
    other = Contact(client, "someone@else.example.com")  # type: ignore[arg-type]
    spent = LINKS_PER_EMAIL[1] + 1
    for i in range(LINKS_PER_CLIENT[1] - spent):
        assert (await other.ask_link(f"x{i}@else.example.com")).status_code == 303
    over = await other.ask_link("last@else.example.com")
    assert over.status_code == 429
    assert "请求过于频繁" in over.text


async def test_forms_need_the_sessions_csrf_token(client: object, new_partner: NewPartner) -> None:
    partner = await new_partner()
    me = Contact(client, partner["contacts"][0]["email"])  # type: ignore[arg-type]
    refused = await me.post("/p/sign-in", {"email": me.email})
    assert refused.status_code == 403
    assert "无法确认请求来源" in refused.text


async def test_a_contact_of_two_partners_chooses_and_cannot_pick_a_third(
    client: object, new_partner: NewPartner, sign_in: SignIn
) -> None:
    shared = "shared.contact@two.example.com"
    first = await new_partner(contacts=[{"name": "共同联系人", "email": shared, "primary": True}])
    second = await new_partner(
        contacts=[{"name": "Shared Contact", "email": shared.upper(), "primary": True}]
    )
    third = await new_partner()
    me = await sign_in(shared)
    choose = await me.get("/p")
    assert choose.status_code == 303
    assert choose.headers["location"].startswith("/p/choose")
    page = await me.get("/p/choose")
    assert first["name"] in page.text
    assert second["name"] in page.text
    assert third["name"] not in page.text
    refused = await me.submit("/p/choose", "/p/choose", {"partner_id": third["id"]})
    assert refused.status_code == 404
    assert (await me.get("/p")).status_code == 303
    chosen = await me.submit("/p/choose", "/p/choose", {"partner_id": second["id"]})
    assert chosen.status_code == 303
    home = await me.get("/p")
    assert home.status_code == 200
    assert second["name"] in home.text
    assert first["name"] not in home.text
    assert "切换合作方" in home.text


async def test_sign_out_ends_the_session(client: object, new_partner: NewPartner, sign_in: SignIn) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"])
    home = await me.get("/p")
    out = await me.post("/p/sign-out", {"_csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    assert "done=out" in out.headers["location"]
    gone = await me.get("/p")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/p/sign-in")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_staff_list_and_end_a_partners_sessions(
    lang: str,
    new_partner: NewPartner,
    sign_in: SignIn,
    browser: OpenBrowser,
    procurement: User,
    auditor: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    contact = partner["contacts"][0]
    me = await sign_in(contact["email"], lang=lang)
    other = await sign_in(partner["contacts"][1]["email"])
    staff = await browser(procurement)
    page = await staff.get(f"/ui/partners/{partner['id']}", lang=lang)
    assert page.status_code == 200
    assert contact["email"] in page.text
    assert ("结束会话" if lang == "zh-CN" else "End session") in page.text
    session_id = await db.fetchval("SELECT id FROM selfservice_sessions WHERE email = $1", contact["email"])
    ended = await staff.post(
        f"/ui/partners/{partner['id']}/selfservice/sessions/{session_id}/revoke",
        {"_csrf_token": csrf_of(page.text)},
    )
    assert ended.status_code == 303
    gone = await me.get("/p")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/p/sign-in")
    assert (await other.get("/p")).status_code == 200
    event = await db.fetchrow(
        "SELECT actor_id, after FROM audit_events"
        " WHERE action = 'selfservice.sessions_revoked' AND entity_id = $1",
        partner["id"],
    )
    assert event["actor_id"] == procurement["id"]
    assert event["after"]["sessions"][0]["email"] == contact["email"]

    # An auditor sees the sessions but gets no button, and the API-equivalent guard refuses.
    reader = await browser(auditor)
    page = await reader.get(f"/ui/partners/{partner['id']}", lang=lang)
    assert partner["contacts"][1]["email"] in page.text
    assert "/selfservice/sessions/revoke" not in page.text
    refused = await reader.post(
        f"/ui/partners/{partner['id']}/selfservice/sessions/revoke", {"_csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 403
    assert (await other.get("/p")).status_code == 200


async def test_a_contact_removed_from_the_partner_is_signed_out(
    client: object, new_partner: NewPartner, sign_in: SignIn, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][1]["email"])
    assert (await me.get("/p")).status_code == 200
    await db.execute(
        "UPDATE partner_contacts SET email = 'changed@partner.example.com' WHERE id = $1",
        partner["contacts"][1]["id"],
    )
    assert (await me.get("/p")).status_code == 303
