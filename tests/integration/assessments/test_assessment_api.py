"""Sending, resending, cancelling and listing assessments: defaults, validation, roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
    deliver,
    link_in,
)
from vendor_risk.assessments import service
from vendor_risk.settings import Settings


async def test_by_default_the_tier_questionnaires_are_bundled_for_the_primary_contact(
    client: Client,
    settings: Settings,
    pool: asyncpg.Pool,
    smtp: tuple[Mailbox, int],
    new_partner: NewPartner,
    procurement: User,
) -> None:
    partner = await new_partner(business_criticality="critical", service_types=["tax_agent"])
    assert partner["tier"] == "medium"
    response = await client.post(
        f"/api/v1/partners/{partner['id']}/assessments",
        json={"kind": "onboarding"},
        headers=procurement["headers"],
    )
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    # The policy's mapping for a medium tax agent: the lite screening and its service's sections.
    assert [q["key"] for q in sent["assessment"]["questionnaires"]] == ["lite-screening", "service-controls"]
    assert sent["assessment"]["recipient_email"] == partner["contacts"][0]["email"]
    due = date.fromisoformat(sent["assessment"]["due_on"])
    assert due == datetime.now(UTC).date() + timedelta(days=21)
    # One link for the bundle, in one email.
    await deliver(pool, settings)
    [email] = smtp[0].to(partner["contacts"][0]["email"])
    assert link_in(email) == sent["link"]
    body = email.get_body(preferencelist=("plain",))
    assert body is not None
    for questionnaire in sent["assessment"]["questionnaires"]:
        assert f"- {questionnaire['title']['zh-CN']}" in body.get_content()
    page = await Partner(client, sent["link"]).get()
    assert page.text.count('class="part"') == 2


async def test_sending_to_an_english_contact_speaks_english(
    settings: Settings,
    pool: asyncpg.Pool,
    smtp: tuple[Mailbox, int],
    new_partner: NewPartner,
    send: Send,
) -> None:
    partner = await new_partner()
    english = partner["contacts"][1]
    sent = await send(partner["id"], recipient={"contact_id": english["id"]}, message="Thanks!")
    await deliver(pool, settings)
    [email] = smtp[0].to(english["email"])
    assert email["Subject"].startswith("Security questionnaire for")
    assert "Dear Han Meimei," in email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert sent["assessment"]["locale"] == "en"


async def test_bad_requests_name_the_field(
    client: Client, new_partner: NewPartner, procurement: User
) -> None:
    partner, other = await new_partner(), await new_partner()
    url = f"/api/v1/partners/{partner['id']}/assessments"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "onboarding", "questionnaires": ["no-such-thing"]}, "questionnaires[0]"),
        (
            {"kind": "onboarding", "recipient": {"contact_id": other["contacts"][0]["id"]}},
            "recipient.contact_id",
        ),
        ({"kind": "onboarding", "recipient": {"email": "x@example.com"}}, "recipient.name"),
        ({"kind": "onboarding", "due_on": "2020-01-01"}, "due_on"),
        ({"kind": "yearly"}, "kind"),
        ({"kind": "onboarding", "questionnaire": "lite-screening"}, "questionnaire"),
    ]
    for body, field in cases:
        response = await client.post(url, json=body, headers=procurement["headers"])
        assert response.status_code == 400, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
        # One problem type for a bad field, whether decoding or the service refused it.
        assert response.json()["type"] == "urn:vendor-risk:problem:validation", response.json()
        assert response.json()["title"] == "Invalid request"
    missing = await client.post(
        "/api/v1/partners/00000000-0000-0000-0000-000000000000/assessments",
        json={"kind": "onboarding"},
        headers=procurement["headers"],
    )
    assert missing.status_code == 404


async def test_roles(
    client: Client, new_partner: NewPartner, send: Send, auditor: User, procurement: User, make_user: Any
) -> None:
    partner = await new_partner()
    url = f"/api/v1/partners/{partner['id']}/assessments"
    assert (
        await client.post(url, json={"kind": "onboarding"}, headers=auditor["headers"])
    ).status_code == 403
    sent = await send(partner["id"])
    aid = sent["assessment"]["id"]
    review = await client.post(
        f"/api/v1/assessments/{aid}/review", json={"decision": "approve"}, headers=procurement["headers"]
    )
    assert review.status_code == 403
    assert (await client.get(f"/api/v1/assessments/{aid}", headers=auditor["headers"])).status_code == 200
    admin = await make_user("admin")
    assert (
        await client.get(
            f"/api/v1/assessments/{aid}/evidence/00000000-0000-0000-0000-000000000000",
            headers=admin["headers"],
        )
    ).status_code == 403
    assert (await client.get(f"/api/v1/assessments/{aid}")).status_code == 401


async def test_resend_and_cancel(
    client: Client,
    settings: Settings,
    pool: asyncpg.Pool,
    smtp: tuple[Mailbox, int],
    new_partner: NewPartner,
    send: Send,
    procurement: User,
    risk_owner: User,
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"])
    aid = sent["assessment"]["id"]
    me = Partner(client, sent["link"])
    assert (await me.save(0, "access", {"ac-1": "yes"})).status_code == 303

    resent = await client.post(
        f"/api/v1/assessments/{aid}/resend", json={"due_on": "2099-12-31"}, headers=procurement["headers"]
    )
    assert resent.status_code == 200
    assert resent.json()["link"] != sent["link"]
    assert resent.json()["assessment"]["due_on"] == "2099-12-31"
    await deliver(pool, settings)
    assert link_in(smtp[0].to(partner["contacts"][0]["email"])[-1]) == resent.json()["link"]
    # Answers survive the new link.
    page = await Partner(client, resent.json()["link"]).get("/s/0/access")
    assert 'value="yes" data-value-input checked' in page.text

    cancelled = await client.post(
        f"/api/v1/assessments/{aid}/cancel",
        json={"reason": "供应商更换联系人"},
        headers=procurement["headers"],
    )
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/assessments/{aid}/resend", json={}, headers=procurement["headers"])
    assert again.status_code == 409
    # A cancelled one no longer blocks a new one.
    assert (await send(partner["id"]))["assessment"]["status"] == "sent"
    # A submitted one cannot be cancelled; it is reviewed.
    second = await send((await new_partner())["id"])
    await complete(Partner(client, second["link"]))
    refused = await client.post(
        f"/api/v1/assessments/{second['assessment']['id']}/cancel",
        json={"reason": "x"},
        headers=risk_owner["headers"],
    )
    assert refused.status_code == 409


async def test_the_review_queue_and_filters(
    client: Client, new_partner: NewPartner, send: Send, risk_owner: User, db: asyncpg.Connection
) -> None:
    submitted = await send((await new_partner())["id"])
    await complete(Partner(client, submitted["link"]))
    late = await send((await new_partner())["id"])
    await db.execute(
        "UPDATE assessments SET due_on = current_date - 3 WHERE id = $1", late["assessment"]["id"]
    )

    queue = await client.get(
        "/api/v1/assessments", params={"status": "submitted", "limit": 200}, headers=risk_owner["headers"]
    )
    ids = [a["id"] for a in queue.json()["items"]]
    assert submitted["assessment"]["id"] in ids
    assert late["assessment"]["id"] not in ids
    overdue = await client.get(
        "/api/v1/assessments", params={"overdue": "true", "limit": 200}, headers=risk_owner["headers"]
    )
    assert [a["id"] for a in overdue.json()["items"]] == [late["assessment"]["id"]]
    page = await client.get("/api/v1/assessments", params={"limit": 1}, headers=risk_owner["headers"])
    following = await client.get(
        "/api/v1/assessments",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=risk_owner["headers"],
    )
    assert following.json()["items"][0]["id"] != page.json()["items"][0]["id"]


async def test_the_worker_reminds_once_each_and_expires_the_overdue(
    client: Client,
    settings: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    smtp: tuple[Mailbox, int],
    new_partner: NewPartner,
    send: Send,
    risk_owner: User,
) -> None:
    partner = await new_partner()
    sent = await send(partner["id"], due_on=(datetime.now(UTC).date() + timedelta(days=10)).isoformat())
    aid = sent["assessment"]["id"]
    due = date.fromisoformat(sent["assessment"]["due_on"])

    async def remind(today: date) -> list[str]:
        codes = []
        for item in await service.reminders_due(db, today):
            if str(item.assessment_id) == aid and await service.send_reminder(
                db, item.assessment_id, item.reminder, today=today, settings=settings
            ):
                codes.append(item.reminder)
        return codes

    assert await remind(due - timedelta(days=8)) == []
    assert await remind(due - timedelta(days=6)) == ["d7"]
    assert await remind(due - timedelta(days=6)) == []
    assert await remind(due - timedelta(days=2)) == ["d3"]
    assert await remind(due) == ["d1"]
    assert await remind(due + timedelta(days=1)) == ["overdue"]
    assert await remind(due + timedelta(days=2)) == []
    await deliver(pool, settings)
    subjects = [m["Subject"] for m in smtp[0].to(partner["contacts"][0]["email"])]
    assert sum("提醒" in s for s in subjects) == 3
    assert sum("逾期" in s for s in subjects) == 1
    assert any(
        "逾期" in m["Subject"] and partner["name"] in m["Subject"] for m in smtp[0].to(risk_owner["email"])
    )

    assert aid not in [
        str(e) for e in await service.expire_overdue(db, today=due + timedelta(days=10), grace_days=14)
    ]
    expired = await service.expire_overdue(db, today=due + timedelta(days=15), grace_days=14)
    assert aid in [str(e) for e in expired]
    assert (await Partner(client, sent["link"]).get()).status_code == 410
