"""The staff pages as a risk owner, an auditor and procurement use them."""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, Partner, Send, User, complete, csrf_of
from tests.integration.ui.conftest import OpenBrowser, key_of
from vendor_risk.partners.labels import Labels
from vendor_risk.structs import I18nText

SCRIPT = "<script>alert('x')</script>"


async def _submitted(client: Client, new_partner: NewPartner, send: Send, **answers: Any) -> dict[str, Any]:
    """A partner with an assessment the partner answered and submitted through the portal."""
    partner = await new_partner()
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]), **answers)
    return {"partner": partner, "assessment_id": sent["assessment"]["id"]}


async def test_a_key_opens_a_session_that_sign_out_ends(
    browser: OpenBrowser, risk_owner: User, db: asyncpg.Connection
) -> None:
    me = await browser()
    anonymous = await me.get("/ui/partners")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/ui/login?next=%2Fui%2Fpartners"

    signed = await me.sign_in(key_of(risk_owner))
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ui"
    cookie = signed.headers["set-cookie"]
    assert "vr_ui_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Path=/ui" in cookie
    token = me.cookies["vr_ui_session"]
    # Only the token's hash is stored.
    stored = await db.fetchval(
        "SELECT count(*) FROM staff_sessions WHERE token_hash = $1", hashlib.sha256(token.encode()).digest()
    )
    assert stored == 1
    assert (
        await db.fetchval("SELECT count(*) FROM staff_sessions WHERE token_hash::text LIKE $1", f"%{token}%")
        == 0
    )

    dashboard = await me.get("/ui")
    assert dashboard.status_code == 200
    assert "王芳" in dashboard.text
    assert "script-src 'self'" in dashboard.headers["content-security-policy"]
    assert dashboard.headers["x-frame-options"] == "DENY"

    out = await me.post("/ui/logout", {"_csrf_token": csrf_of(dashboard.text)})
    assert out.status_code == 303
    # The old token is dead even if a copy of the cookie survived.
    me.cookies.set("vr_ui_session", token, domain="testserver.local", path="/ui")
    assert (await me.get("/ui")).status_code == 303


async def test_a_wrong_key_is_refused(browser: OpenBrowser) -> None:
    me = await browser()
    refused = await me.sign_in("vrk_" + "x" * 43)
    assert refused.status_code == 401
    assert "The key is not valid" in refused.text
    assert "vr_ui_session" not in me.cookies
    assert (await me.get("/ui")).status_code == 303


async def test_a_disabled_user_or_revoked_key_loses_the_session_at_once(
    browser: OpenBrowser, make_user: Any, client: Client
) -> None:
    admin = await make_user("admin")
    for how in ("disable", "revoke"):
        someone = await make_user("risk_owner")
        me = await browser(someone)
        assert (await me.get("/ui")).status_code == 200
        if how == "disable":
            user = (await client.get(f"/api/v1/users/{someone['id']}", headers=admin["headers"])).json()
            changed = await client.patch(
                f"/api/v1/users/{someone['id']}",
                json={"disabled": True, "version": user["version"]},
                headers=admin["headers"],
            )
        else:
            [key] = (
                await client.get(f"/api/v1/users/{someone['id']}/api-keys", headers=admin["headers"])
            ).json()
            changed = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=admin["headers"])
        assert changed.status_code == 200, changed.text
        after = await me.get("/ui")
        assert after.status_code == 303, how
        assert after.headers["location"].startswith("/ui/login")


async def test_a_form_without_its_csrf_token_is_refused(browser: OpenBrowser, risk_owner: User) -> None:
    me = await browser(risk_owner)
    refused = await me.post("/ui/logout")
    assert refused.status_code == 403
    assert "content-security-policy" in refused.headers
    # Still signed in: the refused form changed nothing.
    assert (await me.get("/ui")).status_code == 200
    stranger = await browser()
    assert (await stranger.post("/ui/login", {"api_key": key_of(risk_owner)})).status_code == 403


async def test_a_csrf_token_works_only_in_the_session_it_was_given_to(
    browser: OpenBrowser, risk_owner: User, procurement: User
) -> None:
    victim = await browser(risk_owner)
    attacker = await browser(procurement)
    # The attacker's own valid token and cookie, planted in the victim's browser.
    page = await attacker.get("/ui")
    planted = csrf_of(page.text)
    theirs = next(c for c in attacker.cookies.jar if c.name == "vr_ui_csrf")
    victim.cookies.set("vr_ui_csrf", str(theirs.value), domain=theirs.domain, path=theirs.path)
    refused = await victim.post("/ui/logout", {"_csrf_token": planted})
    assert refused.status_code == 403
    assert (await victim.get("/ui")).status_code == 200
    # The victim's next page replaces the foreign cookie with one of its own session.
    own = await victim.get("/ui")
    assert victim.cookies["vr_ui_csrf"] != attacker.cookies["vr_ui_csrf"]
    assert (await victim.post("/ui/logout", {"_csrf_token": csrf_of(own.text)})).status_code == 303
    # A token given before signing in does not pass once signed in.
    anonymous = await browser()
    login = await anonymous.get("/ui/login")
    before = csrf_of(login.text)
    signed = await anonymous.post(
        "/ui/login", {"_csrf_token": before, "api_key": key_of(risk_owner), "next": "/ui"}
    )
    assert signed.status_code == 303, signed.text
    assert (await anonymous.post("/ui/logout", {"_csrf_token": before})).status_code == 403
    # ... and the attacker's session keeps working with its own token.
    assert (await attacker.post("/ui/logout", {"_csrf_token": planted})).status_code == 303


async def test_roles_see_what_their_api_role_may_and_write_only_what_it_may_write(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    send: Send,
    risk_owner: User,
    auditor: User,
    procurement: User,
) -> None:
    made = await _submitted(client, new_partner, send)
    path = f"/ui/assessments/{made['assessment_id']}"
    action = f"{path}/review"
    for user in (auditor, procurement):
        me = await browser(user)
        page = await me.get(path)
        assert page.status_code == 200
        assert made["partner"]["name"] in page.text
        assert action not in page.text  # no review form
        # Posting the form anyway (a token from any page of theirs) is refused like the API.
        refused = await me.post(action, {"_csrf_token": csrf_of(page.text), "decision": "approve"})
        assert refused.status_code == 403
    state = await client.get(f"/api/v1/assessments/{made['assessment_id']}", headers=risk_owner["headers"])
    assert state.json()["status"] == "submitted"

    owner = await browser(risk_owner)
    assert action in (await owner.get(path)).text


async def test_request_changes_then_approve_through_the_forms(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    them = Partner(client, sent["link"])
    await complete(them, **{"dh-1": "none"})
    aid = sent["assessment"]["id"]
    path = f"/ui/assessments/{aid}"
    me = await browser(risk_owner)

    queue = await me.get("/ui/reviews")
    assert path in queue.text

    page = await me.get(path)
    assert "存储加密不足" in page.text  # the finding the answer raised, in the user's language
    asked = await me.submit(
        path,
        f"{path}/review",
        {
            "decision": "request_changes",
            "note": "Say how data is encrypted",
            "c:valid-example:dh-1": "Which cipher?",
        },
    )
    assert asked.status_code == 303, asked.text
    api = (await client.get(f"/api/v1/assessments/{aid}", headers=risk_owner["headers"])).json()
    assert api["status"] == "changes_requested"
    assert api["reviews"][0]["comments"] == [
        {"questionnaire": "valid-example", "question_id": "dh-1", "comment": "Which cipher?"}
    ]
    # The partner sees the comment, answers again, resubmits.
    assert "Which cipher?" in (await them.get("/s/0/data")).text
    assert (await them.save(0, "data", {"dh-1": "aes256"}, present=["dh-1"])).status_code == 303
    assert (await them.submit()).status_code == 303

    approved = await me.submit(path, f"{path}/review", {"decision": "approve", "note": "OK"})
    assert approved.status_code == 303
    api = (await client.get(f"/api/v1/assessments/{aid}", headers=risk_owner["headers"])).json()
    assert api["status"] == "approved"
    after = await me.get(path)
    assert f"{path}/review" not in after.text  # nothing left to decide


async def test_what_a_partner_typed_is_inert(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User
) -> None:
    made = await _submitted(client, new_partner, send, **{"dh-1": "none", "dh-2": SCRIPT})
    me = await browser(risk_owner)
    page = await me.get(f"/ui/assessments/{made['assessment_id']}")
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    # The only script is the vendored htmx, served by us.
    assert "<script" not in page.text.replace('<script src="/static/htmx.min.js" defer></script>', "")


async def test_pages_render_in_both_languages(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User
) -> None:
    made = await _submitted(client, new_partner, send)
    partner_id = made["partner"]["id"]
    me = await browser(risk_owner)  # the user's locale is zh-CN
    pages = [
        "/ui",
        "/ui/partners",
        f"/ui/partners/{partner_id}",
        "/ui/reviews",
        f"/ui/assessments/{made['assessment_id']}",
        "/ui/findings",
        "/ui/incidents",
    ]
    for path in pages:
        zh = await me.get(path)
        assert zh.status_code == 200, (path, zh.text)
        assert '<html lang="zh-CN">' in zh.text
    # The switch is remembered for the session.
    switched = await me.get("/ui", lang="en")
    assert '<html lang="en">' in switched.text
    for path in pages:
        en = await me.get(path)
        assert en.status_code == 200, (path, en.text)
        assert '<html lang="en">' in en.text
        assert "Sign out" in en.text


async def test_partner_list_searches_and_pages(
    browser: OpenBrowser, new_partner: NewPartner, risk_owner: User
) -> None:
    made = [await new_partner() for _ in range(3)]
    me = await browser(risk_owner)
    found = await me.get("/ui/partners", q=made[0]["name"])
    assert made[0]["name"] in found.text
    assert made[1]["name"] not in found.text
    page = await me.get("/ui/partners")
    seen = page.text
    while 'class="button" href="' in page.text:
        link = page.text.split('class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert parse_qs(urlsplit(link).query)["cursor"]
        page = await me.get(link)
        seen += page.text
    assert all(p["name"] in seen for p in made)


async def test_a_refused_scope_approval_shows_every_unmet_condition(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, procurement: User, risk_owner: User
) -> None:
    partner = await new_partner()
    categories = (await client.get("/api/v1/data-categories", headers=procurement["headers"])).json()
    sensitive = next(c for c in categories if c["sensitivity"] == "sensitive_personal")
    scope = await client.post(
        f"/api/v1/partners/{partner['id']}/scopes",
        json={
            "category_id": sensitive["id"],
            "purpose": "代理记账",
            "processing_methods": ["store"],
            "transfer_method": "api",
            "starts_on": "2025-01-01",
            "retention_days": 365,
            "volume_band": "1k_10k",
        },
        headers=procurement["headers"],
    )
    assert scope.status_code == 201, scope.text
    scope_id = scope.json()["id"]
    path = f"/ui/partners/{partner['id']}"
    action = f"{path}/scopes/{scope_id}/approve"

    assert action not in (await (await browser(procurement)).get(path)).text
    me = await browser(risk_owner)
    before = await me.get(path)
    refused = await me.submit(path, action)
    assert refused.status_code == 409
    api = await client.post(f"{action.replace('/ui/', '/api/v1/')}", json={}, headers=risk_owner["headers"])
    assert api.status_code == 409
    unmet = api.json()["unmet"]
    assert len(unmet) >= 2
    names = {c["id"]: I18nText(zh_cn=c["name"]["zh-CN"], en=c["name"]["en"]) for c in categories}
    for condition in unmet:
        # Said in Chinese from the condition's code, before the button is pressed and after.
        said = html.escape(Labels("zh-CN", names).unmet(condition), quote=True)
        assert said in before.text
        assert said in refused.text
        assert condition["code"] not in refused.text
    assert "《个人信息保护法》第五十五条" in refused.text


async def test_accepting_a_risk_and_completing_an_incident_step(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User
) -> None:
    made = await _submitted(client, new_partner, send, **{"dh-1": "none"})
    me = await browser(risk_owner)
    findings = (
        await client.get(
            f"/api/v1/findings?assessment_id={made['assessment_id']}", headers=risk_owner["headers"]
        )
    ).json()["items"]
    finding_id = findings[0]["id"]
    until = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()
    accepted = await me.submit(
        "/ui/findings",
        f"/ui/findings/{finding_id}/accept",
        {"until": until, "justification": "Compensating control: data is tokenised."},
    )
    assert accepted.status_code == 303, accepted.text
    api = (await client.get(f"/api/v1/findings/{finding_id}", headers=risk_owner["headers"])).json()
    assert api["status"] == "accepted"
    assert api["acceptance"]["until"] == until

    opened = await client.post(
        f"/api/v1/partners/{made['partner']['id']}/incidents",
        json={
            "title": "泄露 <b>客户</b> 数据",
            "severity": "high",
            "detected_at": "2025-06-01T08:00:00+00:00",
            "playbook": "partner-data-leak",
        },
        headers=risk_owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    path = f"/ui/incidents/{incident['id']}"
    page = await me.get(path)
    assert "泄露 &lt;b&gt;客户&lt;/b&gt; 数据" in page.text
    first = next(s for s in incident["steps"] if s["ready"])
    done = await me.submit(path, f"{path}/steps/{first['id']}/complete", {"note": "done by the page"})
    assert done.status_code == 303, done.text
    api = (await client.get(f"/api/v1/incidents/{incident['id']}", headers=risk_owner["headers"])).json()
    step = next(s for s in api["steps"] if s["id"] == first["id"])
    assert step["status"] == "done"
    assert step["note"] == "done by the page"


async def test_the_bare_address_leads_to_the_staff_pages(client: Client) -> None:
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/ui"
