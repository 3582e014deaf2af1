"""The emails of sign-in: invitation, password reset and lockout notice, in the user's
language, each linking to a ``/ui`` page. They go through the outbox like every email."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vendor_risk.assessments.emails import format_time
from vendor_risk.assessments.rendering import render
from vendor_risk.i18n import translator
from vendor_risk.notify.outbox import Email


def _email(template: str, to: str, lang: str, subject_key: str, **context: Any) -> Email:
    t = translator(lang)
    subject = t(subject_key)
    values = {"t": t, "lang": lang, "subject": subject, **context}
    return Email(
        to=to,
        subject=subject,
        text=render(f"auth/email_{template}.txt", values),
        html=render(f"auth/email_{template}.html", values),
        lang=lang,
    )


def invitation(
    *, to: str, lang: str, name: str, role: str, inviter: str, link: str, expires: datetime
) -> Email:
    t = translator(lang)
    return _email(
        "invitation",
        to,
        lang,
        "auth_email_invitation_subject",
        name=name,
        role=t(f"role_{role}"),
        inviter=inviter,
        link=link,
        expires=format_time(expires, lang),
    )


def reset(*, to: str, lang: str, name: str, link: str, expires: datetime) -> Email:
    return _email(
        "reset",
        to,
        lang,
        "auth_email_reset_subject",
        name=name,
        link=link,
        expires=format_time(expires, lang),
    )


def lockout(*, to: str, lang: str, name: str, until: datetime, failures: int, reset_link: str) -> Email:
    return _email(
        "lockout",
        to,
        lang,
        "auth_email_lockout_subject",
        name=name,
        until=format_time(until, lang),
        failures=failures,
        link=reset_link,
    )
