"""A partner whose due reassessment the sweep could not send says why on its page, in
Chinese and in English, and says nothing once the mark is cleared."""

from __future__ import annotations

import asyncpg

from tests.integration.assessments.conftest import NewPartner, User
from tests.integration.ui.conftest import OpenBrowser


async def test_the_partner_page_shows_why_the_reassessment_was_not_sent(
    browser: OpenBrowser, procurement: User, new_partner: NewPartner, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    me = await browser(procurement)
    page = f"/ui/partners/{partner['id']}"
    assert "重新评估未能发送" not in (await me.get(page, lang="zh-CN")).text

    await db.execute(
        """
        UPDATE partners SET reassessment_blocked = 'no_primary_contact',
               reassessment_blocked_at = '2026-11-30 02:25:00+00'
        WHERE id = $1
        """,
        partner["id"],
    )
    zh = (await me.get(page, lang="zh-CN")).text
    assert "<dt>重新评估未能发送</dt>" in zh
    assert "该合作方没有主要联系人，自 2026年11月30日 起到期的重新评估无法发送。" in zh
    assert "no_primary_contact" not in zh
    en = (await me.get(page, lang="en")).text
    assert "<dt>Reassessment not sent</dt>" in en
    assert "The partner has no primary contact" in en

    # A contact change clears the mark (migration 0130); the page no longer warns.
    await db.execute(
        "UPDATE partner_contacts SET is_primary = is_primary WHERE partner_id = $1", partner["id"]
    )
    assert "重新评估未能发送" not in (await me.get(page, lang="zh-CN")).text
