"""What incidents say to people, in both languages: timeline lines and emails (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from vendor_risk.incidents.export import format_time
from vendor_risk.notify.outbox import Email
from vendor_risk.structs import I18nText

ACTION_NAMES = {
    "suspend_scopes": I18nText(zh_cn="暂停数据共享范围", en="suspend data-sharing scopes"),
    "revoke_portal_links": I18nText(zh_cn="作废问卷链接", en="kill portal links"),
    "suspend_partner": I18nText(zh_cn="暂停合作方", en="suspend the partner"),
    "send_triggered_assessment": I18nText(zh_cn="发送触发式重新评估", en="send a triggered reassessment"),
    "notify": I18nText(zh_cn="通知", en="notify"),
}
SEVERITY_NAMES = {
    "low": I18nText(zh_cn="低", en="low"),
    "medium": I18nText(zh_cn="中", en="medium"),
    "high": I18nText(zh_cn="高", en="high"),
    "critical": I18nText(zh_cn="严重", en="critical"),
}


def text(zh: str, en: str) -> I18nText:
    return I18nText(zh_cn=zh, en=en)


def opened(playbook: I18nText, severity: str, suspected: bool) -> I18nText:
    sev = SEVERITY_NAMES[severity]
    if suspected:
        return text(
            f"报告疑似事件（严重程度：{sev.zh_cn}，预案：{playbook.zh_cn}），待风险负责人确认",
            f"Reported a suspected incident (severity {sev.en}, playbook {playbook.en}); "
            "a risk owner must confirm it",
        )
    return text(
        f"开立事件（严重程度：{sev.zh_cn}，预案：{playbook.zh_cn}）",
        f"Opened the incident (severity {sev.en}, playbook {playbook.en})",
    )


def actions_queued(names: Sequence[str]) -> I18nText:
    return text(
        "已排队的自动操作：" + "、".join(ACTION_NAMES[n].zh_cn for n in names),
        "Automatic actions queued: " + ", ".join(ACTION_NAMES[n].en for n in names),
    )


def step_finished(title: I18nText, skipped: bool, reason: str | None = None) -> I18nText:
    if skipped:
        return text(f"跳过步骤“{title.zh_cn}”：{reason}", f'Skipped step "{title.en}": {reason}')
    return text(f"完成步骤“{title.zh_cn}”", f'Completed step "{title.en}"')


def escalated(title: I18nText, level: int, roles: Sequence[str]) -> I18nText:
    who = ", ".join(roles)
    return text(
        f"步骤“{title.zh_cn}”已逾期，第 {level} 级升级，已通知：{who}",
        f'Step "{title.en}" is overdue: escalated to level {level}, told {who}',
    )


def action_failed(action: str, error: str) -> I18nText:
    name = ACTION_NAMES[action]
    return text(f"自动操作“{name.zh_cn}”失败：{error}", f'Automatic action "{name.en}" failed: {error}')


def incident_link(public_url: str, incident_id: UUID) -> str:
    """The incident's staff page: a person clicks it in a browser (the API would answer 401)."""
    return f"{public_url}/ui/incidents/{incident_id}"


def _footer(lang: str, link: str) -> str:
    if lang == "zh-CN":
        return f"\n事件详情：{link}\n\n—— vendor-risk 合作方风险管理\n"
    return f"\nIncident details: {link}\n\n-- vendor-risk partner risk management\n"


def escalation_email(
    *,
    to: str,
    lang: str,
    incident_title: str,
    partner_name: str,
    step_title: I18nText,
    due_at: datetime,
    level: int,
    link: str,
) -> Email:
    step = step_title.get(lang)
    if lang == "zh-CN":
        subject = f"【逾期·第{level}级】{partner_name}：{incident_title}——{step}"
        body = (
            f"事件“{incident_title}”（合作方：{partner_name}）的步骤“{step}”"
            f"已于 {format_time(due_at, lang)} 到期，仍未完成。\n"
            "请立即处理该步骤；如不适用，请由风险负责人注明理由后跳过。\n"
        )
    else:
        subject = f"[Overdue, level {level}] {partner_name}: {incident_title} - {step}"
        body = (
            f'The step "{step}" of the incident "{incident_title}" (partner: {partner_name}) '
            f"was due {format_time(due_at, lang)} and is still open.\n"
            "Please deal with it now; if it does not apply, a risk owner can skip it with a reason.\n"
        )
    return Email(to=to, subject=subject, text=body + _footer(lang, link), lang=lang)


def opened_email(
    *,
    to: str,
    lang: str,
    incident_title: str,
    partner_name: str,
    severity: str,
    suspected: bool,
    reported_by: str,
    link: str,
) -> Email:
    sev = SEVERITY_NAMES[severity].get(lang)
    if lang == "zh-CN":
        kind = "疑似事件，待确认" if suspected else "新事件"
        subject = f"【{kind}】{partner_name}：{incident_title}"
        body = f"{reported_by} 就合作方“{partner_name}”报告了{kind}“{incident_title}”，严重程度：{sev}。\n"
        if suspected:
            body += "请风险负责人尽快确认（确认后系统将执行预案中的控制措施）或排除该事件。\n"
    else:
        kind = "Suspected incident, to confirm" if suspected else "New incident"
        subject = f"[{kind}] {partner_name}: {incident_title}"
        body = (
            f'{reported_by} reported "{incident_title}" about the partner {partner_name}, severity {sev}.\n'
        )
        if suspected:
            body += (
                "A risk owner should confirm it (the playbook's containment then runs) "
                "or dismiss it promptly.\n"
            )
    return Email(to=to, subject=subject, text=body + _footer(lang, link), lang=lang)


def notify_email(
    *,
    to: str,
    lang: str,
    incident_title: str,
    partner_name: str,
    step_title: I18nText,
    message: I18nText | None,
    link: str,
) -> Email:
    step = step_title.get(lang)
    if lang == "zh-CN":
        subject = f"【事件通知】{partner_name}：{incident_title}——{step}"
        body = f"事件“{incident_title}”（合作方：{partner_name}），步骤“{step}”。\n"
    else:
        subject = f"[Incident] {partner_name}: {incident_title} - {step}"
        body = f'Incident "{incident_title}" (partner: {partner_name}), step "{step}".\n'
    if message is not None:
        body += "\n" + message.get(lang) + "\n"
    return Email(to=to, subject=subject, text=body + _footer(lang, link), lang=lang)
