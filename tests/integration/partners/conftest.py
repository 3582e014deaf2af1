"""Fixtures for the partner registry: one user per role, helpers that build records."""

from __future__ import annotations

import io
import secrets
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeUser
from tests.helpers import new_credit_code

Client = AsyncTestClient[Litestar]
User = dict[str, Any]

ALL_CLAUSES = [
    "purpose",
    "period",
    "processing_method",
    "data_types",
    "protection_measures",
    "rights_and_duties",
    "no_sub_entrustment_without_consent",
    "return_or_deletion",
]
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def docx_bytes(text: str = "合同") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f"<w:document><w:t>{text}</w:t></w:document>")
    return buffer.getvalue()


@pytest.fixture(scope="session")
async def procurement(make_user: MakeUser) -> User:
    return await make_user("procurement")


@pytest.fixture(scope="session")
async def risk_owner(make_user: MakeUser) -> User:
    return await make_user("risk_owner", name="王芳")


@pytest.fixture(scope="session")
async def auditor(make_user: MakeUser) -> User:
    return await make_user("auditor")


@pytest.fixture(scope="session")
async def categories(client: Client, procurement: User) -> dict[str, str]:
    """Seeded data category ids by code."""
    response = await client.get("/api/v1/data-categories", headers=procurement["headers"])
    assert response.status_code == 200
    return {c["code"]: c["id"] for c in response.json()}


NewPartner = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_partner(client: Client, procurement: User, risk_owner: User) -> NewPartner:
    """Create a partner through the API (valid by default; override any field)."""

    async def create(**overrides: Any) -> dict[str, Any]:
        tag = secrets.token_hex(3)
        body: dict[str, Any] = {
            "name": f"金蝶云会计 {tag}",
            "legal_name": f"上海金蝶云会计软件有限公司 {tag}",
            "credit_code": new_credit_code(),
            "country": "CN",
            "website": "https://kingdee.example.com/",
            "services": ["cloud accounting"],
            "business_criticality": "high",
            "owner_id": str(risk_owner["id"]),
            "contacts": [
                {"name": "李雷", "email": f"li.lei.{tag}@example.com", "primary": True},
            ],
        } | overrides
        response = await client.post("/api/v1/partners", json=body, headers=procurement["headers"])
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create


NewAgreement = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_agreement(client: Client, procurement: User) -> NewAgreement:
    """Record an agreement for a partner (an NDA in force by default)."""

    async def create(partner_id: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "nda",
            "title": "保密协议 NDA",
            "signed_on": "2025-01-10",
            "signatories": [
                {"party": "us", "name": "张三", "title": "总经理"},
                {"party": "partner", "name": "李雷"},
            ],
            "category_ids": [],
        } | overrides
        response = await client.post(
            f"/api/v1/partners/{partner_id}/agreements", json=body, headers=procurement["headers"]
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create


NewScope = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def new_scope(client: Client, procurement: User) -> NewScope:
    """Request a scope for a partner (valid by default)."""

    async def create(partner_id: str, category_id: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "category_id": category_id,
            "purpose": "代理记账：编制账簿和财务报表",
            "processing_methods": ["store", "process"],
            "transfer_method": "api",
            "starts_on": "2025-01-01",
            "retention_days": 365,
            "volume_band": "1k_10k",
        } | overrides
        response = await client.post(
            f"/api/v1/partners/{partner_id}/scopes", json=body, headers=procurement["headers"]
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create
