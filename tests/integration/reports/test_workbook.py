"""The questionnaire round trip: export the workbook, fill it with openpyxl, upload it; the
same answers score the same as in the portal; another assessment's file, a stale file, an
edited hidden sheet and invalid answers are refused with nothing saved."""

from __future__ import annotations

import io
from typing import Any

import asyncpg
import openpyxl

from tests.integration.assessments.conftest import PDF, Client, NewPartner, Partner, Send, User, complete

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ANSWERS = {"ac-1": "是", "ac-2": 1, "dh-1": "AES-256", "dh-3": "加密; 定期恢复演练"}


async def export(client: Client, assessment_id: str, user: User) -> openpyxl.Workbook:
    response = await client.get(
        f"/api/v1/assessments/{assessment_id}/workbook", params={"lang": "zh-CN"}, headers=user["headers"]
    )
    assert response.status_code == 200, response.text
    assert "questionnaire-" in response.headers["content-disposition"]
    return openpyxl.load_workbook(io.BytesIO(response.content))


def fill(book: openpyxl.Workbook, answers: dict[str, Any]) -> bytes:
    for sheet in book.worksheets:
        if sheet.title == "_meta":
            continue
        for row in sheet.iter_rows(min_row=3):
            if row[0].value in answers:
                row[3].value = answers[row[0].value]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(client: Client, assessment_id: str, content: bytes, user: User, submit: bool = True) -> Any:
    return await client.post(
        f"/api/v1/assessments/{assessment_id}/workbook",
        params={"submit": str(submit).lower(), "lang": "zh-CN"},
        files={"file": ("问卷.xlsx", content, XLSX)},
        headers=user["headers"],
    )


async def test_the_round_trip_scores_as_the_portal(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    procurement: User,
    risk_owner: User,
) -> None:
    # The same answers through the portal.
    portal_partner = await new_partner()
    through_portal = await send(portal_partner["id"])
    await complete(
        Partner(client, through_portal["link"]),
        **{"ac-2": "1", "dh-1": "aes256", "dh-3": ["encrypted", "tested"]},
    )
    portal_score = await db.fetchval(
        "SELECT score FROM assessments WHERE id = $1", through_portal["assessment"]["id"]
    )

    partner = await new_partner()
    sent = await send(partner["id"])
    aid = sent["assessment"]["id"]
    # The one thing a workbook cannot carry, the evidence file, arrives first.
    me = Partner(client, sent["link"])
    saved = await me.save(0, "data", {"dh-3": None}, files={"dh-3": ("backup.pdf", PDF)})
    assert saved.status_code == 303, saved.text

    book = await export(client, aid, procurement)
    names = book.sheetnames
    assert names[-1] == "_meta"
    assert book["_meta"].sheet_state == "veryHidden"
    sections = [book[n] for n in names[:-1]]
    assert len(sections) == 2
    first = sections[0]
    assert first.protection.sheet
    assert first["B3"].value.startswith("是否对所有远程访问启用多因素认证？")
    assert first["B3"].protection.locked
    assert not first["D3"].protection.locked
    lists = [dv for dv in first.data_validations.dataValidation if dv.type == "list"]
    assert any('"是,否"' in (dv.formula1 or "") for dv in lists)

    result = await upload(client, aid, fill(book, ANSWERS), procurement)
    assert result.status_code == 200, result.text
    assert result.json()["submitted"] is True
    row = await db.fetchrow("SELECT status, score, submitted_by FROM assessments WHERE id = $1", aid)
    assert row["status"] == "submitted"
    assert row["score"] == portal_score
    assert "workbook upload" in row["submitted_by"]
    event = await db.fetchrow(
        """
        SELECT actor_id, after FROM audit_events
        WHERE action = 'assessment.workbook_uploaded' AND entity_id = $1
        """,
        aid,
    )
    assert str(event["actor_id"]) == str(procurement["id"])
    assert event["after"]["answers"]["valid-example"]["dh-3"]["value"] == ["encrypted", "tested"]
    # Only what the upload changed, and a digest of the answers as saved (issue #16).
    assert event["after"]["answers"]["valid-example"].keys() == ANSWERS.keys()
    assert len(event["after"]["answers_sha256"]["valid-example"]) == 64
    # Submitted: the workbook cannot change it any more.
    again = await upload(client, aid, fill(book, ANSWERS), procurement)
    assert again.status_code == 409
    assert (
        await client.get(f"/api/v1/assessments/{aid}/workbook", headers=risk_owner["headers"])
    ).status_code == 409


async def test_foreign_stale_tampered_and_invalid_workbooks_are_refused(
    client: Client,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    send: Send,
    procurement: User,
    auditor: User,
) -> None:
    one, other = await send((await new_partner())["id"]), await send((await new_partner())["id"])
    book = await export(client, one["assessment"]["id"], procurement)
    content = fill(book, ANSWERS)

    foreign = await upload(client, other["assessment"]["id"], content, procurement)
    assert foreign.status_code == 409
    assert foreign.json()["type"] == "urn:vendor-risk:problem:workbook-other-assessment"

    tampered = openpyxl.load_workbook(io.BytesIO(content))
    tampered["_meta"]["B1"].value = 7
    out = io.BytesIO()
    tampered.save(out)
    edited = await upload(client, one["assessment"]["id"], out.getvalue(), procurement)
    assert edited.status_code == 400
    assert edited.json()["type"] == "urn:vendor-risk:problem:workbook-unsigned"

    invalid = await upload(
        client, one["assessment"]["id"], fill(book, {"ac-1": "也许", "ac-2": "三天"}), procurement
    )
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["type"] == "urn:vendor-risk:problem:workbook-invalid"
    assert [(e["question_id"], e["row"]) for e in body["errors"]] == [("ac-1", 3), ("ac-2", 4)]
    assert body["errors"][0]["message"] == "不是该问题的选项，请从列表中选择。"
    untouched = await db.fetchval(
        "SELECT answers_version FROM assessments WHERE id = $1", one["assessment"]["id"]
    )
    assert untouched == 0

    # A save in the portal after the export makes the file stale.
    me = Partner(client, one["link"])
    assert (await me.save(0, "access", {"ac-1": "no"})).status_code == 303
    stale = await upload(client, one["assessment"]["id"], content, procurement, submit=False)
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:vendor-risk:problem:workbook-stale"
    assert (
        await client.get(
            f"/api/v1/assessments/{one['assessment']['id']}/workbook", headers=auditor["headers"]
        )
    ).status_code == 403

    # Without submit, a fresh file merges the answers and leaves the assessment open.
    fresh = await export(client, one["assessment"]["id"], procurement)
    merged = await upload(client, one["assessment"]["id"], fill(fresh, ANSWERS), procurement, submit=False)
    assert merged.status_code == 200, merged.text
    assert merged.json()["submitted"] is False
    answers = await db.fetchval(
        "SELECT answers FROM assessment_parts WHERE assessment_id = $1", one["assessment"]["id"]
    )
    assert answers["ac-1"]["value"] == "yes"
    assert answers["dh-3"]["value"] == ["encrypted", "tested"]
