from datetime import UTC, datetime
from uuid import UUID

from vendor_risk.incidents.messages import escalation_email, incident_link, opened_email
from vendor_risk.structs import I18nText

STEP = I18nText(zh_cn="立即控制", en="Contain at once")
LINK = incident_link("https://vr.example.com", UUID("0b9c8f7e-0000-4000-8000-000000000001"))


def test_an_escalation_speaks_the_recipients_language() -> None:
    due = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
    zh = escalation_email(
        to="a@example.com",
        lang="zh-CN",
        incident_title="邮箱泄露",
        partner_name="云账房",
        step_title=STEP,
        due_at=due,
        level=2,
        link=LINK,
    )
    en = escalation_email(
        to="b@example.com",
        lang="en",
        incident_title="邮箱泄露",
        partner_name="云账房",
        step_title=STEP,
        due_at=due,
        level=2,
        link=LINK,
    )

    assert zh.subject == "【逾期·第2级】云账房：邮箱泄露——立即控制"
    assert "已于 2025-03-04 10:00（北京时间，UTC+8） 到期" in zh.text
    assert en.subject == "[Overdue, level 2] 云账房: 邮箱泄露 - Contain at once"
    assert "was due 2025-03-04 10:00 (China Standard Time, UTC+8)" in en.text
    assert (zh.lang, en.lang) == ("zh-CN", "en")
    assert LINK in zh.text
    assert LINK in en.text
    assert LINK == "https://vr.example.com/ui/incidents/0b9c8f7e-0000-4000-8000-000000000001"


def test_a_suspected_report_asks_a_risk_owner_to_decide() -> None:
    email = opened_email(
        to="r@example.com",
        lang="en",
        incident_title="Lost UKey",
        partner_name="Acme Tax",
        severity="critical",
        suspected=True,
        reported_by="Li <li@example.com>",
        link=LINK,
    )

    assert email.subject == "[Suspected incident, to confirm] Acme Tax: Lost UKey"
    assert "severity critical" in email.text
    assert "confirm it" in email.text
