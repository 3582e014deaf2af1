"""The portal's defences, tried the way an attacker would."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from tests.helpers import captured_app_log
from tests.integration.assessments.conftest import (
    PDF,
    Client,
    NewPartner,
    Partner,
    Send,
    User,
    csrf_of,
    portal_path,
)
from vendor_risk.assessments.tokens import generate_token
from vendor_risk.settings import Settings

SCRIPT = "<script>alert('x')</script>"


async def test_guessing_tokens_is_rate_limited_per_address(client: Client, settings: Settings) -> None:
    allowed = settings.portal_requests_per_minute * 5 // 2
    statuses = [(await client.get(f"/q/{generate_token()}")).status_code for _ in range(allowed)]
    assert set(statuses) == {404}
    refused = await client.get(f"/q/{generate_token()}")
    assert refused.status_code == 429
    assert "请求过于频繁" in refused.text
    assert int(refused.headers["ratelimit-reset"]) > 0
    assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
    assert refused.headers["referrer-policy"] == "no-referrer"


async def test_one_link_is_rate_limited_on_its_own(
    client: Client, new_partner: NewPartner, send: Send, settings: Settings
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    allowed = settings.portal_requests_per_minute
    responses = await asyncio.gather(*(me.get() for _ in range(allowed)))
    assert {r.status_code for r in responses} == {200}
    assert (await me.get()).status_code == 429
    # Another link from the same address is not held back by this one's limit.
    other = await send((await new_partner())["id"])
    assert (await Partner(client, other["link"]).get()).status_code == 200


async def test_a_token_reaches_nothing_of_another_assessment(
    client: Client, new_partner: NewPartner, send: Send, risk_owner: User, db: asyncpg.Connection
) -> None:
    a_partner, b_partner = await new_partner(), await new_partner()
    a = Partner(client, (await send(a_partner["id"]))["link"])
    b_sent = await send(b_partner["id"])
    b = Partner(client, b_sent["link"])
    assert (await b.save(0, "data", {"dh-1": "none"}, files={"dh-3": ("b.pdf", PDF)})).status_code == 303
    b_evidence = await db.fetchval(
        "SELECT id FROM assessment_evidence WHERE assessment_id = $1", b_sent["assessment"]["id"]
    )
    # A finding of partner B, which A's link must not answer.
    b_finding = await client.post(
        "/api/v1/findings",
        json={"partner_id": b_partner["id"], "severity": "high", "title": "B 的问题"},
        headers=risk_owner["headers"],
    )
    assert b_finding.status_code == 201

    page = await a.get()
    assert b_partner["name"] not in page.text
    # Removing B's evidence through A's link: refused, B's file stays.
    removed = await a.save(0, "data", {"dh-1": "aes256"}, extra=[("remove", str(b_evidence))])
    assert removed.status_code == 404
    assert await db.fetchval("SELECT removed_at IS NULL FROM assessment_evidence WHERE id = $1", b_evidence)
    # Answering B's finding through A's link: refused, nothing recorded.
    csrf = csrf_of((await a.get("/s/0/access")).text)
    answer = await client.post(
        f"{a.base}/findings/{b_finding.json()['id']}",
        data={"_csrf_token": csrf, "plan": "改", "planned_on": "2099-01-01"},
        follow_redirects=False,
    )
    assert answer.status_code == 404
    assert (
        await db.fetchval("SELECT partner_plan FROM findings WHERE id = $1", b_finding.json()["id"]) is None
    )
    # A's answers went nowhere near B's assessment.
    assert await db.fetchval(
        "SELECT answers FROM assessment_parts WHERE assessment_id = $1", b_sent["assessment"]["id"]
    ) == {"dh-1": {"value": "none", "na": False, "comment": None}}
    # And the link is no API key: staff routes refuse it.
    token = a.base.rsplit("/", 1)[1]
    for path in ("/api/v1/assessments", f"/api/v1/assessments/{b_sent['assessment']['id']}", "/api/v1/me"):
        assert (await client.get(path, headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_dead_links_say_why_and_whom_to_contact(
    client: Client,
    new_partner: NewPartner,
    send: Send,
    procurement: User,
    db: asyncpg.Connection,
) -> None:
    # Unknown and malformed tokens: 404.
    for path in (f"/q/{generate_token()}", "/q/short", "/q/" + "A" * 43 + "/submit"):
        response = await client.get(path, params={"lang": "en"})
        assert response.status_code == 404, path
        assert "This link is not valid" in response.text

    # Resent away: the old link is dead (410) and says a new one was sent.
    sent = await send((await new_partner())["id"])
    resent = await client.post(
        f"/api/v1/assessments/{sent['assessment']['id']}/resend", json={}, headers=procurement["headers"]
    )
    assert resent.status_code == 200
    old = await client.get(portal_path(sent["link"]), params={"lang": "en"})
    assert old.status_code == 410
    assert "A new link was sent to you" in old.text
    assert "采购 赵敏" in old.text  # whom to contact
    assert (await client.get(portal_path(resent.json()["link"]))).status_code == 200

    # Cancelled: 410 for every page of the link, writes included.
    cancelled = await client.post(
        f"/api/v1/assessments/{sent['assessment']['id']}/cancel",
        json={"reason": "发错了"},
        headers=procurement["headers"],
    )
    assert cancelled.status_code == 200
    for path in ("", "/s/0/access", "/submit", "/findings"):
        response = await client.get(portal_path(resent.json()["link"]) + path)
        assert response.status_code == 410
        assert "此评估已被取消" in response.text

    # Expired: 410 too.
    other = await send((await new_partner())["id"])
    await db.execute(
        "UPDATE portal_links SET expires_at = now() - $2::interval WHERE assessment_id = $1",
        other["assessment"]["id"],
        timedelta(minutes=1),
    )
    expired = await client.get(portal_path(other["link"]))
    assert expired.status_code == 410
    assert "此链接已过期" in expired.text


async def test_a_form_without_its_csrf_token_is_refused(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    await me.get()
    base = me.base
    for data in (
        {},
        {"_csrf_token": "forged"},
        {"_csrf_token": csrf_of((await me.get("/s/0/access")).text)[:-2] + "00"},
    ):
        form = {"present": "ac-1", "a:ac-1": "no", "answers_version": "0", **data}
        response = await client.post(f"{base}/s/0/access", data=form, follow_redirects=False)
        assert response.status_code == 403
        assert "安全校验失败" in response.text
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    submit = await client.post(
        f"{base}/submit", data={"submitter": "x", "confirm": "1"}, follow_redirects=False
    )
    assert submit.status_code == 403
    assert (
        await db.fetchval("SELECT answers_version FROM assessments WHERE id = $1", sent["assessment"]["id"])
        == 0
    )
    # The JSON API is not behind the portal's CSRF: API keys protect it.
    assert "vr_portal_csrf" not in (await client.get("/healthz")).headers.get("set-cookie", "")


async def test_script_typed_by_a_partner_is_text_everywhere(
    client: Client,
    new_partner: NewPartner,
    send: Send,
    risk_owner: User,
) -> None:
    sent = await send((await new_partner())["id"], message=SCRIPT)
    me = Partner(client, sent["link"])
    assert (
        await me.save(0, "access", {"ac-1": "no", "ac-2": SCRIPT}, extra=[("c:ac-1", SCRIPT)])
    ).status_code == 422
    saved = await me.save(0, "access", {"ac-1": "no", "ac-2": "1"}, extra=[("c:ac-1", SCRIPT)])
    assert saved.status_code == 303
    saved = await me.save(
        0,
        "data",
        {"dh-1": "other", "dh-2": SCRIPT, "dh-3": ["offline"]},
        files={"dh-3": (f"{SCRIPT}.pdf", PDF)},
        present=["dh-1", "dh-2", "dh-3", "dh-4"],
    )
    assert saved.status_code == 303

    pages: list[Any] = [
        await me.get(),
        await me.get("/s/0/access"),
        await me.get("/s/0/data"),
    ]
    # A conflict page shows both versions of what was typed.
    conflict = await me.save(0, "data", {"dh-2": SCRIPT + "!"}, version=0, present=["dh-2"])
    assert conflict.status_code == 409
    pages.append(conflict)
    assert (await me.submit(name=SCRIPT)).status_code == 303
    pages.append(await me.get())  # the receipt
    findings_page = await me.get("/findings")
    pages.append(findings_page)
    for page in pages:
        assert "<script>alert" not in page.text
        assert (
            re.findall(r"<script(?![^>]*\bsrc=\"/static/portal\.js\")(?![^>]*application/json)", page.text)
            == []
        )
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert any("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in p.text for p in pages)

    # Staff read it as data: JSON strings, never markup.
    detail = await client.get(
        f"/api/v1/assessments/{sent['assessment']['id']}", headers=risk_owner["headers"]
    )
    assert detail.headers["content-type"].startswith("application/json")
    answers = detail.json()["answers"][0]["answers"]
    assert answers["dh-2"]["value"] == SCRIPT
    assert answers["ac-1"]["comment"] == SCRIPT
    assert detail.json()["submitted_by"] == SCRIPT


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_token_never_reaches_the_logs(
    client: Client,
    new_partner: NewPartner,
    send: Send,
    db: asyncpg.Connection,
    lang: str,
) -> None:
    sent = await send((await new_partner())["id"])
    token = sent["link"].rsplit("/", 1)[1]
    me = Partner(client, sent["link"], lang=lang)
    # Every line the service logs, at every level, access lines included, for this test.
    # (The test client's own HTTP library logs the URLs it requests: it is not the service.)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(lambda record: not record.name.startswith("httpx"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with captured_app_log(logging.DEBUG) as app_log:
            await me.get()
            await me.get("/s/0/missing-section")
            await me.save(0, "access", {"ac-1": "yes"})
            await me.save(0, "access", {"ac-2": "not a number"})
            await me.submit()
            await client.post(f"{me.base}/submit", data={}, follow_redirects=False)  # CSRF refusal
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    logged = buffer.getvalue() + app_log.getvalue()
    assert '"path": "/q/[redacted]/submit", "status": 403' in logged
    assert token not in logged
    audit = await db.fetchval("SELECT string_agg(before::text || after::text, '') FROM audit_events")
    assert token not in audit
