"""Reassessment: the partner's previous answers pre-filled to confirm section by section, the
review shows what changed and the score difference, findings are kept not duplicated, and
an accepted risk lapses when the answer that raised it changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from tests.helpers import outbox_emails
from tests.integration.assessments.conftest import (
    Client,
    NewPartner,
    Partner,
    Review,
    Send,
    User,
    complete,
)
from vendor_risk.assessments import service
from vendor_risk.settings import Settings


def a_year_ahead() -> str:
    today = datetime.now(UTC).date()
    return today.replace(year=today.year + 1, day=min(today.day, 28)).isoformat()


async def test_a_reassessment_starts_from_the_last_answers_and_shows_what_changed(
    client: Client,
    settings: Settings,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    review: Review,
    risk_owner: User,
) -> None:
    partner = await new_partner()
    first = await send(partner["id"])
    # A failing answer with a finding rule (no encryption at rest) and a slow revocation.
    await complete(Partner(client, first["link"]), **{"dh-1": "none", "dh-2": "纸质", "ac-2": "10"})
    first_detail = await review(first["assessment"]["id"])
    [finding] = first_detail["findings"]
    too_long = await client.post(
        f"/api/v1/findings/{finding['id']}/accept",
        json={"until": "2099-01-01", "justification": "compensating controls in place"},
        headers=risk_owner["headers"],
    )
    assert too_long.status_code == 400
    accepted = await client.post(
        f"/api/v1/findings/{finding['id']}/accept",
        json={"until": a_year_ahead(), "justification": "compensating controls in place"},
        headers=risk_owner["headers"],
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"

    # A periodic reassessment, pre-filled from the approved answers; the worker's send
    # finds it open and sends nothing more.
    sent = await send(partner["id"], kind="periodic")
    assert sent["assessment"]["previous_assessment_id"] == first_detail["id"]
    assert (
        await service.send_due_assessment(db, partner["id"], "periodic", settings, now=datetime.now(UTC))
        is None
    )

    # The invitation tells the partner it confirms last time's answers; the first one did not.
    invitations = await outbox_emails(
        db,
        settings.data_keys,
        "topic = 'assessment.invitation' AND payload->>'to' = $1",
        sent["assessment"]["recipient_email"],
    )
    assert ["这是一次重新评估" in m["text"] for m in invitations] == [False, True]
    assert "这是一次重新评估" in invitations[-1]["html"]

    me = Partner(client, sent["link"])
    overview = await me.get()
    assert overview.text.count("待确认") == 2
    section = await me.get("/s/0/data")
    assert "本部分已根据贵司" in section.text
    assert 'value="none" data-value-input checked' in section.text
    # Pre-filled sections must be confirmed, and evidence is never carried over.
    refused = await me.submit()
    assert refused.status_code == 422
    assert "请核对并保存预填的部分：访问控制" in refused.text
    assert "请上传证明材料：2.3" in refused.text

    # The partner confirms the encryption answer as it was and improves revocation.
    await complete(me, **{"dh-1": "none", "dh-2": "纸质", "ac-2": "1"})
    detail = (
        await client.get(f"/api/v1/assessments/{sent['assessment']['id']}", headers=risk_owner["headers"])
    ).json()
    diff = detail["diff"]
    assert diff["previous_assessment_id"] == first_detail["id"]
    assert [(c["question_id"], c["change"]) for c in diff["changes"]] == [("ac-2", "changed")]
    overall = next(s for s in diff["scores"] if s["questionnaire"] is None)
    assert overall["before"] == first_detail["score"]
    assert overall["after"] == detail["score"]
    assert overall["delta"] == round(detail["score"] - first_detail["score"], 1)
    assert overall["delta"] > 0

    # The same finding, kept and not duplicated; its answer did not change, so the risk
    # stays accepted.
    [kept] = detail["findings"]
    assert kept["id"] == finding["id"]
    assert kept["status"] == "accepted"
    assert kept["acceptance"]["stale_at"] is None
    findings = await client.get(
        "/api/v1/findings", params={"partner_id": partner["id"]}, headers=risk_owner["headers"]
    )
    assert [f["id"] for f in findings.json()["items"]] == [finding["id"]]


async def test_a_passing_answer_sends_the_finding_to_verification_and_lapses_its_acceptance(
    client: Client, new_partner: NewPartner, send: Send, review: Review, risk_owner: User
) -> None:
    partner = await new_partner()
    first = await send(partner["id"])
    await complete(Partner(client, first["link"]), **{"dh-1": "none"})
    [finding] = (await review(first["assessment"]["id"]))["findings"]
    accepted = await client.post(
        f"/api/v1/findings/{finding['id']}/accept",
        json={"until": a_year_ahead(), "justification": "migration to encrypted storage planned"},
        headers=risk_owner["headers"],
    )
    assert accepted.status_code == 200
    second = await send(partner["id"], kind="triggered", reason="incident closed")
    await complete(Partner(client, second["link"]))
    detail = (
        await client.get(f"/api/v1/assessments/{second['assessment']['id']}", headers=risk_owner["headers"])
    ).json()
    # A changed answer is the partner's word, never a resolution: a reviewer decides.
    assert [(f["id"], f["status"]) for f in detail["findings"]] == [(finding["id"], "verifying")]
    assert detail["diff"]["scores"][0]["delta"] > 0
    history = (await client.get(f"/api/v1/findings/{finding['id']}", headers=risk_owner["headers"])).json()
    [acceptance] = history["acceptances"]
    assert acceptance["stale_reason"] == "the answer that raised it changed"
    assert [e["kind"] for e in history["history"]][-1] == "answer_changed"
    assert history["history"][-1]["side"] == "partner"


async def test_an_open_assessment_blocks_a_second_one(
    client: Client, new_partner: NewPartner, send: Send, procurement: User
) -> None:
    partner = await new_partner()
    first = await send(partner["id"])
    again = await client.post(
        f"/api/v1/partners/{partner['id']}/assessments",
        json={"kind": "periodic", "questionnaires": ["valid-example"]},
        headers=procurement["headers"],
    )
    assert again.status_code == 409
    body: dict[str, Any] = again.json()
    assert body["type"] == "urn:vendor-risk:problem:assessment-open"
    assert body["open_assessment_id"] == first["assessment"]["id"]
    # The offboarding attestation is a separate purpose and may run alongside.
    attestation = await client.post(
        f"/api/v1/partners/{partner['id']}/assessments",
        json={"kind": "offboarding"},
        headers=procurement["headers"],
    )
    assert attestation.status_code == 201, attestation.text
    assert [q["key"] for q in attestation.json()["assessment"]["questionnaires"]] == [
        "offboarding-attestation"
    ]
