"""The whole flow over HTTP: send → the email arrives in a real SMTP server → open the link
→ save sections (form posts with CSRF) → upload evidence → submit refused with the missing
list → complete and submit → score and findings → request changes → the partner edits →
approve → the partner can be activated."""

from __future__ import annotations

import hashlib
import html
from typing import Any

import asyncpg

from tests.helpers import Mailbox
from tests.integration.assessments.conftest import (
    PDF,
    Client,
    NewPartner,
    Partner,
    Send,
    User,
    deliver,
    link_in,
    make_active_ready,
)
from vendor_risk.settings import Settings


async def test_send_answer_review_and_activate(
    client: Client,
    settings: Settings,
    pool: asyncpg.Pool,
    smtp: tuple[Mailbox, int],
    procurement: User,
    risk_owner: User,
    new_partner: NewPartner,
    send: Send,
) -> None:
    mailbox, _ = smtp
    partner = await new_partner()
    contact = partner["contacts"][0]

    # Send: the link is in the response once, and in the email.
    sent = await send(partner["id"], message="请于月底前完成。<b>谢谢</b>", due_on="2099-01-31")
    assessment = sent["assessment"]
    assert assessment["status"] == "sent"
    assert [q["key"] for q in assessment["questionnaires"]] == ["valid-example"]
    assert sent["link"].startswith("http://testserver.local/q/")

    assert (await deliver(pool, settings))["delivered"] >= 1
    [email] = mailbox.to(contact["email"])
    assert partner["name"] in email["Subject"]
    assert "2099年1月31日" in email["Subject"]
    # The partner's Reply reaches the sender named in the email, not the no-reply address.
    assert email["Reply-To"] == procurement["email"]
    assert link_in(email) == sent["link"]
    html_part = email.get_body(preferencelist=("html",))
    assert html_part is not None
    assert "&lt;b&gt;谢谢&lt;/b&gt;" in html_part.get_content()

    # Open the link: the overview in Chinese, with the sender's message as text.
    me = Partner(client, sent["link"])
    page = await me.get()
    assert page.status_code == 200
    assert partner["name"] in page.text
    assert "测试问卷" in page.text
    assert html.escape("<b>谢谢</b>") in page.text

    # Save the first section, then the second with evidence; a follow-up appears.
    saved = await me.save(0, "access", {"ac-1": "yes", "ac-2": "3"})
    assert saved.status_code == 303
    saved = await me.save(0, "data", {"dh-1": "none"}, present=["dh-1", "dh-2", "dh-3", "dh-4"])
    assert saved.status_code == 303
    assert "notice=more" in saved.headers["location"]  # dh-2 now shows
    page = await me.get("/s/0/data")
    assert 'id="q-dh-2" data-qid="dh-2"' in page.text
    assert 'id="q-dh-2" data-qid="dh-2" data-type="text" data-show-if' in page.text
    assert "hidden>" not in page.text.split('id="q-dh-2"')[1].split(">")[0] + ">"

    # Submitting now is refused, listing what is missing, each linked to its question.
    refused = await me.submit()
    assert refused.status_code == 422
    assert "/s/0/data?lang=zh-CN#q-dh-3" in refused.text
    assert "请回答：2.3" in refused.text

    upload = await me.save(
        0,
        "data",
        {"dh-1": "none", "dh-2": "我们用纸质记录 <script>alert(1)</script>", "dh-3": ["offline"]},
        files={"dh-3": ("备份证明.pdf", PDF)},
        present=["dh-1", "dh-2", "dh-3", "dh-4"],
    )
    assert upload.status_code == 303
    page = await client.get(upload.headers["location"])
    digest = hashlib.sha256(PDF).hexdigest()
    assert f"已上传 备份证明.pdf，SHA-256：{digest}" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text

    # Complete and submit: the receipt carries the answers' hash.
    done = await me.submit()
    assert done.status_code == 303, done.text
    receipt = await client.get(done.headers["location"])
    assert "提交回执" in receipt.text
    # The partner is told it was submitted, not merely saved as a draft.
    assert "问卷已提交" in receipt.text
    assert "已保存" not in receipt.text
    state = await client.get(f"/api/v1/assessments/{assessment['id']}", headers=risk_owner["headers"])
    body: dict[str, Any] = state.json()
    assert body["status"] == "submitted"
    assert body["receipt_hash"] in receipt.text
    assert body["submitted_by"] == "李雷"

    # Score with its breakdown, findings from the rules, the risk owner told.
    breakdown = body["score_breakdown"]
    assert body["score"] == breakdown["score"]
    assert sum(p["contribution"] for p in breakdown["parts"]) == breakdown["raw_score"]
    [finding] = body["findings"]
    assert finding["question_id"] == "dh-1"
    assert finding["severity"] == "medium"
    assert finding["status"] == "open"
    assert body["rating"]["level"] in ("low", "medium", "high", "critical")
    assert [e["sha256"] for e in body["evidence"]] == [digest]
    assert (await deliver(pool, settings))["delivered"] >= 1
    [notice] = [m for m in mailbox.to(risk_owner["email"]) if partner["name"] in m["Subject"]]
    assert "待审核" in notice["Subject"]

    # Staff download the evidence byte for byte.
    evidence_id = body["evidence"][0]["id"]
    download = await client.get(
        f"/api/v1/assessments/{assessment['id']}/evidence/{evidence_id}", headers=risk_owner["headers"]
    )
    assert download.content == PDF

    # Request changes with a comment beside the question.
    review = await client.post(
        f"/api/v1/assessments/{assessment['id']}/review",
        json={
            "decision": "request_changes",
            "note": "请说明存储加密方式",
            "comments": [
                {"questionnaire": "valid-example", "question_id": "dh-1", "comment": "请确认是否已启用加密"}
            ],
        },
        headers=risk_owner["headers"],
    )
    assert review.status_code == 200, review.text
    assert review.json()["status"] == "changes_requested"
    assert (await deliver(pool, settings))["delivered"] >= 1
    [changes] = [m for m in mailbox.to(contact["email"]) if "需修改" in m["Subject"]]
    assert changes["Reply-To"] == risk_owner["email"]

    # The partner sees the comment beside the question, changes the answer, resubmits.
    page = await me.get("/s/0/data")
    assert "请确认是否已启用加密" in page.text
    assert (await me.save(0, "data", {"dh-1": "aes256"}, present=["dh-1"])).status_code == 303
    assert (await me.submit()).status_code == 303

    state = await client.get(f"/api/v1/assessments/{assessment['id']}", headers=risk_owner["headers"])
    body = state.json()
    assert body["status"] == "submitted"
    # The changed answer is the partner's word: the finding waits for a reviewer.
    [fixed] = body["findings"]
    assert fixed["status"] == "verifying"
    verified = await client.post(
        f"/api/v1/findings/{fixed['id']}/verify",
        json={"version": fixed["version"], "decision": "resolve", "note": "已确认 AES-256 加密"},
        headers=risk_owner["headers"],
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "resolved"

    approve = await client.post(
        f"/api/v1/assessments/{assessment['id']}/review",
        json={"decision": "approve", "note": "通过"},
        headers=risk_owner["headers"],
    )
    assert approve.status_code == 200
    assert approve.json()["status"] == "approved"

    # The partner can now be activated: NDA in force and the approved onboarding assessment.
    await make_active_ready(client, partner["id"], procurement)
    active = await client.post(
        f"/api/v1/partners/{partner['id']}/transitions",
        json={"to": "active", "reason": "评估通过"},
        headers=risk_owner["headers"],
    )
    assert active.status_code == 200, active.text
    shown = await client.get(f"/api/v1/partners/{partner['id']}", headers=procurement["headers"])
    assert shown.json()["last_assessment_score"] == body["score"]

    # The link now shows the read-only receipt.
    receipt = await me.get()
    assert "审核通过" in receipt.text
    assert "<form" not in receipt.text
