"""Sending, resending and cancelling assessments from the staff pages, and the review page:
what procurement and a risk owner see and what the forms write."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.helpers import Mailbox
from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Send,
    User,
    complete,
    csrf_of,
    deliver,
    link_in,
)
from tests.integration.ui.conftest import OpenBrowser
from tests.integration.ui.querycount import count_queries
from vendor_risk.assessments.rules import default_questionnaires
from vendor_risk.settings import Settings

CJK_THEN_ASCII_COLON = re.compile(r"[\u4e00-\u9fff]:")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _in(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def _assessments_of(db: asyncpg.Connection, partner_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, status, due_on, message, recipient_email, locale FROM assessments WHERE partner_id = $1",
        partner_id,
    )


async def _invitations_to(db: asyncpg.Connection, address: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = 'assessment.invitation' AND payload->>'to' = $1", address
    )
    return count


async def test_the_send_form_is_prefilled_by_tier_and_previews_the_email_without_sending(
    browser: OpenBrowser, new_partner: NewPartner, procurement: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    primary = partner["contacts"][0]["email"]
    path = f"/ui/partners/{partner['id']}/assessments/new"
    me = await browser(procurement)
    form = await me.get(path)
    assert form.status_code == 200, form.text
    # The tier's questionnaires are ticked, and only those.
    ticked = set(re.findall(r'name="questionnaires" value="([a-z0-9-]+)" checked', form.text))
    assert ticked == set(default_questionnaires(partner["tier"], "onboarding"))
    assert re.search(r'name="questionnaires" value="valid-example">', form.text)
    # The preview is there at once: the email the primary contact would get, in Chinese.
    assert primary in form.text
    assert partner["name"] in form.text
    assert "/q/…" in form.text

    previewed = await me.post(
        path,
        {
            "_csrf_token": csrf_of(form.text),
            "action": "preview",
            "kind": "onboarding",
            "questionnaires": ["baseline-security"],
            "contact_id": partner["contacts"][1]["id"],
            "locale": "",
            "due_on": _in(10),
            "message": "请在月底前完成，谢谢！",
        },
    )
    assert previewed.status_code == 200, previewed.text
    # The English-speaking contact gets it in English, with the message.
    assert partner["contacts"][1]["email"] in previewed.text
    assert "请在月底前完成，谢谢！" in previewed.text
    assert "Security questionnaire" in previewed.text or "questionnaire" in previewed.text
    # Nothing was written: no assessment, no email queued.
    assert await _assessments_of(db, partner["id"]) == []
    assert await _invitations_to(db, partner["contacts"][1]["email"]) == 0


async def test_sending_from_the_page_writes_the_assessment_and_its_email(
    browser: OpenBrowser,
    new_partner: NewPartner,
    procurement: User,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    smtp: tuple[Mailbox, int],
    client: Client,
) -> None:
    partner = await new_partner()
    primary = partner["contacts"][0]["email"]
    path = f"/ui/partners/{partner['id']}/assessments/new"
    me = await browser(procurement)
    form = await me.get(path)
    sent = await me.post(
        path,
        {
            "_csrf_token": csrf_of(form.text),
            "action": "send",
            "kind": "onboarding",
            "questionnaires": ["valid-example"],
            "contact_id": partner["contacts"][0]["id"],
            "due_on": _in(14),
            "message": "欢迎合作",
        },
    )
    assert sent.status_code == 303, sent.text
    [row] = await _assessments_of(db, partner["id"])
    assert sent.headers["location"] == f"/ui/assessments/{row['id']}?done=sent"
    assert (row["status"], row["due_on"].isoformat(), row["message"], row["recipient_email"]) == (
        "sent",
        _in(14),
        "欢迎合作",
        primary,
    )
    audit = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'assessment.sent' AND entity_id = $1",
        str(row["id"]),
    )
    assert audit == 1
    after = await me.get(sent.headers["location"])
    assert after.status_code == 200
    assert "已发送" in after.text

    # The email carries a working link.
    await deliver(pool, settings)
    [email] = smtp[0].to(primary)
    them = Partner(client, link_in(email))
    assert (await them.get()).status_code == 200

    # A second send while it is open is refused, the form kept, with a link to the open one.
    again = await me.get(path)
    refused = await me.post(
        path,
        {
            "_csrf_token": csrf_of(again.text),
            "action": "send",
            "kind": "onboarding",
            "questionnaires": ["valid-example"],
            "contact_id": partner["contacts"][0]["id"],
            "message": "第二次",
        },
    )
    assert refused.status_code == 409
    assert "已有一份进行中" in refused.text
    assert f"/ui/assessments/{row['id']}" in refused.text
    assert "第二次" in refused.text
    assert len(await _assessments_of(db, partner["id"])) == 1


async def test_bad_input_on_the_send_form_names_each_field_and_keeps_what_was_typed(
    browser: OpenBrowser, new_partner: NewPartner, procurement: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    path = f"/ui/partners/{partner['id']}/assessments/new"
    me = await browser(procurement)
    form = await me.get(path)
    bad = await me.post(
        path,
        {
            "_csrf_token": csrf_of(form.text),
            "action": "send",
            "kind": "onboarding",
            "contact_id": "other",
            "email": "",
            "name": "王小明",
            "due_on": "2020-01-01",
            "message": "保留我写的话",
        },
    )
    assert bad.status_code == 400, bad.text
    for name in ("questionnaires", "email"):
        assert f'id="f-{name}-error"' in bad.text, name
    assert "保留我写的话" in bad.text
    assert 'value="王小明"' in bad.text
    assert 'value="2020-01-01"' in bad.text
    assert await _assessments_of(db, partner["id"]) == []

    # A date in the past, the rest fine: the service's refusal sits beside the field, in Chinese.
    past = await me.post(
        path,
        {
            "_csrf_token": csrf_of(form.text),
            "action": "send",
            "kind": "onboarding",
            "questionnaires": ["valid-example"],
            "contact_id": partner["contacts"][0]["id"],
            "due_on": "2020-01-01",
        },
    )
    assert past.status_code == 400
    assert 'id="f-due_on-error"' in past.text
    assert "日期不能早于今天" in past.text
    assert await _assessments_of(db, partner["id"]) == []


async def test_only_senders_see_and_may_post_the_send_resend_and_cancel_forms(
    browser: OpenBrowser,
    new_partner: NewPartner,
    send: Send,
    auditor: User,
    risk_owner: User,
    procurement: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    aid = sent["assessment"]["id"]
    path = f"/ui/assessments/{aid}"
    watcher = await browser(auditor)
    page = await watcher.get(path)
    assert page.status_code == 200
    assert f"{path}/resend" not in page.text
    assert f"{path}/cancel" not in page.text
    # Every reader may download the report PDF; the XLSX round trip is the senders'.
    assert f'href="/ui/reports/documents/assessments/{aid}"' in page.text
    assert f"/ui/reports/assessments/{aid}/workbook" not in page.text
    assert (await watcher.get(f"/ui/partners/{partner['id']}/assessments/new")).status_code == 403
    refused = await watcher.post(f"{path}/cancel", {"_csrf_token": csrf_of(page.text), "reason": "x"})
    assert refused.status_code == 403
    assert (await _assessments_of(db, partner["id"]))[0]["status"] == "sent"
    for user in (procurement, risk_owner):
        shown = await (await browser(user)).get(path)
        assert f"{path}/resend" in shown.text
        assert f"{path}/cancel" in shown.text
        assert f'href="/ui/reports/assessments/{aid}/workbook"' in shown.text


async def test_resend_gives_a_new_link_and_cancel_needs_a_reason(
    browser: OpenBrowser,
    new_partner: NewPartner,
    send: Send,
    procurement: User,
    client: Client,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    aid = sent["assessment"]["id"]
    path = f"/ui/assessments/{aid}"
    old = Partner(client, sent["link"])
    me = await browser(procurement)

    past = await me.submit(path, f"{path}/resend", {"due_on": "2020-01-01", "message": "请尽快"})
    assert past.status_code == 400
    assert 'id="f-due_on-error"' in past.text
    assert "请尽快" in past.text
    assert (await old.get()).status_code == 200  # nothing happened

    resent = await me.submit(path, f"{path}/resend", {"due_on": _in(30), "message": "请尽快"})
    assert resent.status_code == 303, resent.text
    [row] = await _assessments_of(db, partner["id"])
    assert (row["due_on"].isoformat(), row["message"]) == (_in(30), "请尽快")
    assert (await old.get()).status_code == 410

    blank = await me.submit(path, f"{path}/cancel", {"reason": ""})
    assert blank.status_code == 400
    assert 'id="f-reason-error"' in blank.text
    assert (await _assessments_of(db, partner["id"]))[0]["status"] == "sent"
    cancelled = await me.submit(path, f"{path}/cancel", {"reason": "合作方已更换联系人"})
    assert cancelled.status_code == 303
    row = (await _assessments_of(db, partner["id"]))[0]
    assert row["status"] == "cancelled"
    closed = await db.fetchval("SELECT closed_reason FROM assessments WHERE id = $1", row["id"])
    assert closed == "合作方已更换联系人"
    after = await me.get(path)
    assert f"{path}/cancel" not in after.text
    assert f"{path}/resend" not in after.text


async def _submitted(client: Client, new_partner: NewPartner, send: Send, **answers: Any) -> dict[str, Any]:
    partner = await new_partner()
    sent = await send(partner["id"])
    await complete(Partner(client, sent["link"]), **answers)
    return {"partner": partner, "assessment_id": sent["assessment"]["id"], "link": sent["link"]}


async def test_the_review_page_puts_findings_and_the_decision_first_and_filters_failed_answers(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User
) -> None:
    made = await _submitted(client, new_partner, send, **{"dh-1": "none"})
    path = f"/ui/assessments/{made['assessment_id']}"
    me = await browser(risk_owner)
    queue = await me.get("/ui/reviews")
    assert re.search(rf'href="{path}">[^<]*</a></td>.*?<td data-label="已等待">0 天</td>', queue.text, re.S)
    page = await me.get(path)
    assert page.status_code == 200
    text = page.text
    # The decision panel and the findings come before the answers.
    assert text.index('id="decision"') < text.index('id="answers"')
    assert text.index('id="findings"') < text.index('id="answers"')
    # The section navigation links each section.
    assert 'href="#s-0-access"' in text
    assert 'href="#s-0-data"' in text
    # The failed answer is marked; its finding names the question by number and text.
    assert re.search(r'<li id="q-valid-example-dh-1" class="failed', text)
    assert "存储加密不足" in text
    # Rating steps are in Chinese, with no English sentence and no ASCII colon after CJK.
    assert re.search(r"<strong>固有分级</strong>：(低|中|高|严重)", text)
    assert "inherent risk tier" not in text
    assert "one level" not in text
    assert not CJK_THEN_ASCII_COLON.search(text)

    failed = await me.get(path, show="failed")
    assert 'id="q-valid-example-dh-1"' in failed.text
    assert 'id="q-valid-example-ac-1"' not in failed.text
    changed = await me.get(path, show="changed")
    assert 'id="q-valid-example-dh-1"' not in changed.text  # no previous assessment

    en = await me.get(path, lang="en")
    assert "Residual risk rating" in en.text
    assert "one level" in en.text or "unchanged" in en.text
    assert "固有分级" not in en.text


async def test_a_refused_review_keeps_the_typed_comments(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User
) -> None:
    made = await _submitted(client, new_partner, send)
    path = f"/ui/assessments/{made['assessment_id']}"
    me = await browser(risk_owner)
    page = await me.get(path)
    stale = await me.post(
        f"{path}/review",
        {
            "_csrf_token": csrf_of(page.text),
            "decision": "approve",
            "note": "我的审核意见",
            "version": "999",
        },
    )
    # A stale version: the side-by-side page with what was typed.
    assert stale.status_code == 409
    assert "我的审核意见" in stale.text
    blank = await me.post(
        f"{path}/review",
        {
            "_csrf_token": csrf_of(page.text),
            "decision": "request_changes",
            "note": "",
            "c:valid-example:ac-1": "",
        },
    )
    assert blank.status_code == 400
    assert 'id="f-note-error"' in blank.text
    assert "请说明需要合作方修改的内容" in blank.text
    state = (
        await client.get(f"/api/v1/assessments/{made['assessment_id']}", headers=risk_owner["headers"])
    ).json()
    assert state["status"] == "submitted"
    assert state["reviews"] == []


async def test_the_risk_owner_is_emailed_a_link_to_the_review_page(
    client: Client,
    new_partner: NewPartner,
    send: Send,
    pool: asyncpg.Pool,
    settings: Settings,
    smtp: tuple[Mailbox, int],
    risk_owner: User,
) -> None:
    made = await _submitted(client, new_partner, send)
    await deliver(pool, settings)
    mails = [m for m in smtp[0].to(risk_owner["email"]) if made["partner"]["name"] in m["Subject"]]
    assert mails
    body = mails[-1].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"http://testserver.local/ui/assessments/{made['assessment_id']}" in text
    assert "/api/" not in text


async def test_the_review_page_runs_a_fixed_number_of_queries(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, send: Send, risk_owner: User, review: Any
) -> None:
    me = await browser(risk_owner)
    first = await _submitted(client, new_partner, send, **{"dh-1": "none"})
    with count_queries() as one:
        assert (await me.get(f"/ui/assessments/{first['assessment_id']}")).status_code == 200
    # A partner with a previous assessment, more findings and evidence: the same count.
    await review(first["assessment_id"], "approve")
    again = await send(first["partner"]["id"], kind="periodic")
    await complete(Partner(client, again["link"]), **{"dh-1": "none", "ac-1": "no"})
    with count_queries() as two:
        assert (await me.get(f"/ui/assessments/{again['assessment']['id']}")).status_code == 200
    assert two.queries <= one.queries + 3  # the diff reads the previous parts: a fixed few
    assert two.queries <= 20, two.statements
    with count_queries() as form:
        assert (await me.get(f"/ui/partners/{first['partner']['id']}/assessments/new")).status_code == 200
    assert form.queries <= 25, form.statements
