"""Unmet conditions and tier factors said in the page language from their codes."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from vendor_risk.partners.labels import Labels
from vendor_risk.partners.rules import FindingFact, LifecycleFacts, TierFactor, activation_gate
from vendor_risk.structs import I18nText


def test_a_gate_condition_is_said_with_its_params_by_their_labels() -> None:
    category = uuid4()
    names = {str(category): I18nText(zh_cn="银行账户", en="bank accounts")}
    clauses = {
        "code": "dpa_clauses_missing",
        "message": "DPA 'x' lacks PIPL art. 21 clauses: purpose",
        "params": {"title": "委托处理协议 2026", "clauses": "purpose,return_or_deletion"},
    }
    zh = Labels("zh-CN", names)
    assert zh.unmet(clauses) == (
        "委托处理协议“委托处理协议 2026”缺少《个人信息保护法》第二十一条条款："
        "委托处理的目的、结束时返还或删除个人信息。"
    )
    missing = {
        "code": "agreement_missing",
        "params": {"category": "bank accounts", "category_id": str(category)},
    }
    assert zh.unmet(missing) == "没有涵盖“银行账户”的有效协议。"
    assert Labels("en", names).unmet(missing) == "No agreement in force covers bank accounts."
    ended = {"code": "scope_period_ended", "params": {"date": "2026-03-01"}}
    assert zh.unmet(ended) == "该数据范围已于 2026年3月1日 结束。"
    # A code the catalogue does not know keeps the rule's own message.
    assert zh.unmet({"code": "something_new", "message": "as the rule says"}) == "as the rule says"


def test_a_critical_finding_is_named_in_the_page_language() -> None:
    facts = LifecycleFacts(
        partner_id=uuid4(),
        status="onboarding",
        tier="high",
        has_owner=True,
        has_primary_contact=True,
        unaccepted_critical_findings=(FindingFact(id=uuid4(), title="No MFA", title_zh="未启用多因素认证"),),
        today=date(2026, 12, 1),
    )
    [finding] = [u for u in activation_gate(facts) if u.code == "critical_finding_open"]
    assert Labels("zh-CN").unmet(finding) == "严重问题“未启用多因素认证”仍未关闭，且风险未被接受。"
    assert (
        Labels("en").unmet(finding) == "The critical finding “No MFA” is open and its risk is not accepted."
    )


def test_tier_factors_are_shown_by_their_labels() -> None:
    zh = Labels("zh-CN")
    volume = TierFactor(code="volume", value="1k_10k", points=1)
    assert (zh.factor(volume), zh.factor_value(volume)) == ("数据量", "1 千至 1 万条")
    border = TierFactor(code="cross_border", value="yes", points=2)
    assert (zh.factor(border), zh.factor_value(border)) == ("跨境传输", "是")
    crit = TierFactor(code="business_criticality", value="critical", points=5)
    assert Labels("en").factor(crit) == "Business criticality"
