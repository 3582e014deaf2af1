"""Incidents in the browser: opened from a partner page with a playbook, steps completed
or skipped with a note and evidence, the PIPL art. 57 record as a form, its export, and
closing refused while the record misses what art. 57 requires."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import Browser, OpenBrowser
from tests.integration.ui.querycount import count_queries
from vendor_risk.incidents.pages import LOCAL_ZONE
from vendor_risk.settings import Settings

TAG = re.compile(r"<[^>]+>")


@pytest.fixture
async def db(settings: Settings) -> Any:
    conn = await asyncpg.connect(settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


def local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")


def error_of(html: str, field: str) -> str:
    """The error shown beside ``field`` (empty when there is none)."""
    found = re.search(rf'id="f-{field}-error"[^>]*>([^<]*)<', html)
    return found.group(1) if found else ""


async def open_from_partner_page(me: Browser, partner_id: str, **fields: Any) -> Any:
    return await me.submit(
        f"/ui/partners/{partner_id}",
        f"/ui/partners/{partner_id}/incidents",
        {
            "title": "共享邮箱泄露",
            "playbook": "partner-data-leak",
            "severity": "high",
            "detected_at": local(datetime.now(UTC) - timedelta(hours=1)),
            "description": "合作方员工邮箱被钓鱼",
        }
        | fields,
    )


RECORD = {
    "categories": ["invoices"],
    "persons_affected_approx": "350",
    "affected_persons": "三家客户的财务人员",
    "cause": "合作方员工邮箱被钓鱼窃取密码。",
    "possible_harm": "发票信息被用于诈骗。",
    "remedial_measures": "已暂停数据共享并作废问卷链接。",
    "individual_measures": "警惕冒充我所的电话和邮件。",
    "contact": "privacy@example.com",
    "authority_name": "北京市互联网信息办公室",
    "authority_notified_at": "2026-11-30T09:30",
    "authority_notified_how": "书面报告",
}


async def test_a_leak_is_opened_run_recorded_exported_and_closed_in_the_browser(
    browser: OpenBrowser, client: Client, db: asyncpg.Connection, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    me = await browser(risk_owner)
    panel = await me.get(f"/ui/partners/{partner['id']}", lang="zh-CN")
    assert "合作方个人信息泄露" in panel.text  # the playbook, by its title

    opened = await open_from_partner_page(me, partner["id"])
    assert opened.status_code == 303, opened.text
    path = opened.headers["location"]
    iid = path.rsplit("/", 1)[1]
    page = await me.get(path)
    assert page.status_code == 200
    assert "立即控制：停止数据共享并作废问卷链接" in page.text
    assert "自动暂停数据共享范围" in page.text  # containment, by its label
    assert (await me.get(f"/ui/partners/{partner['id']}")).text.count(f"/ui/incidents/{iid}") == 1

    # A step completed with a note and evidence, one reference per line.
    done = await me.submit(
        path,
        f"{path}/steps/contain/complete",
        {"note:contain": "已电话联系负责人", "evidence:contain": "SEC-1042\n\nsha256:ab12"},
    )
    assert done.status_code == 303, done.text
    step = await db.fetchrow(
        "SELECT status, note, evidence FROM incident_steps WHERE incident_id = $1 AND step_id = 'contain'",
        iid,
    )
    assert (step["status"], step["note"], list(step["evidence"])) == (
        "done",
        "已电话联系负责人",
        ["SEC-1042", "sha256:ab12"],
    )

    # A skip needs its reason: refused beside the field, nothing written.
    blank = await me.submit(path, f"{path}/steps/assess/skip", {"reason:assess": "  "})
    assert blank.status_code == 400
    assert error_of(blank.text, "reason-assess") == "必填。"
    assert (
        await db.fetchval(
            "SELECT status FROM incident_steps WHERE incident_id = $1 AND step_id = 'assess'", iid
        )
        == "pending"
    )

    # Steps still open: the refusal names them, and the record is not marked.
    early = await me.submit(path, f"{path}/close", {"note": ""})
    assert early.status_code == 409
    assert "不能关闭：以下步骤尚未完成或跳过：评估影响范围" in early.text
    assert not error_of(early.text, "cause")

    for step_id in ("assess", "notify-authority", "notify-persons", "remediate", "review"):
        finished = await me.submit(path, f"{path}/steps/{step_id}/complete", {f"note:{step_id}": ""})
        assert finished.status_code == 303, (step_id, finished.text)

    # Closing with an empty record: refused, naming every field art. 57 requires.
    before_close = await me.get(path)
    assert "通知记录缺少：" in before_close.text  # shown before the button is pressed
    refused = await me.submit(path, f"{path}/close", {"note": "复盘完成"})
    assert refused.status_code == 409
    text = TAG.sub("", refused.text)
    for label in ("原因", "可能造成的危害", "联系方式", "报告部门", "通知个人的方式"):
        assert label in text
    assert error_of(refused.text, "cause") == "原因：关闭事件前须填写（《个人信息保护法》第五十七条）"
    assert await db.fetchval("SELECT status FROM incidents WHERE id = $1", iid) == "open"

    # Bad input in the record: each bad field named, everything typed kept, nothing saved.
    bad = await me.submit(
        path,
        f"{path}/notification-record",
        RECORD | {"version": "0", "persons_affected_approx": "很多", "authority_notified_at": "昨天"},
    )
    assert bad.status_code == 400
    assert error_of(bad.text, "persons_affected_approx")
    assert error_of(bad.text, "authority_notified_at")
    assert not error_of(bad.text, "cause")
    assert "合作方员工邮箱被钓鱼窃取密码。" in bad.text
    assert 'value="很多"' in bad.text
    assert (
        await db.fetchval("SELECT count(*) FROM incident_notification_records WHERE incident_id = $1", iid)
        == 0
    )

    # The record saved; the persons told, by text message.
    saved = await me.submit(
        path,
        f"{path}/notification-record",
        RECORD | {"version": "0", "persons_notified_at": "2026-11-30T12:00", "persons_notified_how": "短信"},
    )
    assert saved.status_code == 303, saved.text
    row = await db.fetchrow("SELECT * FROM incident_notification_records WHERE incident_id = $1", iid)
    assert row["persons_affected_approx"] == 350
    assert row["authority_notified_at"] == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)  # typed in China time
    assert row["categories"] == ["invoices"]

    export = await me.get(f"{path}/notification-record/export", lang="en")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/markdown")
    assert export.text.startswith("# Personal information security incident: notification record")
    assert "合作方员工邮箱被钓鱼窃取密码。" in export.text

    closed = await me.submit(path, f"{path}/close", {"note": "复盘完成"})
    assert closed.status_code == 303, closed.text
    assert await db.fetchval("SELECT status FROM incidents WHERE id = $1", iid) == "closed"
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'incident.closed'", iid
    )
    assert audited == 1


async def test_a_stale_record_gets_the_side_by_side_conflict_page(
    browser: OpenBrowser, db: asyncpg.Connection, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    me = await browser(risk_owner)
    path = (await open_from_partner_page(me, partner["id"])).headers["location"]
    first = await me.submit(path, f"{path}/notification-record", RECORD | {"version": "0"})
    assert first.status_code == 303
    stale = await me.submit(
        path, f"{path}/notification-record", RECORD | {"version": "0", "cause": "内部人员"}
    )
    assert stale.status_code == 409
    assert "内部人员" in stale.text
    assert "合作方员工邮箱被钓鱼窃取密码。" in stale.text
    assert 'name="version" value="1"' in stale.text
    iid = path.rsplit("/", 1)[1]
    assert (
        await db.fetchval("SELECT cause FROM incident_notification_records WHERE incident_id = $1", iid)
        == RECORD["cause"]
    )


async def test_bad_input_on_the_open_form_names_each_field_and_opens_nothing(
    browser: OpenBrowser, db: asyncpg.Connection, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    me = await browser(risk_owner)
    await me.get("/ui", lang="zh-CN")
    future = local(datetime.now(UTC) + timedelta(days=2))
    refused = await open_from_partner_page(
        me, partner["id"], title="", detected_at=future, description="保留我"
    )
    assert refused.status_code == 400
    assert error_of(refused.text, "title") == "必填。"
    assert "保留我" in refused.text
    # The service's own check (not in the future) after the form decoded.
    later = await open_from_partner_page(me, partner["id"], detected_at=future)
    assert later.status_code == 400
    assert error_of(later.text, "detected_at") == "发现时间不能晚于当前时间"
    assert f'value="{future}"' in later.text
    assert await db.fetchval("SELECT count(*) FROM incidents WHERE partner_id = $1", partner["id"]) == 0


async def test_each_role_gets_only_the_forms_its_api_role_accepts(
    browser: OpenBrowser,
    db: asyncpg.Connection,
    new_partner: NewPartner,
    procurement: User,
    risk_owner: User,
    auditor: User,
) -> None:
    partner = await new_partner()
    buyer = await browser(procurement)
    panel = await buyer.get(f"/ui/partners/{partner['id']}")
    assert "报告疑似事件" in panel.text
    assert "开启事件" not in panel.text
    # Procurement reports: the incident is only suspected and runs nothing yet.
    reported = await open_from_partner_page(buyer, partner["id"])
    assert reported.status_code == 303, reported.text
    path = reported.headers["location"]
    iid = path.rsplit("/", 1)[1]
    assert await db.fetchval("SELECT status FROM incidents WHERE id = $1", iid) == "suspected"
    seen = (await buyer.get(path)).text
    assert "/confirm" not in seen
    assert '/notification-record"' not in seen
    assert "/close" not in seen

    reader = await browser(auditor)
    page = (await reader.get(path)).text
    assert '<form method="post" action="/ui/incidents' not in page
    assert "/incidents/new" not in (await reader.get(f"/ui/partners/{partner['id']}")).text
    refused = await reader.post(f"{path}/confirm", {"_csrf_token": csrf_of(page)})
    assert refused.status_code == 403

    owner = await browser(risk_owner)
    confirmed = await owner.submit(path, f"{path}/confirm")
    assert confirmed.status_code == 303
    assert await db.fetchval("SELECT status FROM incidents WHERE id = $1", iid) == "open"


async def test_the_incident_pages_run_a_fixed_number_of_queries(
    browser: OpenBrowser, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    me = await browser(risk_owner)
    path = (await open_from_partner_page(me, partner["id"])).headers["location"]

    async def counts() -> list[int]:
        found = []
        for page in ("/ui/incidents", path, f"/ui/partners/{partner['id']}"):
            with count_queries() as queries:
                assert (await me.get(page)).status_code == 200
            found.append(queries.queries)
        return found

    few = await counts()
    for _ in range(4):
        assert (await open_from_partner_page(me, partner["id"])).status_code == 303
    for step_id in ("contain", "assess", "notify-authority"):
        assert (
            await me.submit(
                path,
                f"{path}/steps/{step_id}/complete",
                {f"note:{step_id}": "x", f"evidence:{step_id}": "a\nb"},
            )
        ).status_code == 303
    many = await counts()
    assert many == few
    assert max(many) <= 16


async def test_the_affected_categories_are_named_with_the_version_read(
    browser: OpenBrowser, db: asyncpg.Connection, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    me = await browser(risk_owner)
    path = (await open_from_partner_page(me, partner["id"])).headers["location"]
    iid = path.rsplit("/", 1)[1]
    version = await db.fetchval("SELECT version FROM incidents WHERE id = $1", iid)
    blank = await me.submit(
        path, f"{path}/update", {"version": str(version), "title": "", "description": "保留"}
    )
    assert blank.status_code == 400
    assert error_of(blank.text, "title") == "必填。"
    assert "保留" in blank.text
    saved = await me.submit(
        path,
        f"{path}/update",
        {
            "version": str(version),
            "title": "共享邮箱泄露",
            "description": "合作方员工邮箱被钓鱼",
            "affected_categories": ["invoices", "contracts"],
        },
    )
    assert saved.status_code == 303, saved.text
    row = await db.fetchrow("SELECT affected_categories, version FROM incidents WHERE id = $1", iid)
    assert sorted(row["affected_categories"]) == ["contracts", "invoices"]
    timeline = await db.fetchval(
        "SELECT summary ->> 'zh-CN' FROM incident_timeline WHERE incident_id = $1 AND kind = 'updated'", iid
    )
    assert timeline == "更新事件信息：受影响的数据类别"
    stale = await me.submit(
        path,
        f"{path}/update",
        {"version": str(version), "title": "另一个标题", "affected_categories": ["invoices"]},
    )
    assert stale.status_code == 409
    assert "另一个标题" in stale.text
    assert f'name="version" value="{row["version"]}"' in stale.text
    assert await db.fetchval("SELECT title FROM incidents WHERE id = $1", iid) == "共享邮箱泄露"
