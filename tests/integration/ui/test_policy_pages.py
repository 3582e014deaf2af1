"""The policy page (read-only, every role, both languages) and the page a risk owner sees
after giving the first of two approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import MakeUser
from tests.integration.assessments.conftest import Client, NewPartner, User, csrf_of
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.settings import Settings


async def test_every_role_reads_the_policy_in_force_with_its_source_and_hash(
    browser: OpenBrowser, settings: Settings, auditor: User, procurement: User
) -> None:
    for user in (auditor, procurement):
        me = await browser(user)
        dashboard = await me.get("/ui")
        assert 'href="/ui/policy"' in dashboard.text
        page = await me.get("/ui/policy", lang="zh-CN")
        assert page.status_code == 200
        assert "<h1>风险策略</h1>" in page.text
        assert settings.policy.sha256 in page.text
        assert settings.policy.source in page.text
        assert "sensitive_personal" not in page.text  # codes are shown by their labels
        for label in ("敏感个人信息", "薪酬与社保代办", "双人审批规则", "到期前 7、3、1 天", "6 个月"):
            assert label in page.text
        assert "critical-partner-activation" in page.text
        assert "<form" not in page.text.split("<main", 1)[1]  # read-only
    english = await (await browser(auditor)).get("/ui/policy", lang="en")
    assert "<h1>Risk policy</h1>" in english.text
    assert "Payroll and social insurance" in english.text
    assert "7, 3, 1 days before" in english.text


async def test_the_first_of_two_approvals_says_a_second_is_needed(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    risk_owner: User,
    make_user: MakeUser,
) -> None:
    partner = await new_partner()
    raiser = await make_user("risk_owner", name="发现人")
    finding = await client.post(
        "/api/v1/findings",
        json={"partner_id": partner["id"], "severity": "critical", "title": "共用办税账号"},
        headers=raiser["headers"],
    )
    assert finding.status_code == 201
    me = await browser(risk_owner)
    page = await me.get("/ui/findings", lang="zh-CN")
    until = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()
    answer = await me.post(
        f"/ui/findings/{finding.json()['id']}/accept",
        {"_csrf_token": csrf_of(page.text), "until": until, "justification": "补偿控制：付款须客户另行复核"},
    )
    assert answer.status_code == 202, answer.text[-1500:]
    assert "已记录您的批准，待第二人批准" in answer.text
    assert "critical-risk-acceptance" in answer.text
    shown = await client.get(f"/api/v1/findings/{finding.json()['id']}", headers=risk_owner["headers"])
    assert shown.json()["status"] == "open"
