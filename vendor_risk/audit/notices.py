"""The audit trail's emails: a signed checkpoint to the auditors, a failed verify to the admins."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from vendor_risk.audit.chain import ChainBreak, Checkpoint
from vendor_risk.i18n import LANGUAGES, translator
from vendor_risk.notify.outbox import Email

if TYPE_CHECKING:
    from vendor_risk.audit.service import VerifyReport

# Lines listed in one email; the command line shows every break.
MAX_LISTED = 20


def _lang(locale: str | None) -> str:
    return locale if locale in LANGUAGES else "zh-CN"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _email(to: str, lang: str, subject: str, paragraphs: Sequence[str], listed: Sequence[str]) -> Email:
    t = translator(lang)
    signature = t("email_signature")
    text_list = [f"  - {line}" for line in listed]
    text = "\n\n".join(
        [paragraphs[0], *(["\n".join(text_list)] if listed else []), *paragraphs[1:], signature]
    )
    body = f"<p>{html.escape(paragraphs[0])}</p>"
    if listed:
        body += "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in listed) + "</ul>"
    body += "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[1:])
    body += f"<p>{html.escape(signature)}</p>"
    return Email(
        to=to,
        subject=subject,
        text=text + "\n",
        html=f'<!doctype html><html lang="{lang}"><body>{body}</body></html>',
        lang=lang,
    )


def describe_break(item: ChainBreak, lang: str) -> str:
    t = translator(lang)
    reason = t(f"audit_break_{item.code}")
    if item.until is not None and item.until != item.seq:
        return t("audit_break_range", seq=item.seq, until=item.until, reason=reason)
    return t("audit_break_one", seq=item.seq, reason=reason)


def checkpoint_email(to: str, locale: str | None, checkpoint: Checkpoint) -> Email:
    lang = _lang(locale)
    t = translator(lang)
    fields = t(
        "audit_checkpoint_fields",
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        signed_at=_iso(checkpoint.signed_at),
        key_id=checkpoint.key_id,
    )
    line = msgspec.json.encode(checkpoint).decode()
    return _email(
        to,
        lang,
        t("audit_checkpoint_subject", seq=checkpoint.seq),
        [t("audit_checkpoint_body"), fields, t("audit_checkpoint_howto"), line],
        [],
    )


def verify_failed_email(to: str, locale: str | None, report: VerifyReport) -> Email:
    lang = _lang(locale)
    t = translator(lang)
    return _email(
        to,
        lang,
        t("audit_verify_failed_subject", count=report.break_count),
        [t("audit_verify_failed_body", checked=report.events_checked), t("audit_verify_failed_action")],
        [describe_break(b, lang) for b in report.breaks[:MAX_LISTED]],
    )
