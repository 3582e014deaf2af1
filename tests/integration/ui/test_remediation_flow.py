"""Remediation end to end: the partner gives a plan and then a fix with proof from its
portal, the finding waits in `verifying` for a reviewer who resolves it or sends it back;
the history and the proof (decrypted) are on the staff finding page in both languages;
the daily sweep reminds the partner before the due date and escalates after it, once each,
through the real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.helpers import Mailbox
from tests.integration.assessments.conftest import (
    PDF,
    Client,
    NewPartner,
    Partner,
    Review,
    Send,
    User,
    complete,
    csrf_of,
    deliver,
)
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.settings import Settings
from vendor_risk.sweeps import send_reminders


def _text(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


async def _finding(client: Client, risk_owner: User, finding_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/findings/{finding_id}", headers=risk_owner["headers"])
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _fix(
    client: Client, me: Partner, finding_id: str, note: str, files: list[tuple[str, bytes]]
) -> httpx.Response:
    page = await me.get("/findings")
    # With no form on the page (nothing to fix) the token is the CSRF cookie's value.
    csrf = csrf_of(page.text) if "_csrf_token" in page.text else client.cookies["vr_portal_csrf"]
    return await client.post(
        f"{me.base}/findings/{finding_id}/fix",
        params={"lang": me.lang},
        data={"_csrf_token": csrf, "note": note},
        files=[("proof", (name, data)) for name, data in files] or None,
        follow_redirects=False,
    )


async def test_a_fix_with_proof_is_resolved_only_by_a_reviewer(
    client: Client,
    browser: OpenBrowser,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    risk_owner: User,
    procurement: User,
    smtp: tuple[Mailbox, int],
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    mailbox, _ = smtp
    partner = await new_partner()
    sent = await send(partner["id"])
    me = Partner(client, sent["link"])
    await complete(me, **{"dh-1": "none"})
    [raised] = (await review(sent["assessment"]["id"]))["findings"]
    finding_id = raised["id"]
    assert raised["status"] == "open"

    # open → remediating: the plan.
    page = await me.get("/findings")
    planned = await client.post(
        f"{me.base}/findings/{finding_id}",
        params={"lang": "zh-CN"},
        data={"_csrf_token": csrf_of(page.text), "plan": "启用数据库透明加密", "planned_on": "2099-03-31"},
        follow_redirects=False,
    )
    assert planned.status_code == 303
    assert (await _finding(client, risk_owner, finding_id))["status"] == "remediating"

    # A fix without proof, or with a file that is not a document, is refused beside the
    # finding in Chinese, keeping the note.
    for files, message in (
        ([], "请至少上传一个证明材料"),
        ([("加密配置.pdf", b"<html>not a pdf</html>")], "文件须为 PDF、PNG、JPEG 或 DOCX"),
    ):
        refused = await _fix(client, me, finding_id, "已启用 TDE 加密", files)
        assert refused.status_code == 422, refused.text
        assert message in refused.text
        assert "已启用 TDE 加密</textarea>" in refused.text
    assert (await _finding(client, risk_owner, finding_id))["status"] == "remediating"

    # remediating → verifying: the fix with proof; the owner is told.
    fixed = await _fix(client, me, finding_id, "已启用 TDE 加密", [("加密配置.pdf", PDF)])
    assert fixed.status_code == 303, fixed.text
    shown = await _finding(client, risk_owner, finding_id)
    assert shown["status"] == "verifying"
    assert shown["partner_fix_note"] == "已启用 TDE 加密"
    [proof] = shown["proofs"]
    assert proof["filename"] == "加密配置.pdf"
    waiting = await me.get("/findings")
    assert "我方正在复核" in waiting.text
    assert f"{me.base}/findings/{finding_id}/fix" not in waiting.text  # nothing more to send
    # Stored encrypted: the document's bytes are not the plaintext.
    stored = await pool.fetchval("SELECT ciphertext FROM documents WHERE id = $1", proof["id"])
    assert PDF not in bytes(stored)
    await deliver(pool, settings)
    [told] = [m for m in mailbox.to(risk_owner["email"]) if "待复核" in str(m["Subject"])]
    assert partner["name"] in str(told["Subject"])

    # Procurement cannot verify; the API refuses another status or a stale version.
    denied = await client.post(
        f"/api/v1/findings/{finding_id}/verify",
        json={"version": shown["version"], "decision": "resolve"},
        headers=procurement["headers"],
    )
    assert denied.status_code == 403
    stale = await client.post(
        f"/api/v1/findings/{finding_id}/verify",
        json={"version": shown["version"] - 1, "decision": "resolve"},
        headers=risk_owner["headers"],
    )
    assert stale.status_code == 409

    # The reviewer's page, in Chinese: the fix, the proof and the two buttons.
    staff = await browser(risk_owner)
    detail = await staff.get(f"/ui/findings/{finding_id}", lang="zh-CN")
    assert detail.status_code == 200
    for text in (
        "待复核",
        "已启用 TDE 加密",
        "加密配置.pdf",
        "确认解决",
        "退回整改",
        "处理记录",
        "合作方提交整改和证明",
    ):
        assert text in detail.text, text
    download = await staff.get(f"/ui/findings/{finding_id}/proofs/{proof['id']}")
    assert download.status_code == 200
    assert download.content == PDF
    # A document that is not this finding's proof is not served through it.
    other = await staff.get(f"/ui/findings/{finding_id}/proofs/{raised['partner_id']}")
    assert other.status_code == 404

    # Sending back needs a reason, shown beside the field in the page's language.
    refused = await staff.post(
        f"/ui/findings/{finding_id}/verify",
        {"_csrf_token": csrf_of(detail.text), "version": str(shown["version"]), "decision": "reopen"},
        lang="zh-CN",
    )
    assert refused.status_code == 400
    assert "退回时请说明原因" in refused.text
    back = await staff.post(
        f"/ui/findings/{finding_id}/verify",
        {
            "_csrf_token": csrf_of(detail.text),
            "version": str(shown["version"]),
            "decision": "reopen",
            "note": "截图未显示生产库的加密状态",
        },
    )
    assert back.status_code == 303
    assert (await _finding(client, risk_owner, finding_id))["status"] == "remediating"
    partner_page = await me.get("/findings")
    assert "截图未显示生产库的加密状态" in partner_page.text

    # The partner tries again; the reviewer resolves.
    assert (await _fix(client, me, finding_id, "补充生产库截图", [("生产库.pdf", PDF)])).status_code == 303
    again = await _finding(client, risk_owner, finding_id)
    assert again["status"] == "verifying"
    resolved = await staff.submit(
        f"/ui/findings/{finding_id}",
        f"/ui/findings/{finding_id}/verify",
        {"version": str(again["version"]), "decision": "resolve", "note": "已核实"},
    )
    assert resolved.status_code == 303
    final = await _finding(client, risk_owner, finding_id)
    assert final["status"] == "resolved"
    assert [(e["kind"], e["status"]) for e in final["history"]] == [
        ("opened", "open"),
        ("planned", "remediating"),
        ("fixed", "verifying"),
        ("reopened", "remediating"),
        ("fixed", "verifying"),
        ("resolved", "resolved"),
    ]
    assert [e["side"] for e in final["history"]] == [
        "system",
        "partner",
        "partner",
        "staff",
        "partner",
        "staff",
    ]
    assert len(final["proofs"]) == 2
    # The page in English names every step.
    english = await staff.get(f"/ui/findings/{finding_id}", lang="en")
    for text in ("Partner sent a fix with proof", "Sent back or reopened", "Resolved", "Proof files"):
        assert text in english.text, text
    # A resolved finding takes no more fixes from the partner (not shown, refused if posted).
    late = await _fix(client, me, finding_id, "再次提交", [("x.pdf", PDF)])
    assert late.status_code == 404
    audit = await pool.fetch(
        "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq", raised["id"]
    )
    actions = [r["action"] for r in audit]
    assert actions.count("finding.partner_fixed") == 2
    assert "finding.reopened" in actions
    assert "finding.resolved" in actions
    await deliver(pool, settings)  # the second "to verify" email, not left for another test


async def test_one_partner_cannot_fix_another_partners_finding(
    client: Client, new_partner: NewPartner, send: Send, review: Review, risk_owner: User
) -> None:
    mine, theirs = await new_partner(), await new_partner()
    sent_mine = await send(mine["id"])
    await complete(Partner(client, sent_mine["link"]), **{"dh-1": "none"})
    [finding] = (await review(sent_mine["assessment"]["id"]))["findings"]
    sent_theirs = await send(theirs["id"])
    other = Partner(client, sent_theirs["link"])
    refused = await _fix(client, other, finding["id"], "不是我的发现", [("a.pdf", PDF)])
    assert refused.status_code == 404
    assert (await _finding(client, risk_owner, finding["id"]))["status"] == "open"


async def test_a_changed_answer_never_resolves_a_finding_by_itself(
    client: Client, new_partner: NewPartner, send: Send, review: Review, risk_owner: User
) -> None:
    partner = await new_partner()
    first = await send(partner["id"])
    await complete(Partner(client, first["link"]), **{"dh-1": "none"})
    [finding] = (await review(first["assessment"]["id"]))["findings"]
    second = await send(partner["id"], kind="triggered", reason="reassessment")
    await complete(Partner(client, second["link"]))
    shown = await _finding(client, risk_owner, finding["id"])
    assert shown["status"] == "verifying"
    assert shown["resolved_at"] is None
    # Still open risk until a reviewer decides: counted on the partner.
    detail = await client.get(f"/api/v1/partners/{partner['id']}", headers=risk_owner["headers"])
    assert detail.json()["open_findings"] >= 1


async def test_reminders_before_the_due_date_and_escalation_after_it_arrive_once_each(
    client: Client,
    new_partner: NewPartner,
    risk_owner: User,
    smtp: tuple[Mailbox, int],
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    mailbox, _ = smtp
    partner = await new_partner()
    contact = next(c for c in partner["contacts"] if c["primary"])
    today = datetime.now(UTC).date()
    created = await client.post(
        "/api/v1/findings",
        json={
            "partner_id": partner["id"],
            "severity": "critical",
            "title": f"明文存储纳税人密码 {partner['id']}",
        },
        headers=risk_owner["headers"],
    )
    assert created.status_code == 201, created.text
    finding = created.json()
    # Critical: due in the policy's 7 days by default.
    due = datetime.fromisoformat(finding["due_on"]).date()
    assert due == today + timedelta(days=settings.policy.findings.due_days["critical"])

    def reminders() -> list[Any]:
        return [m for m in mailbox.to(contact["email"]) if "整改提醒" in str(m["Subject"])]

    def escalations() -> list[Any]:
        # Only this finding's: other tests leave overdue findings with the same owner.
        return [
            m
            for m in mailbox.to(risk_owner["email"])
            if "整改逾期" in str(m["Subject"]) and partner["id"] in _text(m)
        ]

    days = [
        due - timedelta(days=8),
        due - timedelta(days=7),
        due - timedelta(days=7),
        due - timedelta(days=3),
    ]
    days += [
        due - timedelta(days=1),
        due - timedelta(days=1),
        due,
        due + timedelta(days=1),
        due + timedelta(days=2),
    ]
    counts = []
    for day in days:
        await send_reminders(pool, settings, today=day)
        await deliver(pool, settings)
        counts.append((len(reminders()), len(escalations())))
    # D-7 once, D-1 once, then the escalation once the day after the due date.
    assert counts == [(0, 0), (1, 0), (1, 0), (1, 0), (2, 0), (2, 0), (2, 0), (2, 1), (2, 1)]
    body = reminders()[0].get_body(preferencelist=("plain",))
    assert body is not None
    assert "明文存储纳税人密码" in body.get_content()
    assert reminders()[0]["Reply-To"] == risk_owner["email"]
    shown = await _finding(client, risk_owner, finding["id"])
    assert [e["kind"] for e in shown["history"]] == ["opened", "reminded", "reminded", "escalated"]
