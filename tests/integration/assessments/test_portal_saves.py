"""Saving sections: nothing typed is lost — a stale tab meets a conflict page showing both
versions, 50 concurrent saves lose nothing that was acknowledged, bad input comes back
with what was typed."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tests.integration.assessments.conftest import (
    PNG,
    Client,
    NewPartner,
    Partner,
    Send,
    csrf_of,
    portal_path,
)
from tests.unit.assessments.conftest import LIBRARY
from vendor_risk.assessments import service
from vendor_risk.questionnaires.loader import load_file
from vendor_risk.questionnaires.models import Answer
from vendor_risk.settings import Settings


async def test_a_stale_tab_gets_a_conflict_showing_both_and_can_keep_its_answers(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    tab_a = Partner(client, sent["link"])
    tab_b = Partner(client, sent["link"], lang="en")
    stale = await tab_b.get("/s/0/data")
    version = int(re.search(r'name="answers_version" value="(\d+)"', stale.text).group(1))  # type: ignore[union-attr]

    assert (await tab_a.save(0, "data", {"dh-1": "aes256"})).status_code == 303
    # Another section saved meanwhile does not conflict: saves of other sections merge.
    assert (await tab_b.save(0, "access", {"ac-1": "yes"}, version=version)).status_code == 303

    conflict = await tab_b.save(
        0, "data", {"dh-1": "none"}, version=version, files={"dh-3": ("backup.png", PNG)}
    )
    assert conflict.status_code == 409
    assert "This section was changed in another window" in conflict.text
    assert "AES-256" in conflict.text  # theirs
    assert "Not encrypted" in conflict.text  # yours
    assert "The files you chose were uploaded" in conflict.text
    parts = await db.fetchval(
        "SELECT answers FROM assessment_parts WHERE assessment_id = $1", sent["assessment"]["id"]
    )
    assert parts["dh-1"]["value"] == "aes256"
    assert parts["ac-1"]["value"] == "yes"

    # "Keep mine" posts the typed answers again against the current version.
    fields: dict[str, Any] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', conflict.text):
        fields.setdefault(name, []).append(value)
    kept = await client.post(
        f"{tab_b.base}/s/0/data", params={"lang": "en"}, data=fields, follow_redirects=False
    )
    assert kept.status_code == 303
    parts = await db.fetchval(
        "SELECT answers FROM assessment_parts WHERE assessment_id = $1", sent["assessment"]["id"]
    )
    assert parts["dh-1"]["value"] == "none"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM assessment_evidence WHERE assessment_id = $1", sent["assessment"]["id"]
        )
        == 1
    )


async def test_bad_input_is_shown_again_with_what_was_typed_and_nothing_saved(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    response = await me.save(
        0, "access", {"ac-1": "yes", "ac-2": "一周"}, files={"ac-1": ("policy.pdf", b"MZ\x90\x00 not a pdf")}
    )
    assert response.status_code == 422
    assert "请输入数字。" in response.text
    assert 'value="一周"' in response.text
    assert "仅支持 PDF、PNG、JPEG 和 DOCX" in response.text
    assert 'id="error-summary"' in response.text
    assert (
        await db.fetchval("SELECT answers_version FROM assessments WHERE id = $1", sent["assessment"]["id"])
        == 0
    )
    # A 0-byte file (a failed download) is named as such, not "go back and try again".
    empty = await me.save(0, "access", {"ac-1": "yes", "ac-2": "1"}, files={"ac-1": ("policy.pdf", b"")})
    assert empty.status_code == 422
    assert "所选文件是空的" in empty.text


async def test_fifty_concurrent_saves_lose_nothing_that_was_acknowledged(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    """Fifty tabs each read a section of the 13-section questionnaire, then all save at
    once. Every acknowledged save must be either the final answer or seen by the save that
    replaced it: the audit trail of each section is an unbroken chain (each save's "before"
    is the previous save's "after"), with one link per acknowledged save."""
    template = load_file(LIBRARY / "baseline-security.yaml")
    targets = [
        (s.id, next(q for q in s.questions if q.type in ("yes_no", "single_choice") and q.show_if is None))
        for s in template.sections
    ]
    sent = await send((await new_partner())["id"], questionnaires=["baseline-security"])
    assessment_id = sent["assessment"]["id"]
    me = Partner(client, sent["link"])
    rng = random.Random(5)
    # Every tab has its page before any saves: the saves race for real.
    everyone_read = asyncio.Barrier(50)

    async def tab(n: int) -> tuple[str, str, int]:
        section, question = targets[n % len(targets)]
        page = await me.get(f"/s/0/{section}")
        await everyone_read.wait()
        version = int(re.search(r'name="answers_version" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
        comment = f"tab {n}"
        form = {
            "_csrf_token": csrf_of(page.text),
            "answers_version": str(version),
            "present": question.id,
            f"a:{question.id}": rng.choice([c.value for c in question.effective_choices()]),
            f"c:{question.id}": comment,
        }
        response = await client.post(f"{me.base}/s/0/{section}", data=form, follow_redirects=False)
        return section, comment, response.status_code

    results = await asyncio.gather(*(tab(n) for n in range(50)))
    assert {status for *_, status in results} <= {303, 409}
    acknowledged = [(section, comment) for section, comment, status in results if status == 303]
    # At least every section's first save goes through; tabs that read a section before
    # another tab saved it are told of the conflict instead.
    assert len(acknowledged) >= len(targets)

    events = await db.fetch(
        """
        SELECT before, after FROM audit_events
        WHERE entity_type = 'assessment' AND entity_id = $1 AND action = 'assessment.section_saved'
        ORDER BY seq
        """,
        assessment_id,
    )
    assert len(events) == len(acknowledged)
    final = await db.fetchval("SELECT answers FROM assessment_parts WHERE assessment_id = $1", assessment_id)
    for section, question in targets:
        chain = [e for e in events if e["after"]["section"] == section]
        assert len(chain) == sum(1 for s, _ in acknowledged if s == section)
        # Each event holds the answers it changed: replayed in order, every one's "before"
        # is what the events before it left, so no save overwrote one it had not seen.
        previous: dict[str, Any] = {}
        for event in chain:
            before, after = event["before"]["answers"], event["after"]["answers"]
            assert before == {k: previous[k] for k in before}, "a save overwrote one it had not seen"
            assert set(before) | set(after)
            assert all(previous.get(k) != v for k, v in after.items())
            for k in set(before) - set(after):
                previous.pop(k)
            previous.update(after)
        assert final[question.id] == previous[question.id]
        assert final[question.id]["comment"] in {c for s, c in acknowledged if s == section}


async def test_evidence_can_be_removed_before_submitting(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    uploaded = await me.save(
        0, "data", {"dh-1": "aes256", "dh-3": ["tested"]}, files={"dh-3": ("restore.png", PNG)}
    )
    assert uploaded.status_code == 303
    evidence_id = await db.fetchval(
        "SELECT id FROM assessment_evidence WHERE assessment_id = $1", sent["assessment"]["id"]
    )
    page = await client.get(uploaded.headers["location"])
    assert f'name="remove" value="{evidence_id}"' in page.text

    removed = await me.save(
        0, "data", {"dh-1": "aes256", "dh-3": ["tested"]}, extra=[("remove", str(evidence_id))]
    )
    assert removed.status_code == 303
    page = await client.get(removed.headers["location"])
    assert "已删除 restore.png" in page.text
    assert "SHA-256" not in page.text.split('id="q-dh-3"')[1].split("</div>\n  </div>")[0]
    # The file is kept for the record, but no longer counts as evidence.
    assert await db.fetchval(
        "SELECT removed_at IS NOT NULL FROM assessment_evidence WHERE id = $1", evidence_id
    )
    await me.save(0, "access", {"ac-1": "yes", "ac-2": "1"})
    refused = await me.submit()
    assert refused.status_code == 422
    assert "请上传证明材料：2.3" in refused.text


async def test_the_page_speaks_the_browsers_language_until_told_otherwise(
    client: Client, new_partner: NewPartner, send: Send
) -> None:
    sent = await send((await new_partner())["id"])
    path = Partner(client, sent["link"]).base
    english = await client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert "Test questionnaire" in english.text
    chosen = await client.get(path, params={"lang": "zh-CN"}, headers={"Accept-Language": "en-GB"})
    assert '<html lang="zh-CN">' in chosen.text
    assert f'href="{path}?lang=en"' in chosen.text  # the switch, on every page


async def test_a_save_overtaken_between_its_read_and_its_write_writes_nothing_and_is_redone(
    new_partner: NewPartner, send: Send, pool: asyncpg.Pool, settings: Settings
) -> None:
    """A save of answers alone reads without a lock and writes only if nothing changed the
    assessment since: overtaken, it writes nothing (no answer, no version, no audit event),
    and ``save_section`` redoes it under the lock, where saves of other sections merge."""
    sent = await send((await new_partner())["id"])
    token = portal_path(sent["link"]).rsplit("/", 1)[1]
    assessment_id = sent["assessment"]["id"]

    def answering(question_id: str, value: str) -> service.ReadAnswers:
        return lambda _: ({question_id: Answer(value=value)}, {})

    async def save(conn: asyncpg.Connection, section: str, read: service.ReadAnswers) -> service.SaveResult:
        return await service.save_section(
            conn,
            token,
            part_index=0,
            section_id=section,
            read=read,
            base_version=0,
            uploads=[],
            remove=None,
            settings=settings,
            now=datetime.now(UTC),
        )

    async with pool.acquire() as conn:
        _, stale = await service.open_portal(conn, token, datetime.now(UTC))
        assert (await save(conn, "data", answering("dh-1", "aes256"))).outcome == "saved"
        events = (
            "SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'assessment.section_saved'"
        )
        assert await conn.fetchval(events, assessment_id) == 1

        overtaken = await service._save_answers(
            conn, stale, 0, "access", answering("ac-1", "yes"), 0, (), None, settings
        )
        assert overtaken is None
        answers = await conn.fetchval(
            "SELECT answers FROM assessment_parts WHERE assessment_id = $1", assessment_id
        )
        assert "ac-1" not in answers
        assert (
            await conn.fetchval("SELECT answers_version FROM assessments WHERE id = $1", assessment_id) == 1
        )
        assert await conn.fetchval(events, assessment_id) == 1

        redone = await save(conn, "access", answering("ac-1", "yes"))
        assert (redone.outcome, redone.answers_version) == ("saved", 2)
        answers = await conn.fetchval(
            "SELECT answers FROM assessment_parts WHERE assessment_id = $1", assessment_id
        )
        assert (answers["dh-1"]["value"], answers["ac-1"]["value"]) == ("aes256", "yes")
        assert await conn.fetchval(events, assessment_id) == 2
