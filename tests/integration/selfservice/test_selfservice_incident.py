"""A partner reports a security incident from self-service: the incident opens with the
partner-data-leak playbook in its first state, the risk owner's email arrives after one
delivery run of the worker (real SMTP), and the report is on the incident's timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from tests.helpers import Mailbox
from tests.integration.assessments.conftest import NewPartner, User, deliver
from tests.integration.selfservice.conftest import SignIn
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.settings import Settings

CHINA = ZoneInfo("Asia/Shanghai")


def local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'id="f-{name}-error" role="alert">([^<]*)<', html)
    return found.group(1) if found else None


async def test_a_partners_report_opens_an_incident_and_emails_the_risk_owner(
    new_partner: NewPartner,
    sign_in: SignIn,
    browser: OpenBrowser,
    risk_owner: User,
    pool: asyncpg.Pool,
    settings: Settings,
    smtp: tuple[Mailbox, int],
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"])
    form = await me.get("/p/incident")
    assert form.status_code == 200
    assert "报告安全事件" in form.text
    assert 'value="李雷"' in form.text  # the contact's name offered

    # Bad input comes back with the error beside its field and everything typed kept.
    typed = {
        "what": "员工邮箱被盗，向外发送了含客户工资表的邮件",
        "occurred_at": local(datetime.now(UTC) + timedelta(days=1)),
        "persons": "100_1000",
        "contact_name": "李雷",
        "contact_phone": "13800000000",
    }
    refused = await me.submit("/p/incident", "/p/incident", typed)
    assert refused.status_code == 400
    assert field_error(refused.text, "occurred_at") == "时间不能晚于现在。"
    assert "员工邮箱被盗，向外发送了含客户工资表的邮件</textarea>" in refused.text
    assert 'value="13800000000"' in refused.text
    blank = await me.submit("/p/incident", "/p/incident", {**typed, "what": "  "})
    assert blank.status_code == 400
    assert field_error(blank.text, "what")
    assert await db.fetchval("SELECT count(*) FROM incidents WHERE partner_id = $1", partner["id"]) == 0

    done = await me.submit(
        "/p/incident", "/p/incident", {**typed, "occurred_at": local(datetime.now(UTC) - timedelta(hours=2))}
    )
    assert done.status_code == 303
    assert "done=incident_reported" in done.headers["location"]
    home = await me.get("/p", done="incident_reported")
    assert "您的事件报告已提交" in home.text

    incident = await db.fetchrow(
        "SELECT id, status, playbook_key, severity, created_by, created_by_label FROM incidents"
        " WHERE partner_id = $1",
        partner["id"],
    )
    assert incident["status"] == "suspected"
    assert incident["playbook_key"] == "partner-data-leak"
    assert incident["severity"] == "medium"
    assert incident["created_by"] is None
    assert partner["contacts"][0]["email"] in incident["created_by_label"]
    steps = await db.fetch(
        "SELECT step_id, status FROM incident_steps WHERE incident_id = $1 ORDER BY position", incident["id"]
    )
    assert steps[0]["step_id"] == "contain"
    assert {s["status"] for s in steps} == {"pending"}

    # One delivery run of the worker and the risk owner's email is in the SMTP server.
    await deliver(pool, settings)
    arrived = [m for m in smtp[0].to(risk_owner["email"]) if partner["name"] in str(m["Subject"])]
    assert len(arrived) == 1
    assert "疑似事件" in str(arrived[0]["Subject"])

    # The partner's report is on the incident's timeline, in either language.
    staff = await browser(risk_owner)
    page = await staff.get(f"/ui/incidents/{incident['id']}", lang="zh-CN")
    assert page.status_code == 200
    assert "合作方报告：员工邮箱被盗" in page.text
    assert "100 至 1,000 人" in page.text
    page = await staff.get(f"/ui/incidents/{incident['id']}", lang="en")
    assert "Partner&#39;s report: 员工邮箱被盗" in page.text
    event = await db.fetchrow(
        "SELECT after FROM audit_events WHERE action = 'selfservice.incident_reported' AND entity_id = $1",
        str(incident["id"]),
    )
    assert event["after"]["report"]["contact_phone"] == "13800000000"


async def test_a_report_cannot_name_data_the_partner_does_not_hold(
    new_partner: NewPartner, sign_in: SignIn, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][1]["email"], lang="en")
    refused = await me.submit(
        "/p/incident",
        "/p/incident",
        {
            "what": "Laptop stolen",
            "occurred_at": local(datetime.now(UTC)),
            "categories": "no_such_category",
            "persons": "unknown",
            "contact_name": "Han",
        },
    )
    assert refused.status_code == 400
    assert field_error(refused.text, "categories")
    assert await db.fetchval("SELECT count(*) FROM incidents WHERE partner_id = $1", partner["id"]) == 0
