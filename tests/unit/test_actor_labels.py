"""The system's own actors read in the page's language; staff as they are recorded."""

from __future__ import annotations

from uuid import uuid4

import pytest

from vendor_risk.audit import actors
from vendor_risk.audit.models import SYSTEM
from vendor_risk.findings.reminders import SWEEPER as REMEDIATION_SWEEPER
from vendor_risk.i18n import translator
from vendor_risk.notices.service import NOTICE_SWEEPER
from vendor_risk.sweeps import REASSESSOR, SWEEPER
from vendor_risk.worker import RATING_REPAIRER

zh, en = translator("zh-CN"), translator("en")


@pytest.mark.parametrize(
    ("label", "chinese"),
    [
        (SYSTEM.label, "系统"),
        (RATING_REPAIRER.label, "系统（评级重算）"),
        (REMEDIATION_SWEEPER.label, "系统（整改提醒）"),
        (NOTICE_SWEEPER.label, "系统（安全通知提醒）"),
        (SWEEPER.label, "系统（到期检查）"),
        (REASSESSOR.label, "系统（定期复评）"),
        ("system: incident deadlines", "系统（事件时限提醒）"),
        (f"system: playbook partner-data-leak, incident {uuid4()}", "系统（按处置预案自动执行）"),
        ("partner contact: 韩梅梅 <han@partner.example.cn>", "合作方联系人 韩梅梅 <han@partner.example.cn>"),
        ("self-service sign-in: han@partner.example.cn", "合作方自助登录 han@partner.example.cn"),
        ("sign-in:who@firm.example.cn", "登录尝试 who@firm.example.cn"),
        ("cli:root", "命令行（root）"),
        ("han@partner.example.cn (云账房, portal link)", "han@partner.example.cn（云账房，问卷链接）"),
    ],
)
def test_system_actors_read_in_the_language(label: str, chinese: str) -> None:
    assert actors.read(label, None, zh) == chinese
    assert actors.read(label, None, en) != chinese


def test_staff_read_as_recorded_whatever_their_name() -> None:
    assert (
        actors.read("cli:Wang Fang <wang@firm.example.cn>", uuid4(), zh)
        == "cli:Wang Fang <wang@firm.example.cn>"
    )
    assert actors.read("Unknown label", None, zh) == "Unknown label"
