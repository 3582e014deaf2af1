"""Bad input is refused with problem details naming the field, and nothing is half-written."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest

from tests.helpers import new_credit_code
from tests.integration.partners.conftest import (
    PDF,
    Client,
    NewAgreement,
    NewPartner,
    User,
    docx_bytes,
)
from vendor_risk.documents import DOCX, MAX_DOCUMENT_BYTES

TABLES = (
    "partners",
    "partner_contacts",
    "agreements",
    "agreement_categories",
    "documents",
    "scopes",
    "impact_assessments",
    "audit_events",
)


@pytest.fixture
async def unchanged(
    db: asyncpg.Connection, procurement: User, risk_owner: User, auditor: User
) -> AsyncIterator[None]:
    """Fails the test if any registry table (or the audit trail) gained or lost rows."""

    async def counts() -> dict[str, int]:
        return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}

    before = await counts()
    yield
    assert await counts() == before


def fields(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.usefixtures("unchanged")
async def test_wrong_credit_code_check_character(client: Client, procurement: User) -> None:
    code = new_credit_code()
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    response = await client.post(
        "/api/v1/partners",
        json={
            "name": "坏代码",
            "legal_name": "坏代码有限公司",
            "credit_code": wrong,
            "business_criticality": "low",
            "contacts": [{"name": "A", "email": "a@example.com", "primary": True}],
        },
        headers=procurement["headers"],
    )
    assert response.status_code == 400
    assert fields(response) == ["credit_code"]
    assert "check character (18th)" in response.json()["errors"][0]["message"]


@pytest.mark.usefixtures("unchanged")
async def test_every_bad_field_is_named_at_once(client: Client, procurement: User, auditor: User) -> None:
    response = await client.post(
        "/api/v1/partners",
        json={
            "name": "Acme GmbH",
            "legal_name": "Acme GmbH",
            "country": "DE",
            "business_criticality": "low",
            "owner_id": str(auditor["id"]),
            "contacts": [{"name": "A", "email": "a@example.com"}],
        },
        headers=procurement["headers"],
    )
    assert response.status_code == 400
    assert fields(response) == ["registration_number", "contacts", "owner_id"]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"business_criticality": "extreme"}, "business_criticality"),
        ({"nmae": "typo"}, "nmae"),
        ({"country": "China"}, "country"),
        ({"contacts": [{"name": "A", "email": "not-an-email", "primary": True}]}, "contacts[0].email"),
        ({"website": "javascript:alert(1)"}, "website"),
    ],
)
async def test_decoding_errors_name_the_field(
    client: Client, procurement: User, body: dict[str, Any], field: str
) -> None:
    base = {
        "name": "X",
        "legal_name": "X Ltd",
        "credit_code": new_credit_code(),
        "business_criticality": "low",
    }
    response = await client.post("/api/v1/partners", json=base | body, headers=procurement["headers"])
    assert response.status_code == 400
    named = [f"{e['field']}: {e['message']}" for e in response.json()["errors"]]
    assert any(field in line for line in named), named


async def test_duplicate_legal_id_names_the_existing_partner(
    client: Client, procurement: User, new_partner: NewPartner
) -> None:
    first = await new_partner()
    response = await client.post(
        "/api/v1/partners",
        json={
            "name": "Same company",
            "legal_name": "Same company Ltd",
            # Pasted with spaces and lower case: still the same legal id.
            "credit_code": " " + first["credit_code"].lower(),
            "business_criticality": "low",
        },
        headers=procurement["headers"],
    )
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "urn:vendor-risk:problem:duplicate-partner"
    assert body["existing_partner_id"] == first["id"]
    assert body["existing_partner_name"] == first["name"]


async def test_stale_version_is_409(client: Client, procurement: User, new_partner: NewPartner) -> None:
    partner = await new_partner()
    url = f"/api/v1/partners/{partner['id']}"
    first = await client.patch(
        url, json={"version": partner["version"], "name": "新名字"}, headers=procurement["headers"]
    )
    assert first.status_code == 200
    assert first.json()["version"] == partner["version"] + 1
    stale = await client.patch(
        url, json={"version": partner["version"], "name": "旧页面"}, headers=procurement["headers"]
    )
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:vendor-risk:problem:stale-version"
    assert stale.json()["current_version"] == partner["version"] + 1
    shown = await client.get(url, headers=procurement["headers"])
    assert shown.json()["name"] == "新名字"


async def test_scope_inputs(
    client: Client,
    procurement: User,
    new_partner: NewPartner,
    categories: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    url = f"/api/v1/partners/{partner['id']}/scopes"
    body = {
        "category_id": "00000000-0000-4000-8000-000000000000",
        "purpose": "x",
        "processing_methods": ["store"],
        "transfer_method": "sftp",
        "starts_on": "2025-06-01",
        "ends_on": "2025-05-31",
        "retention_days": 30,
        "volume_band": "under_1k",
    }
    before = await db.fetchval("SELECT count(*) FROM audit_events")
    response = await client.post(url, json=body, headers=procurement["headers"])
    assert response.status_code == 400
    assert fields(response) == ["category_id", "ends_on"]
    bad_method = await client.post(
        url,
        json=body | {"category_id": categories["invoices"], "processing_methods": ["sell"]},
        headers=procurement["headers"],
    )
    assert bad_method.status_code == 400
    assert "processing_methods[0]" in fields(bad_method)
    assert await db.fetchval("SELECT count(*) FROM scopes WHERE partner_id = $1", partner["id"]) == 0
    assert await db.fetchval("SELECT count(*) FROM audit_events") == before


async def test_agreement_inputs(
    client: Client,
    procurement: User,
    new_partner: NewPartner,
    db: asyncpg.Connection,
) -> None:
    partner = await new_partner()
    response = await client.post(
        f"/api/v1/partners/{partner['id']}/agreements",
        json={
            "kind": "nda",
            "title": "NDA",
            "signed_on": "2025-01-01",
            "effective_from": "2025-02-01",
            "expires_on": "2025-01-31",
            "signatories": [{"party": "us", "name": "A"}, {"party": "us", "name": "B"}],
            "category_ids": ["00000000-0000-4000-8000-000000000000"],
            "clauses": ["purpose"],
        },
        headers=procurement["headers"],
    )
    assert response.status_code == 400
    assert fields(response) == ["expires_on", "signatories", "clauses", "category_ids"]
    assert await db.fetchval("SELECT count(*) FROM agreements WHERE partner_id = $1", partner["id"]) == 0


class TestDocuments:
    @pytest.fixture
    async def agreement(self, new_partner: NewPartner, new_agreement: NewAgreement) -> dict[str, Any]:
        partner = await new_partner()
        return await new_agreement(partner["id"])

    def url(self, agreement: dict[str, Any]) -> str:
        return f"/api/v1/partners/{agreement['partner_id']}/agreements/{agreement['id']}/document"

    async def upload(
        self, client: Client, procurement: User, agreement: dict[str, Any], name: str, data: bytes
    ) -> Any:
        return await client.put(
            self.url(agreement),
            files={"file": (name, data, "application/octet-stream")},
            headers=procurement["headers"],
        )

    async def assert_nothing_stored(self, db: asyncpg.Connection, agreement: dict[str, Any]) -> None:
        row = await db.fetchrow("SELECT document_id, version FROM agreements WHERE id = $1", agreement["id"])
        assert row["document_id"] is None
        assert row["version"] == agreement["version"]

    @pytest.mark.parametrize(
        ("name", "data", "status", "reason"),
        [
            ("contract.pdf", b"MZ\x90\x00 this is an executable", 415, "not a PDF, PNG, JPEG or DOCX"),
            ("contract.pdf", b"<html><script>alert(1)</script></html>", 415, "not a PDF"),
            ("scan.png", PDF, 415, "the name says image/png but the content is application/pdf"),
            ("contract.docx", b"PK\x03\x04" + b"\x00" * 40, 415, "not a PDF"),
            ("empty.pdf", b"", 400, "the file is empty"),
            ("big.pdf", b"%PDF-" + b"0" * MAX_DOCUMENT_BYTES, 413, "larger than 20 MB"),
            ("huge.pdf", b"%PDF-" + b"0" * (MAX_DOCUMENT_BYTES + 2**20), 413, "larger than 20 MB"),
        ],
    )
    async def test_refused_uploads_name_the_field(
        self,
        client: Client,
        db: asyncpg.Connection,
        procurement: User,
        agreement: dict[str, Any],
        name: str,
        data: bytes,
        status: int,
        reason: str,
    ) -> None:
        response = await self.upload(client, procurement, agreement, name, data)
        assert response.status_code == status
        assert fields(response) == ["file"]
        assert reason in response.json()["errors"][0]["message"]
        await self.assert_nothing_stored(db, agreement)

    async def test_missing_file_field(
        self, client: Client, db: asyncpg.Connection, procurement: User, agreement: dict[str, Any]
    ) -> None:
        response = await client.put(
            self.url(agreement),
            files={"attachment": ("a.pdf", PDF, "application/pdf")},
            headers=procurement["headers"],
        )
        assert response.status_code == 400
        await self.assert_nothing_stored(db, agreement)

    @pytest.mark.parametrize(
        ("name", "data", "content_type"),
        [
            ("合同.docx", docx_bytes(), DOCX),
            ("scan.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100, "image/jpeg"),
            ("scan", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
        ],
    )
    async def test_accepted_types_round_trip(
        self,
        client: Client,
        procurement: User,
        auditor: User,
        agreement: dict[str, Any],
        name: str,
        data: bytes,
        content_type: str,
    ) -> None:
        response = await self.upload(client, procurement, agreement, name, data)
        assert response.status_code == 200, response.text
        assert response.json()["document"]["content_type"] == content_type
        download = await client.get(self.url(agreement), headers=auditor["headers"])
        assert download.content == data
        assert download.headers["content-type"].startswith(content_type)

    @pytest.mark.parametrize(
        ("name", "data", "stored"),
        [
            ("evil.html", PDF, "evil.pdf"),
            ("logo.svg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "logo.png"),
            ("setup.exe", PDF, "setup.pdf"),
            ("scan.JPEG", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100, "scan.JPEG"),
            ("合同", docx_bytes(), "合同.docx"),
        ],
    )
    async def test_stored_names_take_the_extension_of_the_real_type(
        self,
        client: Client,
        procurement: User,
        auditor: User,
        agreement: dict[str, Any],
        name: str,
        data: bytes,
        stored: str,
    ) -> None:
        response = await self.upload(client, procurement, agreement, name, data)
        assert response.status_code == 200, response.text
        assert response.json()["document"]["filename"] == stored
        download = await client.get(self.url(agreement), headers=auditor["headers"])
        assert download.content == data
        assert f"filename*=UTF-8''{quote(stored)}" in download.headers["content-disposition"]
        assert download.headers["x-content-type-options"] == "nosniff"

    async def test_replaced_documents_stay_as_numbered_versions(
        self, client: Client, procurement: User, auditor: User, risk_owner: User, agreement: dict[str, Any]
    ) -> None:
        base = f"/api/v1/partners/{agreement['partner_id']}/agreements/{agreement['id']}/documents"
        assert (await client.get(base, headers=auditor["headers"])).json() == []
        first, second = PDF + b"% first\n", docx_bytes("第二版")
        assert (await self.upload(client, procurement, agreement, "nda-v1.pdf", first)).status_code == 200
        assert (await self.upload(client, procurement, agreement, "nda-v2.docx", second)).status_code == 200
        listed = await client.get(base, headers=auditor["headers"])
        assert listed.status_code == 200, listed.text
        versions = listed.json()
        assert [(v["version"], v["current"], v["document"]["filename"]) for v in versions] == [
            (2, True, "nda-v2.docx"),
            (1, False, "nda-v1.pdf"),
        ]
        assert versions[1]["document"]["sha256"] == hashlib.sha256(first).hexdigest()
        old = await client.get(f"{base}/1", headers=auditor["headers"])
        assert old.status_code == 200
        assert old.content == first
        assert (await client.get(f"{base}/2", headers=risk_owner["headers"])).content == second
        # The current document is still what the agreement shows.
        assert (await client.get(self.url(agreement), headers=auditor["headers"])).content == second
        missing = await client.get(f"{base}/3", headers=auditor["headers"])
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
