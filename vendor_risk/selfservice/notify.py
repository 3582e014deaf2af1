"""Telling the staff what a partner did in self-service: one email (through the outbox,
sealed, in each recipient's language) to the partner's owner, or to every risk owner when
the partner has none, linking to the partner page's section where they act on it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from vendor_risk.assessments.rendering import render
from vendor_risk.i18n import translator
from vendor_risk.notify.outbox import Email, enqueue_email
from vendor_risk.settings import Settings

RECIPIENTS = """
SELECT p.name AS partner_name, u.id, u.email, u.name, u.locale
FROM partners p
JOIN users u ON u.disabled_at IS NULL
    AND (u.id = p.owner_id
         OR (u.role = 'risk_owner' AND NOT EXISTS (
                 SELECT 1 FROM users o WHERE o.id = p.owner_id AND o.disabled_at IS NULL)))
WHERE p.id = $1
ORDER BY u.email
"""


async def notify_partner_staff(
    conn: asyncpg.Connection,
    settings: Settings,
    partner_id: UUID,
    *,
    topic: str,
    dedupe_key: str,
    what: str,
    anchor: str,
    **values: Any,
) -> int:
    """Queue the email ``what`` (catalogue keys ``{what}_subject`` and ``{what}_body``,
    filled with the partner's name and ``values``) to the staff who act on it; each
    recipient once per ``dedupe_key``. Returns how many were queued."""
    queued = 0
    for row in await conn.fetch(RECIPIENTS, partner_id):
        lang = row["locale"]
        t = translator(lang)
        filled = dict(values)
        if "kind" in filled:
            filled["kind"] = t(f"ss_cert_kind_{filled['kind']}")
        subject = t(f"{what}_subject", partner=row["partner_name"], **filled)
        context = {
            "t": t,
            "lang": lang,
            "subject": subject,
            "name": row["name"],
            "body": t(f"{what}_body", partner=row["partner_name"], **filled),
            "link": f"{settings.public_url}/ui/partners/{partner_id}#{anchor}",
        }
        sent = await enqueue_email(
            conn,
            topic=topic,
            email=Email(
                to=row["email"],
                subject=subject,
                text=render("selfservice/email_staff.txt", context),
                html=render("selfservice/email_staff.html", context),
                lang=lang,
            ),
            dedupe_key=f"{dedupe_key}:{row['id']}",
        )
        queued += sent is not None
    return queued
