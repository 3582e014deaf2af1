"""The findings board: most severe first, filters kept in the URL, assign an owner and a due
date, accept a risk; each role sees only the forms the API accepts from it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser
from tests.integration.ui.querycount import count_queries


def _in(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def _raise(
    client: Client, risk_owner: User, partner_id: str, severity: str, title: str, **more: Any
) -> str:
    response = await client.post(
        "/api/v1/findings",
        json={"partner_id": partner_id, "severity": severity, "title": title, **more},
        headers=risk_owner["headers"],
    )
    assert response.status_code == 201, response.text
    finding_id: str = response.json()["id"]
    return finding_id


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr id="f-([0-9a-f-]{36})"', html)


async def test_the_board_sorts_most_severe_first_and_keeps_its_filters(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    low = await _raise(client, risk_owner, partner["id"], "low", "日志保留不足")
    critical = await _raise(client, risk_owner, partner["id"], "critical", "明文存储纳税人密码")
    high = await _raise(client, risk_owner, partner["id"], "high", "未启用多因素认证")
    me = await browser(risk_owner)
    board = await me.get("/ui/findings", partner=partner["id"])
    assert board.status_code == 200
    assert _rows(board.text) == [critical, high, low]
    assert "严重" in board.text
    assert partner["name"] in board.text
    only_high = await me.get("/ui/findings", partner=partner["id"], severity="high")
    assert _rows(only_high.text) == [high]
    # The filters stay in the form and in the hidden "back" of each row's forms.
    assert 'value="high" selected' in only_high.text
    assert f'name="back" value="/ui/findings?severity=high&amp;partner={partner["id"]}"' in only_high.text


async def test_the_board_pages_in_severity_order(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    made = [
        await _raise(client, risk_owner, partner["id"], s, f"问题 {i}")
        for i, s in enumerate(["medium", "critical"] * 14)
    ]
    me = await browser(risk_owner)
    page = await me.get("/ui/findings", partner=partner["id"])
    seen = _rows(page.text)
    assert len(seen) == 25
    link = re.search(r'class="button" href="([^"]+)"', page.text)
    assert link
    rest = await me.get(link.group(1).replace("&amp;", "&"))
    seen += _rows(rest.text)
    assert sorted(seen) == sorted(made)
    assert len(set(seen)) == len(made)
    severities = dict(zip(made, ["medium", "critical"] * 14, strict=True))
    order = [severities[f] for f in seen]
    assert order == ["critical"] * 14 + ["medium"] * 14


async def test_assigning_an_owner_and_a_due_date_and_refusing_bad_input(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    risk_owner: User,
    procurement: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    finding = await _raise(client, risk_owner, partner["id"], "high", "未启用多因素认证")
    path = f"/ui/findings?partner={partner['id']}"
    me = await browser(risk_owner)
    board = await me.get("/ui/findings", partner=partner["id"])
    version = re.search(
        rf'action="/ui/findings/{finding}/assign".*?name="version" value="(\d+)"', board.text, re.S
    )
    assert version
    bad = await me.post(
        f"/ui/findings/{finding}/assign",
        {
            "_csrf_token": csrf_of(board.text),
            "version": version.group(1),
            "owner_id": "nobody",
            "due_on": "2026-13-45",
            "back": path,
        },
    )
    assert bad.status_code == 400
    assert 'id="f-owner_id-error"' in bad.text
    assert 'id="f-due_on-error"' in bad.text
    assert 'value="2026-13-45"' in bad.text
    row = await db.fetchrow("SELECT owner_id, due_on, created_at FROM findings WHERE id = $1", finding)
    # Unchanged: no owner, and the default due date its severity gave it when raised.
    assert row["owner_id"] is None
    assert row["due_on"] is not None

    done = await me.post(
        f"/ui/findings/{finding}/assign",
        {
            "_csrf_token": csrf_of(board.text),
            "version": version.group(1),
            "owner_id": str(procurement["id"]),
            "due_on": _in(20),
            "back": path,
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{path}#f-{finding}"
    row = await db.fetchrow("SELECT owner_id, due_on FROM findings WHERE id = $1", finding)
    assert (str(row["owner_id"]), row["due_on"].isoformat()) == (str(procurement["id"]), _in(20))
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'finding.updated' AND entity_id = $1", finding
    )
    assert audited == 1
    after = await me.get("/ui/findings", owner=str(procurement["id"]))
    assert finding in _rows(after.text)
    assert '<td data-label="负责人">采购 赵敏</td>' in after.text

    # The same (now stale) version again: the side-by-side page, nothing written.
    stale = await me.post(
        f"/ui/findings/{finding}/assign",
        {
            "_csrf_token": csrf_of(board.text),
            "version": version.group(1),
            "owner_id": "",
            "due_on": _in(5),
            "back": path,
        },
    )
    assert stale.status_code == 409
    assert _in(5) in stale.text
    assert (await db.fetchval("SELECT due_on FROM findings WHERE id = $1", finding)).isoformat() == _in(20)


async def test_accepting_a_risk_refuses_a_bad_date_and_a_short_reason(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, risk_owner: User, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    # High, not critical: the policy makes a critical acceptance a two-person decision.
    finding = await _raise(client, risk_owner, partner["id"], "high", "明文存储纳税人密码")
    me = await browser(risk_owner)
    board = await me.get("/ui/findings", partner=partner["id"])
    refused = await me.post(
        f"/ui/findings/{finding}/accept",
        {"_csrf_token": csrf_of(board.text), "until": _in(400), "justification": "太短了"},
    )
    assert refused.status_code == 400
    assert 'id="f-justification-error"' in refused.text
    assert "太短了" in refused.text
    past = await me.post(
        f"/ui/findings/{finding}/accept",
        {
            "_csrf_token": csrf_of(board.text),
            "until": _in(400),
            "justification": "已由补偿性控制覆盖，数据已脱敏处理。",
        },
    )
    assert past.status_code == 400
    assert 'id="f-until-error"' in past.text
    assert "不能超过一年" in past.text
    assert await db.fetchval("SELECT count(*) FROM risk_acceptances WHERE finding_id = $1", finding) == 0
    accepted = await me.post(
        f"/ui/findings/{finding}/accept",
        {
            "_csrf_token": csrf_of(board.text),
            "until": _in(90),
            "justification": "已由补偿性控制覆盖，数据已脱敏处理。",
        },
    )
    assert accepted.status_code == 303
    assert await db.fetchval("SELECT status FROM findings WHERE id = $1", finding) == "accepted"


async def test_only_a_risk_owner_gets_the_forms(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    risk_owner: User,
    auditor: User,
    procurement: User,
) -> None:
    partner = await new_partner()
    finding = await _raise(client, risk_owner, partner["id"], "medium", "备份未演练")
    for user in (auditor, procurement):
        me = await browser(user)
        board = await me.get("/ui/findings", partner=partner["id"])
        assert board.status_code == 200
        assert finding in _rows(board.text)
        assert f"/ui/findings/{finding}/assign" not in board.text
        assert f"/ui/findings/{finding}/accept" not in board.text
        refused = await me.post(
            f"/ui/findings/{finding}/accept",
            {"_csrf_token": csrf_of(board.text), "until": _in(30), "justification": "x" * 20},
        )
        assert refused.status_code == 403


async def test_the_board_runs_a_fixed_number_of_queries(
    browser: OpenBrowser, client: Client, new_partner: NewPartner, risk_owner: User
) -> None:
    partner = await new_partner()
    await _raise(client, risk_owner, partner["id"], "low", "一")
    me = await browser(risk_owner)
    with count_queries() as one:
        assert (await me.get("/ui/findings", partner=partner["id"])).status_code == 200
    for i in range(12):
        await _raise(
            client,
            risk_owner,
            partner["id"],
            "high",
            f"问题 {i}",
            owner_id=str(risk_owner["id"]),
            due_on=_in(3),
        )
    with count_queries() as many:
        assert (await me.get("/ui/findings", partner=partner["id"])).status_code == 200
    assert many.queries == one.queries, many.statements
    assert many.queries <= 6, many.statements
