"""Admin pages of the notify domain.

Webhooks and the outbox (console-incidents): subscribe a URL to event types, rotate its
signing secret (shown once, on the page that answers the post), disable it; the outbox's
messages with their last error, dead letters first to hand, and a retry for each. Every
write carries the API's own admin guard and calls the same service function.

The development mailbox (at the end) is only routed when ``Settings.dev_mailbox`` is on, which
only ``vendor-risk up`` does, with no SMTP server configured; ``serve`` never has it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final, get_args
from uuid import UUID

from litestar import Request, Response, get, post

from vendor_risk.auth.guards import requires_admin
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem, not_found
from vendor_risk.notify import devmail, service
from vendor_risk.notify import repository as repo
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.notify.events import ALL_EVENTS, EVENT_TYPES
from vendor_risk.notify.models import Channel, OutboxStatus, WebhookCreate
from vendor_risk.pagination import created_after, decode_cursor, encode_cursor, paged
from vendor_risk.settings import Settings
from vendor_risk.ui.forms import FORM_ERROR, Form, read_form
from vendor_risk.ui.web import page, page_lang, see_other, with_query

# --- webhooks and the outbox (console-incidents) ------------------------------------------------

PAGE_SIZE: Final = 25
# More subscriptions than a firm keeps: the page lists them all.
MAX_WEBHOOKS: Final = 500
STATUSES: Final = get_args(OutboxStatus)
CHANNELS: Final = get_args(Channel)
_REFUSED: Final = {"url": "wh_url_refused", "events": "form_choose"}


def _event_choices(t: Any) -> list[tuple[str, str]]:
    return [
        (ALL_EVENTS, t("wh_all_events")),
        *((e, t("wk_event_" + e.replace(".", "_"))) for e in sorted(EVENT_TYPES)),
    ]


async def _webhooks_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    form: Form,
    *,
    status_code: int = 200,
    secret: tuple[Any, str] | None = None,
) -> Response[str]:
    webhooks = await repo.list_webhooks(db, None, MAX_WEBHOOKS)
    return page(
        request,
        "notify/webhooks",
        status_code=status_code,
        webhooks=webhooks,
        form=form,
        event_choices=_event_choices(form.t),
        secret=secret,
    )


@get("/admin/webhooks", guards=[requires_admin], name="ui:webhooks")
async def webhooks_page(request: Request[Any, Any, Any], db: DbConnection) -> Response[str]:
    """The live subscriptions and the form that adds one."""
    return await _webhooks_page(request, db, Form(page_lang(request)))


@post("/admin/webhooks", guards=[requires_admin], name="ui:create-webhook")
async def create_webhook(
    request: Request[Any, Any, Any], db: DbConnection, settings: Settings
) -> Response[str]:
    """Subscribe a URL; the answer shows the signing secret, this once only."""
    form = await read_form(request)
    data = form.decode(
        WebhookCreate,
        {"url": form.get("url"), "events": form.getlist("events"), "description": form.get("description")},
    )
    if data is None:
        return await _webhooks_page(request, db, form, status_code=400)
    try:
        created = await service.create_webhook(
            db, actor_of(request), data, allow_private=settings.allow_private_webhooks
        )
    except Problem as exc:
        extra = exc.extra if isinstance(exc.extra, dict) else {}
        for item in extra.get("errors", []):
            name = str(item.get("field", ""))
            form.error(name or FORM_ERROR, form.t(_REFUSED.get(name, "form_invalid")))
        if not form.errors:
            raise
        return await _webhooks_page(request, db, form, status_code=400)
    return await _webhooks_page(
        request, db, Form(form.lang), status_code=201, secret=(created.webhook, created.secret)
    )


@post("/admin/webhooks/{webhook_id:uuid}/rotate", guards=[requires_admin], name="ui:rotate-webhook")
async def rotate_webhook(
    request: Request[Any, Any, Any], db: DbConnection, webhook_id: UUID
) -> Response[str]:
    """A new signing secret, shown this once; the old one stops at once."""
    rotated = await service.rotate_secret(db, actor_of(request), webhook_id)
    return await _webhooks_page(
        request, db, Form(page_lang(request)), secret=(rotated.webhook, rotated.secret)
    )


@post(
    "/admin/webhooks/{webhook_id:uuid}/disable",
    guards=[requires_admin],
    name="ui:disable-webhook",
    status_code=303,
)
async def disable_webhook(
    request: Request[Any, Any, Any], db: DbConnection, webhook_id: UUID
) -> Response[Any]:
    """Stop the subscription; its undelivered messages are given up."""
    await service.delete_webhook(db, actor_of(request), webhook_id)
    return see_other("/ui/admin/webhooks")


@get("/admin/outbox", guards=[requires_admin], name="ui:outbox")
async def outbox_page(
    request: Request[Any, Any, Any],
    db: DbConnection,
    status: str | None = "dead",
    channel: str | None = None,
    cursor: str | None = None,
) -> Response[str]:
    """Messages newest first with attempts and the last error; dead letters by default."""
    status = status if status in STATUSES else None
    channel = channel if channel in CHANNELS else None
    rows = await repo.list_outbox(
        db, status=status, channel=channel, after=created_after(cursor), limit=PAGE_SIZE + 1
    )
    listed = paged(rows, PAGE_SIZE)
    params = {"status": status or "all", "channel": channel}
    more = (
        with_query("/ui/admin/outbox", {**params, "cursor": listed.next_cursor})
        if listed.next_cursor
        else None
    )
    return page(
        request,
        "notify/outbox",
        items=listed.items,
        more=more,
        status=status or "all",
        channel=channel or "",
        statuses=STATUSES,
        channels=CHANNELS,
    )


@post(
    "/admin/outbox/{message_id:uuid}/retry", guards=[requires_admin], name="ui:retry-message", status_code=303
)
async def retry_message(request: Request[Any, Any, Any], db: DbConnection, message_id: UUID) -> Response[Any]:
    """Give a dead message fresh attempts, due now, and kick the worker."""
    await service.retry_message(db, actor_of(request), message_id)
    await kick_outbox(request.app.state.redis)
    return see_other("/ui/admin/outbox?status=dead")


PAGES = [webhooks_page, create_webhook, rotate_webhook, disable_webhook, outbox_page, retry_message]


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
