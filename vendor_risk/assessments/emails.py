"""The emails of the assessment flow, in the recipient's language (text and HTML parts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from vendor_risk.assessments.rendering import render
from vendor_risk.i18n import translator
from vendor_risk.notify.outbox import Email

# Dates in emails are calendar dates; times are shown in China Standard Time, the zone of
# the firms the product was shaped for, and say so.
_CST_LABEL = {"zh-CN": "北京时间", "en": "China Standard Time"}


def format_date(value: date, lang: str) -> str:
    if lang == "zh-CN":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.strftime("%d %b %Y").lstrip("0")


def format_time(value: datetime, lang: str) -> str:
    local = value.astimezone(ZoneInfo("Asia/Shanghai"))
    if lang == "zh-CN":  # full-width parentheses after Chinese text
        return f"{format_date(local.date(), lang)} {local:%H:%M}（{_CST_LABEL[lang]}）"
    return f"{format_date(local.date(), lang)} {local:%H:%M} ({_CST_LABEL['en']})"


def _email(
    name: str, to: str, lang: str, subject_key: str, subject_values: dict[str, Any], **context: Any
) -> Email:
    t = translator(lang)
    subject = t(subject_key, **subject_values)
    values = {"t": t, "lang": lang, "subject": subject, **context}
    return Email(
        to=to,
        subject=subject,
        text=render(f"email/{name}.txt", values),
        html=render(f"email/{name}.html", values),
        lang=lang,
        # A partner's email names whom to contact; pressing Reply must reach that person.
        reply_to=context.get("sender_email") or None,
    )


def invitation(
    *,
    to: str,
    lang: str,
    recipient_name: str,
    partner_name: str,
    questionnaires: list[str],
    due_on: date,
    message: str,
    link: str,
    expires: datetime,
    sender_name: str,
    sender_email: str,
    prefilled_from: datetime | None = None,
) -> Email:
    """The email that carries the portal link (the only place the token is ever written);
    ``prefilled_from``, when the answers submitted then are pre-filled, makes it say so."""
    due = format_date(due_on, lang)
    return _email(
        "invitation",
        to,
        lang,
        "email_invite_subject",
        {"partner": partner_name, "due_on": due},
        recipient_name=recipient_name,
        partner_name=partner_name,
        questionnaires=questionnaires,
        due_on=due,
        message=message,
        link=link,
        expires=format_time(expires, lang),
        sender_name=sender_name,
        sender_email=sender_email,
        prefilled_on=format_date(prefilled_from.date(), lang) if prefilled_from else None,
    )


def reminder(
    *,
    to: str,
    lang: str,
    recipient_name: str,
    partner_name: str,
    due_on: date,
    days: int,
    overdue: bool,
    sent_on: date,
    sender_name: str,
    sender_email: str,
) -> Email:
    due = format_date(due_on, lang)
    return _email(
        "reminder",
        to,
        lang,
        "email_overdue_subject" if overdue else "email_reminder_subject",
        {"partner": partner_name, "due_on": due},
        recipient_name=recipient_name,
        partner_name=partner_name,
        due_on=due,
        days=days,
        overdue=overdue,
        sent_on=format_date(sent_on, lang),
        sender_name=sender_name,
        sender_email=sender_email,
    )


def changes_requested(
    *,
    to: str,
    lang: str,
    recipient_name: str,
    partner_name: str,
    note: str,
    sender_name: str,
    sender_email: str,
) -> Email:
    return _email(
        "changes_requested",
        to,
        lang,
        "email_changes_subject",
        {"partner": partner_name},
        recipient_name=recipient_name,
        partner_name=partner_name,
        note=note,
        sender_name=sender_name,
        sender_email=sender_email,
    )


def submitted(
    *,
    to: str,
    lang: str,
    partner_name: str,
    kind: str,
    submitter: str,
    submitted_at: datetime,
    score: float | None,
    opened: int,
    critical: int,
    review_url: str,
) -> Email:
    """Tells the risk owner a submission awaits review."""
    t = translator(lang)
    shown = "—" if score is None else f"{score:g}"
    return _email(
        "submitted",
        to,
        lang,
        "email_submitted_subject",
        {"partner": partner_name, "score": shown},
        partner_name=partner_name,
        kind_label=t(f"assessment_kind_{kind}"),
        submitter=submitter,
        submitted_at=format_time(submitted_at, lang),
        score=shown,
        opened=opened,
        critical=critical,
        review_url=review_url,
    )


def escalation(
    *, to: str, lang: str, partner_name: str, kind: str, due_on: date, recipient: str, url: str
) -> Email:
    """Tells the partner's owner an assessment is overdue, linking to its staff page."""
    t = translator(lang)
    due = format_date(due_on, lang)
    return _email(
        "escalation",
        to,
        lang,
        "email_escalation_subject",
        {"partner": partner_name, "due_on": due},
        partner_name=partner_name,
        kind_label=t(f"assessment_kind_{kind}"),
        due_on=due,
        recipient=recipient,
        url=url,
    )
