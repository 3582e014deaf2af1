"""Certificates from self-service: uploaded with the file encrypted at rest (type sniffed,
size limited), verified or rejected on the partner page (a stale decision gets the
conflict page), downloadable only by the partner's own contact and staff, and swept for
expiry like agreements (each alert once)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.integration.assessments.conftest import PDF, NewPartner, User, csrf_of
from tests.integration.selfservice.conftest import Contact, SignIn
from tests.integration.ui.conftest import OpenBrowser
from vendor_risk.db import create_pool
from vendor_risk.documents import MAX_DOCUMENT_BYTES
from vendor_risk.selfservice.certificates import sweep_certificates
from vendor_risk.settings import Settings


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'id="f-{name}-error" role="alert">([^<]*)<', html)
    return found.group(1) if found else None


def fields(**overrides: str) -> dict[str, str]:
    return {
        "kind": "iso27001",
        "issuer": "中国质量认证中心",
        "number": "ISMS-2026-0042",
        "scope": "云端记账平台的开发与运维",
        "issued_on": "2026-01-10",
        "expires_on": (datetime.now(UTC).date() + timedelta(days=400)).isoformat(),
    } | overrides


async def upload(me: Contact, data: dict[str, str], file: tuple[str, bytes] | None) -> httpx.Response:
    page = await me.get("/p/certificates/new")
    assert page.status_code == 200
    return await me.request(
        "POST",
        "/p/certificates",
        params={"lang": me.lang},
        data={"_csrf_token": csrf_of(page.text), **data},
        files={"file": file} if file else None,
    )


async def test_upload_verify_and_download(
    new_partner: NewPartner,
    sign_in: SignIn,
    browser: OpenBrowser,
    procurement: User,
    risk_owner: User,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"])

    # Refusals beside their fields, everything typed kept, nothing stored.
    refused = await upload(me, fields(expires_on="2020-01-01"), ("cert.pdf", PDF))
    assert refused.status_code == 400
    assert field_error(refused.text, "expires_on") == "证书已过期，请上传有效期内的证书。"
    assert 'value="ISMS-2026-0042"' in refused.text
    refused = await upload(me, fields(), ("cert.pdf", b"<html>not a pdf</html>"))
    assert refused.status_code == 415
    assert field_error(refused.text, "file")
    refused = await upload(me, fields(), None)
    assert refused.status_code == 400
    assert field_error(refused.text, "file")
    too_big = b"%PDF-1.7\n" + b"0" * MAX_DOCUMENT_BYTES
    refused = await upload(me, fields(), ("big.pdf", too_big))
    assert refused.status_code == 413
    assert await db.fetchval("SELECT count(*) FROM certificates WHERE partner_id = $1", partner["id"]) == 0

    done = await upload(me, fields(), ("证书.html", PDF))
    assert done.status_code == 303
    home = await me.get("/p", done="certificate_uploaded")
    assert "ISMS-2026-0042" in home.text
    assert "待核验" in home.text
    row = await db.fetchrow(
        "SELECT c.id, c.status, d.filename, d.ciphertext, d.purpose FROM certificates c"
        " JOIN documents d ON d.id = c.document_id WHERE c.partner_id = $1",
        partner["id"],
    )
    assert row["status"] == "submitted"
    assert row["filename"].endswith(".pdf")  # stored under its real type
    assert PDF not in row["ciphertext"]  # encrypted at rest
    own = await me.get(f"/p/certificates/{row['id']}/file")
    assert own.status_code == 200
    assert own.content == PDF

    # The owner (a risk owner) is told; the event is audited.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'certificate.uploaded' AND payload->>'to' = $1",
            risk_owner["email"],
        )
        == 1
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = 'certificate.uploaded' AND entity_id = $1",
            str(row["id"]),
        )
        == 1
    )

    staff = await browser(procurement)
    page = await staff.get(f"/ui/partners/{partner['id']}", lang="zh-CN")
    assert "ISMS-2026-0042" in page.text
    assert "核验通过" in page.text
    staff_file = await staff.get(f"/ui/partners/{partner['id']}/certificates/{row['id']}/file")
    assert staff_file.content == PDF
    csrf = csrf_of(page.text)
    decided = await staff.post(
        f"/ui/partners/{partner['id']}/certificates/{row['id']}/decision",
        {"_csrf_token": csrf, "decision": "verified", "version": "1", "note": "已核对认证机构官网"},
    )
    assert decided.status_code == 303
    # A second decision at the old version: both side by side, nothing changed.
    stale = await staff.post(
        f"/ui/partners/{partner['id']}/certificates/{row['id']}/decision",
        {"_csrf_token": csrf, "decision": "rejected", "version": "1", "note": "过期"},
    )
    assert stale.status_code == 409
    assert "过期" in stale.text
    assert await db.fetchval("SELECT status FROM certificates WHERE id = $1", row["id"]) == "verified"
    home = await me.get("/p")
    assert "已核验" in home.text

    # Another partner's contact cannot download it.
    other = await new_partner()
    stranger = await sign_in(other["contacts"][0]["email"])
    assert (await stranger.get(f"/p/certificates/{row['id']}/file")).status_code == 404


async def test_expiry_is_alerted_once_per_window(
    new_partner: NewPartner, sign_in: SignIn, risk_owner: User, settings: Settings, db: asyncpg.Connection
) -> None:
    partner = await new_partner()
    me = await sign_in(partner["contacts"][0]["email"])
    today = datetime.now(UTC).date()
    soon = fields(expires_on=(today + timedelta(days=20)).isoformat())
    assert (await upload(me, soon, ("c.pdf", PDF))).status_code == 303
    pool = await create_pool(settings.database_url or "", 1, 2, data_keys=settings.data_keys)
    try:
        async with pool.acquire() as conn:
            assert await sweep_certificates(conn, settings, today, (60, 30, 7)) >= 1
            assert await sweep_certificates(conn, settings, today, (60, 30, 7)) == 0
            later = today + timedelta(days=14)
            assert await sweep_certificates(conn, settings, later, (60, 30, 7)) >= 1
            expired = today + timedelta(days=21)
            assert await sweep_certificates(conn, settings, expired, (60, 30, 7)) >= 1
            assert await sweep_certificates(conn, settings, expired, (60, 30, 7)) == 0
    finally:
        await pool.close()
    subjects = [
        r["subject"]
        for r in await db.fetch(
            "SELECT payload->>'subject' AS subject FROM outbox WHERE topic LIKE 'certificate.expir%'"
            " AND payload->>'to' = $1 AND payload->>'subject' LIKE '%' || $2 || '%' ORDER BY created_at",
            risk_owner["email"],
            partner["name"],
        )
    ]
    assert len(subjects) == 3
    assert "证书已过期" in subjects[-1]  # the owner's language
