"""With the development mailbox on, an admin reads what `up` kept instead of sending: the
first questionnaire's email and its working link, without any mail server."""

from __future__ import annotations

import re

import asyncpg

from tests.helpers import Mailbox
from tests.integration.assessments.conftest import Client, NewPartner, Partner, Send, User, deliver
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.settings import Settings


async def test_an_admin_reads_the_kept_invitation_and_opens_its_link(
    browser: OpenBrowser,
    client: Client,
    new_partner: NewPartner,
    send: Send,
    make_user: object,
    risk_owner: User,
    pool: asyncpg.Pool,
    settings: Settings,
    smtp: tuple[Mailbox, int],
) -> None:
    partner = await new_partner()
    await send(partner["id"])
    primary = partner["contacts"][0]["email"]
    await deliver(pool, settings)
    assert smtp[0].to(primary) == []  # kept, not sent

    admin = await make_user("admin", locale="zh-CN")  # type: ignore[operator]
    me = await browser(admin)
    box = await me.get("/ui/dev/mail")
    assert box.status_code == 200, box.text
    assert "仅供开发使用" in box.text
    assert primary in box.text
    assert 'href="/ui/dev/mail"' in box.text  # in the navigation, for admins
    opened = re.search(r'href="(/ui/dev/mail/[0-9a-f-]{36})">[^<]*' + re.escape(partner["name"]), box.text)
    assert opened, box.text
    message = await me.get(opened.group(1))
    assert message.status_code == 200
    link = re.search(r'href="(http://testserver\.local/q/[A-Za-z0-9_-]{43})"', message.text)
    assert link, message.text
    them = Partner(client, link.group(1))
    assert (await them.get()).status_code == 200
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM dev_mail d JOIN outbox o ON o.id = d.outbox_id WHERE o.status = 'delivered'"
            " AND d.recipient = $1",
            primary,
        )
        == 1
    )

    # Admins only: the API's admin guard.
    other = await browser(risk_owner)
    assert (await other.get("/ui/dev/mail")).status_code == 403
    assert 'href="/ui/dev/mail"' not in (await other.get("/ui")).text
