"""Staff pages of notifications.

The development mailbox (below) is only routed when ``Settings.dev_mailbox`` is on, which
only ``vendor-risk up`` does, with no SMTP server configured; ``serve`` never has it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from litestar import Request, Response, get

from vendor_risk.auth.guards import requires_admin
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.notify import devmail
from vendor_risk.pagination import decode_cursor, encode_cursor
from vendor_risk.ui.web import page, with_query

# --- the development mailbox ------------------------------------------------------------------------

MAIL_PAGE_SIZE: Final = 50
_LINK = re.compile(r"https?://[^\s<>\"'（）]+")


@get("/dev/mail", guards=[requires_admin], name="ui:dev-mail")
async def dev_mail(
    request: Request[Any, Any, Any], db: DbConnection, cursor: str | None = None
) -> Response[str]:
    """Every email `up` kept instead of sending, newest first (development only)."""
    after = decode_cursor(cursor, datetime, UUID)
    rows = await devmail.list_mail(db, after, MAIL_PAGE_SIZE + 1)
    items = rows[:MAIL_PAGE_SIZE]
    more = None
    if len(rows) > MAIL_PAGE_SIZE:
        more = with_query("/ui/dev/mail", {"cursor": encode_cursor(items[-1].captured_at, items[-1].id)})
    return page(request, "notify/dev_mail", items=items, more=more)


@get("/dev/mail/{mail_id:uuid}", guards=[requires_admin], name="ui:dev-mail-message")
async def dev_mail_message(request: Request[Any, Any, Any], db: DbConnection, mail_id: UUID) -> Response[str]:
    """One kept email as its text part, with its links to click (the portal link included)."""
    mail = await devmail.get_mail(db, mail_id)
    if mail is None:
        raise not_found("email", mail_id)
    links = list(dict.fromkeys(m.rstrip(".,;:)。，") for m in _LINK.findall(mail.body_text)))
    return page(request, "notify/dev_mail_message", mail=mail, links=links)


DEV_MAIL_PAGES = [dev_mail, dev_mail_message]
