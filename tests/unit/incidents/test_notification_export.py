from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from vendor_risk.incidents.export import escape, notification_record_markdown
from vendor_risk.incidents.models import Incident, NotificationRecord
from vendor_risk.structs import I18nText

INCIDENT = Incident(
    id=UUID("0b9c8f7e-0000-4000-8000-000000000001"),
    partner_id=UUID("0b9c8f7e-0000-4000-8000-000000000002"),
    partner_name="云账房科技",
    title="共享邮箱泄露",
    severity="high",
    status="open",
    detected_at=datetime(2025, 3, 4, 1, 30, tzinfo=UTC),
    playbook_key="partner-data-leak",
    playbook_version=1,
    playbook_title=I18nText(zh_cn="合作方个人信息泄露", en="Partner data leak"),
    affected_categories=["bank_accounts", "payroll_employee_data"],
    description="",
    created_at=datetime(2025, 3, 4, 2, 0, tzinfo=UTC),
    created_by_label="Risk <risk@example.com>",
    closed_at=None,
    steps_total=6,
    steps_open=6,
    overdue=False,
    version=1,
)
RECORD = NotificationRecord(
    incident_id=INCIDENT.id,
    categories=["bank_accounts", "payroll_employee_data", "custom_code"],
    persons_affected_approx=1200,
    affected_persons="三家客户的员工",
    cause="合作方员工的邮箱密码被钓鱼窃取。",
    possible_harm="冒用身份、诈骗。",
    remedial_measures="已暂停数据共享并重置密码。",
    individual_measures="警惕陌生来电。",
    contact="privacy@example.com，010-12345678",
    authority_name="北京市互联网信息办公室",
    authority_notified_at=datetime(2025, 3, 5, 2, 0, tzinfo=UTC),
    authority_notified_how="书面报告",
    persons_notified_at=None,
    persons_notified_how="",
    persons_not_notified_reason="",
    updated_at=datetime(2025, 3, 5, 3, 0, tzinfo=UTC),
    updated_by_label="Risk <risk@example.com>",
    version=3,
)
NAMES = {
    "bank_accounts": I18nText(zh_cn="银行账户及流水", en="Bank accounts and statements"),
    "payroll_employee_data": I18nText(zh_cn="工资及员工个人信息", en="Payroll and employee personal data"),
}
EXPORTED = datetime(2025, 3, 6, 8, 0, tzinfo=UTC)


def test_chinese_record_carries_the_article_57_contents() -> None:
    text = notification_record_markdown(INCIDENT, RECORD, NAMES, "zh-CN", EXPORTED)

    assert text.startswith("# 个人信息安全事件通知记录\n")
    assert "《中华人民共和国个人信息保护法》第五十七条" in text
    assert "- 涉事合作方（受托人）：云账房科技" in text
    assert "- 发现时间：2025-03-04 09:30（北京时间，UTC+8）" in text
    assert "- 严重程度：高" in text
    assert "- 信息种类：银行账户及流水、工资及员工个人信息、custom\\_code" in text
    assert "- 涉及个人数量（约）：约 1,200 人" in text
    assert "## 二、原因\n\n合作方员工的邮箱密码被钓鱼窃取。\n" in text
    assert "## 五、个人可以采取的减轻危害的措施\n\n警惕陌生来电。\n" in text
    assert "- 报告部门：北京市互联网信息办公室" in text
    assert "- 报告时间：2025-03-05 10:00（北京时间，UTC+8）" in text
    assert "- 通知时间：尚未通知" in text
    assert "- 通知方式：（未填写）" in text
    assert "第五十七条第二款" not in text


def test_english_record_has_the_same_sections_in_english() -> None:
    record = msgspec.structs.replace(
        RECORD,
        persons_notified_how="",
        persons_not_notified_reason="Passwords were reset within the hour; no data left the mailbox.",
    )
    text = notification_record_markdown(INCIDENT, record, NAMES, "en", EXPORTED)

    assert text.startswith("# Personal information security incident: notification record\n")
    assert "Article 57 of the Personal Information Protection Law" in text
    assert "- Detected: 2025-03-04 09:30 (China Standard Time, UTC+8)" in text
    assert "- Severity: high" in text
    assert (
        "- Categories: Bank accounts and statements, Payroll and employee personal data, custom\\_code"
        in text
    )
    assert "- Persons affected (approximately): about 1,200" in text
    assert "## 2. Cause\n\n合作方员工的邮箱密码被钓鱼窃取。\n" in text
    assert "- How: _(not recorded)_" in text
    assert (
        "- Why persons were not notified (art. 57, para. 2): "
        "Passwords were reset within the hour; no data left the mailbox." in text
    )
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(sections) == 8


def test_an_empty_record_shows_every_gap() -> None:
    empty = msgspec.structs.replace(
        RECORD,
        categories=[],
        persons_affected_approx=None,
        affected_persons="",
        cause="",
        possible_harm="",
        remedial_measures="",
        individual_measures="",
        contact="",
        authority_name="",
        authority_notified_at=None,
        authority_notified_how="",
    )
    text = notification_record_markdown(INCIDENT, empty, NAMES, "en", EXPORTED)

    assert text.count("_(not recorded)_") == 11
    assert "- Reported: not reported yet" in text


def test_what_users_typed_cannot_change_the_document_structure() -> None:
    record = msgspec.structs.replace(
        RECORD,
        cause="# Not a heading\n- not a list\n1. not ordered\n<script>alert(1)</script> [link](http://x)",
        authority_name="line one\nline two",
    )
    text = notification_record_markdown(INCIDENT, record, NAMES, "en", EXPORTED)

    assert "\\# Not a heading\n\\- not a list\n1\\. not ordered\n" in text
    assert "\\<script\\>alert(1)\\</script\\> \\[link\\](http://x)" in text
    assert "- Authority: line one line two" in text
    assert "<script>" not in text


def test_escape_keeps_plain_chinese_untouched() -> None:
    assert escape("已暂停数据共享，并要求合作方保全日志。") == "已暂停数据共享，并要求合作方保全日志。"


def test_only_the_two_languages_are_exported() -> None:
    with pytest.raises(ValueError, match="lang must be one of zh-CN, en"):
        notification_record_markdown(INCIDENT, RECORD, NAMES, "fr", EXPORTED)
