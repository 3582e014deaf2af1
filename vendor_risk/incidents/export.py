"""The PIPL art. 57 notification record as a Markdown document for the authority (pure).

Headings, labels and category names follow the language; what the risk owner wrote is
shown as written. Times are China Standard Time, the authority's own clock, in both
languages. Anything not yet recorded says so, so that a gap is seen before the document
is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from vendor_risk.incidents.models import Incident, NotificationRecord
from vendor_risk.structs import I18nText

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
LANGS = ("zh-CN", "en")

_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "个人信息安全事件通知记录",
        "basis": "依据《中华人民共和国个人信息保护法》第五十七条编制。",
        "incident": "事件",
        "incident_id": "事件编号",
        "partner": "涉事合作方（受托人）",
        "detected_at": "发现时间",
        "severity": "严重程度",
        "status": "事件状态",
        "exported_at": "导出时间",
        "s1": "一、发生或者可能发生泄露、篡改、丢失的个人信息种类",
        "categories": "信息种类",
        "persons": "涉及个人数量（约）",
        "affected_persons": "涉及个人范围",
        "s2": "二、原因",
        "s3": "三、可能造成的危害",
        "s4": "四、已采取的补救措施",
        "s5": "五、个人可以采取的减轻危害的措施",
        "s6": "六、个人信息处理者的联系方式",
        "s7": "七、向履行个人信息保护职责的部门报告情况",
        "authority": "报告部门",
        "authority_at": "报告时间",
        "authority_how": "报告方式",
        "s8": "八、通知个人情况",
        "persons_at": "通知时间",
        "persons_how": "通知方式",
        "not_notified": "未通知个人的理由（第五十七条第二款）",
        "missing": "（未填写）",
        "not_yet": "尚未报告",
        "not_notified_yet": "尚未通知",
        "time_zone": "北京时间",
    },
    "en": {
        "title": "Personal information security incident: notification record",
        "basis": "Prepared under Article 57 of the Personal Information Protection Law of the PRC.",
        "incident": "Incident",
        "incident_id": "Incident number",
        "partner": "Partner concerned (entrusted processor)",
        "detected_at": "Detected",
        "severity": "Severity",
        "status": "Status",
        "exported_at": "Exported",
        "s1": "1. Categories of personal information leaked, altered or lost, or that may be",
        "categories": "Categories",
        "persons": "Persons affected (approximately)",
        "affected_persons": "Who they are",
        "s2": "2. Cause",
        "s3": "3. Possible harm",
        "s4": "4. Remedial measures taken",
        "s5": "5. What individuals can do to reduce the harm",
        "s6": "6. How to contact the personal information handler",
        "s7": "7. Report to the authority responsible for personal information protection",
        "authority": "Authority",
        "authority_at": "Reported",
        "authority_how": "How",
        "s8": "8. Notification of the persons affected",
        "persons_at": "Notified",
        "persons_how": "How",
        "not_notified": "Why persons were not notified (art. 57, para. 2)",
        "missing": "_(not recorded)_",
        "not_yet": "not reported yet",
        "not_notified_yet": "not notified yet",
        "time_zone": "China Standard Time",
    },
}

_SEVERITY = {
    "zh-CN": {"low": "低", "medium": "中", "high": "高", "critical": "严重"},
    "en": {"low": "low", "medium": "medium", "high": "high", "critical": "critical"},
}
_STATUS = {
    "zh-CN": {"suspected": "疑似，待确认", "open": "处置中", "closed": "已关闭", "dismissed": "已排除"},
    "en": {
        "suspected": "suspected, to be confirmed",
        "open": "open",
        "closed": "closed",
        "dismissed": "dismissed",
    },
}

_INLINE = re.compile(r"([\\`*_\[\]<>|])")
_BLOCK_MARK = re.compile(r"^(\s*)([#>+=-])")
_ORDERED_MARK = re.compile(r"^(\s*\d+)([.)])")


def escape(text: str) -> str:
    """Show ``text`` literally: no heading, list, link or HTML can come from what users typed."""
    lines = []
    for line in text.strip().splitlines():
        line = _INLINE.sub(r"\\\1", line)
        line = _BLOCK_MARK.sub(r"\1\\\2", line)
        lines.append(_ORDERED_MARK.sub(r"\1\\\2", line))
    return "\n".join(lines)


def format_time(moment: datetime, lang: str) -> str:
    local = moment.astimezone(CHINA_STANDARD_TIME)
    if lang == "zh-CN":  # full-width punctuation after Chinese text
        return f"{local:%Y-%m-%d %H:%M}（{_LABELS[lang]['time_zone']}，UTC+8）"
    return f"{local:%Y-%m-%d %H:%M} ({_LABELS[lang]['time_zone']}, UTC+8)"


def notification_record_markdown(
    incident: Incident,
    record: NotificationRecord,
    category_names: Mapping[str, I18nText],
    lang: str,
    exported_at: datetime,
) -> str:
    """The art. 57 record of ``incident`` in ``lang`` (``zh-CN`` or ``en``) as Markdown.

    ``category_names`` maps category codes to their names; an unknown code is shown as is.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}")
    t = _LABELS[lang]
    missing = t["missing"]
    sep = "：" if lang == "zh-CN" else ": "

    def item(label: str, value: str | None) -> str:
        # A line break inside a list item would end the item and start a paragraph.
        return f"- {label}{sep}{' '.join(value.splitlines()) if value else missing}"

    def block(heading: str, text: str) -> list[str]:
        return [f"## {heading}", "", escape(text) if text.strip() else missing, ""]

    def when(moment: datetime | None, fallback: str) -> str:
        return format_time(moment, lang) if moment else fallback

    names = [
        escape(category_names[code].get(lang)) if code in category_names else escape(code)
        for code in record.categories
    ]
    if record.persons_affected_approx is None:
        persons = None
    elif lang == "zh-CN":
        persons = f"约 {record.persons_affected_approx:,} 人"
    else:
        persons = f"about {record.persons_affected_approx:,}"

    lines = [
        f"# {t['title']}",
        "",
        f"> {t['basis']}",
        "",
        item(t["incident"], escape(incident.title)),
        item(t["incident_id"], str(incident.id)),
        item(t["partner"], escape(incident.partner_name)),
        item(t["detected_at"], format_time(incident.detected_at, lang)),
        item(t["severity"], _SEVERITY[lang][incident.severity]),
        item(t["status"], _STATUS[lang][incident.status]),
        item(t["exported_at"], format_time(exported_at, lang)),
        "",
        f"## {t['s1']}",
        "",
        item(t["categories"], ("、" if lang == "zh-CN" else ", ").join(names)),
        item(t["persons"], persons),
        item(t["affected_persons"], escape(record.affected_persons)),
        "",
        *block(t["s2"], record.cause),
        *block(t["s3"], record.possible_harm),
        *block(t["s4"], record.remedial_measures),
        *block(t["s5"], record.individual_measures),
        *block(t["s6"], record.contact),
        f"## {t['s7']}",
        "",
        item(t["authority"], escape(record.authority_name)),
        item(t["authority_at"], when(record.authority_notified_at, t["not_yet"])),
        item(t["authority_how"], escape(record.authority_notified_how)),
        "",
        f"## {t['s8']}",
        "",
        item(t["persons_at"], when(record.persons_notified_at, t["not_notified_yet"])),
        item(t["persons_how"], escape(record.persons_notified_how)),
    ]
    if record.persons_not_notified_reason.strip():
        lines.append(item(t["not_notified"], escape(record.persons_not_notified_reason)))
    return "\n".join(lines) + "\n"
