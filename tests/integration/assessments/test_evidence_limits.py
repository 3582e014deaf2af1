"""What a portal link may upload: only where a question takes evidence, within the
assessment's quota, and under the extension of the file's real type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.integration.assessments.conftest import PDF, PNG, Client, NewPartner, Partner, Send, User
from vendor_risk.app import create_app
from vendor_risk.settings import Settings


async def evidence_rows(db: asyncpg.Connection, assessment_id: str) -> list[Any]:
    return await db.fetch(
        """
        SELECT e.question_id, d.filename, d.content_type FROM assessment_evidence e
        JOIN documents d ON d.id = e.document_id WHERE e.assessment_id = $1 ORDER BY e.created_at
        """,
        assessment_id,
    )


async def test_no_upload_on_a_question_without_evidence(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    me = Partner(client, sent["link"])
    # ac-2 (a number) has `evidence: none`: the page offers no file field, a forged post is refused.
    page = await me.get("/s/0/access")
    assert 'name="f:ac-2"' not in page.text
    refused = await me.save(0, "access", {"ac-1": "yes", "ac-2": "2"}, files={"ac-2": ("x.pdf", PDF)})
    assert refused.status_code == 422
    assert "此问题不需要上传证明材料" in refused.text
    assert await evidence_rows(db, sent["assessment"]["id"]) == []
    # ac-1 takes optional evidence.
    kept = await me.save(0, "access", {"ac-1": "yes", "ac-2": "2"}, files={"ac-1": ("policy.pdf", PDF)})
    assert kept.status_code == 303, kept.text


async def test_evidence_names_take_the_real_type(
    client: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection, auditor: User
) -> None:
    sent = await send((await new_partner())["id"])
    aid = sent["assessment"]["id"]
    me = Partner(client, sent["link"])
    saved = await me.save(0, "access", {"ac-1": "yes"}, files={"ac-1": ("evil.html", PDF)})
    assert saved.status_code == 303, saved.text
    saved = await me.save(0, "access", {"ac-1": "yes"}, files={"ac-1": ("icon.svg", PNG)})
    assert saved.status_code == 303, saved.text
    rows = await evidence_rows(db, aid)
    assert [(r["filename"], r["content_type"]) for r in rows] == [
        ("evil.pdf", "application/pdf"),
        ("icon.png", "image/png"),
    ]
    detail = (await client.get(f"/api/v1/assessments/{aid}", headers=auditor["headers"])).json()
    evidence = detail["evidence"][0]
    download = await client.get(
        f"/api/v1/assessments/{aid}/evidence/{evidence['id']}", headers=auditor["headers"]
    )
    assert download.status_code == 200
    assert "evil.pdf" in download.headers["content-disposition"]
    assert download.headers["content-type"].startswith("application/pdf")


@pytest.fixture
async def tight(settings: Settings) -> AsyncIterator[Client]:
    """The same service with a quota of three files or 1 MiB per assessment."""
    own = msgspec.structs.replace(settings, evidence_max_files=3, evidence_max_mb=1)
    async with AsyncTestClient(app=create_app(own), base_url="http://testserver.local") as client:
        yield client


async def test_the_evidence_quota_counts_files_and_bytes(
    tight: Client, new_partner: NewPartner, send: Send, db: asyncpg.Connection
) -> None:
    sent = await send((await new_partner())["id"])
    aid = sent["assessment"]["id"]
    me = Partner(tight, sent["link"])
    for n in range(2):
        saved = await me.save(0, "access", {"ac-1": "yes"}, files={"ac-1": (f"p{n}.pdf", PDF)})
        assert saved.status_code == 303, saved.text
    # A removed file still counts: its document is kept for the record.
    first = await db.fetchval(
        "SELECT id FROM assessment_evidence WHERE assessment_id = $1 ORDER BY created_at", aid
    )
    removed = await me.save(0, "access", {"ac-1": "yes"}, extra=[("remove", str(first))])
    assert removed.status_code == 303, removed.text
    # One more fits (3 in all); then two at once would pass the quota and neither is stored.
    assert (await me.save(0, "access", {"ac-1": "yes"}, files={"ac-1": ("p2.pdf", PDF)})).status_code == 303
    refused = await me.save(0, "access", {"ac-1": "yes"}, files={"ac-1": ("p3.pdf", PDF)})
    assert refused.status_code == 422
    assert "证明材料已达到上限" in refused.text
    assert len(await evidence_rows(db, aid)) == 3

    # Bytes: a fresh assessment with one file just over 1 MiB.
    other = await send((await new_partner())["id"])
    big = PDF + b"0" * (2**20)
    refused = await Partner(tight, other["link"]).save(
        0, "access", {"ac-1": "yes"}, files={"ac-1": ("big.pdf", big)}
    )
    assert refused.status_code == 422
    assert await evidence_rows(db, other["assessment"]["id"]) == []
