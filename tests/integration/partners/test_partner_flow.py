"""The registry flow of issue 3, over HTTP: partner → agreements with a document → scopes →
approval refused with every reason → DPA and impact assessment → approved → tier explained."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import asyncpg

from tests.integration.partners.conftest import (
    ALL_CLAUSES,
    PDF,
    Client,
    NewAgreement,
    NewPartner,
    NewScope,
    User,
)


def codes(response: Any) -> list[str]:
    return [u["code"] for u in response.json()["unmet"]]


async def test_registry_flow(
    client: Client,
    db: asyncpg.Connection,
    procurement: User,
    risk_owner: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> None:
    partner = await new_partner(business_criticality="medium")
    pid = partner["id"]
    assert partner["status"] == "proposed"
    assert partner["tier"] == "low"
    assert partner["domain"] == "kingdee.example.com"
    assert [c["primary"] for c in partner["contacts"]] == [True]

    # An NDA covering invoices and client contact details, with its signed PDF.
    nda = await new_agreement(
        pid,
        category_ids=[categories["invoices"], categories["client_contact_details"]],
        expires_on="2099-12-31",
    )
    assert nda["status"] == "in_force"
    assert nda["missing_clauses"] == []
    upload = await client.put(
        f"/api/v1/partners/{pid}/agreements/{nda['id']}/document",
        files={"file": ("保密协议.pdf", PDF, "application/pdf")},
        headers=procurement["headers"],
    )
    assert upload.status_code == 200, upload.text
    document = upload.json()["document"]
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert document["content_type"] == "application/pdf"
    assert document["filename"] == "保密协议.pdf"

    download = await client.get(
        f"/api/v1/partners/{pid}/agreements/{nda['id']}/document", headers=risk_owner["headers"]
    )
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E4%BF%9D" in download.headers["content-disposition"]

    raw = await db.fetchrow(
        "SELECT ciphertext, nonce, key_id, sha256 FROM documents WHERE id = $1",
        UUID(document["id"]),
    )
    assert raw["key_id"] == "test"
    assert PDF not in raw["ciphertext"]
    assert b"%PDF" not in raw["ciphertext"]
    assert len(raw["ciphertext"]) == len(PDF) + 16  # GCM tag, no plaintext anywhere
    assert raw["sha256"] == hashlib.sha256(PDF).hexdigest()

    # Scopes: confidential invoices, personal contact details, sensitive bank statements.
    invoices = await new_scope(pid, categories["invoices"])
    contacts = await new_scope(pid, categories["client_contact_details"], volume_band="10k_100k")
    bank = await new_scope(pid, categories["bank_accounts"], volume_band="100k_1m")
    assert {s["status"] for s in (invoices, contacts, bank)} == {"requested"}

    def approve(scope: dict[str, Any]) -> Any:
        return client.post(
            f"/api/v1/partners/{pid}/scopes/{scope['id']}/approve",
            json={"note": "ok"},
            headers=risk_owner["headers"],
        )

    assert (await approve(invoices)).status_code == 200

    refused = await approve(contacts)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "urn:vendor-risk:problem:gate-refused"
    assert codes(refused) == ["dpa_missing", "impact_assessment_missing"]

    refused = await approve(bank)
    assert codes(refused) == [
        "agreement_missing",
        "dpa_missing",
        "impact_assessment_missing",
        "assessment_missing",
    ]
    assert all(u["message"] for u in refused.json()["unmet"])

    # A DPA lacking two art. 21 clauses is saved but flagged, and does not yet suffice.
    dpa = await new_agreement(
        pid,
        kind="dpa",
        title="委托处理个人信息协议 DPA",
        category_ids=[categories["client_contact_details"], categories["bank_accounts"]],
        clauses=ALL_CLAUSES[:-2],
    )
    assert dpa["missing_clauses"] == ["no_sub_entrustment_without_consent", "return_or_deletion"]
    ia = await client.post(
        f"/api/v1/partners/{pid}/impact-assessments",
        json={
            "scope_ids": [contacts["id"], bank["id"]],
            "purpose": "代理记账需要联系客户",
            "necessity": "无法以匿名数据完成",
            "risks": "泄露、滥用",
            "measures": "加密、访问控制、合同约束",
            "conclusion": "风险可控",
            "outcome": "acceptable_with_conditions",
            "assessor": "王芳",
            "assessed_on": "2025-01-15",
        },
        headers=procurement["headers"],
    )
    assert ia.status_code == 201, ia.text
    assert ia.json()["retain_until"] == "2028-01-15"

    refused = await approve(contacts)
    assert codes(refused) == ["dpa_clauses_missing"]
    assert "return or deletion at the end" in refused.json()["unmet"][0]["message"]

    patched = await client.patch(
        f"/api/v1/partners/{pid}/agreements/{dpa['id']}",
        json={"version": dpa["version"], "clauses": ALL_CLAUSES},
        headers=procurement["headers"],
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["missing_clauses"] == []

    approved = await approve(contacts)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == str(risk_owner["id"])

    # Sensitive personal data still needs an approved assessment meeting the threshold.
    assert codes(await approve(bank)) == ["assessment_missing"]

    # The tier, and why: the bank-statements scope (requested) is the riskiest.
    shown = (await client.get(f"/api/v1/partners/{pid}", headers=risk_owner["headers"])).json()
    assert shown["tier"] == "high"
    assert shown["tier_points"] == 1 + 6 + 3 + 2
    factors = {(f["code"], f["value"], f["points"]) for f in shown["tier_factors"]}
    assert factors == {
        ("business_criticality", "medium", 1),
        ("sensitivity", "sensitive_personal", 6),
        ("volume", "100k_1m", 3),
        ("processing_method", "store", 2),
    }
    assert {f["scope_id"] for f in shown["tier_factors"] if f["scope_id"]} == {bank["id"]}
    assert shown["reassessment_due_at"] is not None
    assert shown["attention"] == ["reassessment_due"]

    actions = [
        r["action"]
        for r in await db.fetch(
            """
            SELECT action FROM audit_events
            WHERE entity_id = ANY($1::text[]) ORDER BY seq
            """,
            [pid, nda["id"], dpa["id"], invoices["id"], contacts["id"], bank["id"]],
        )
    ]
    assert actions[0] == "partner.created"
    for expected in (
        "agreement.created",
        "agreement.document_uploaded",
        "agreement.updated",
        "scope.requested",
        "scope.approved",
        "partner.tier_changed",
    ):
        assert expected in actions


async def test_scope_events_reach_webhook_subscribers(
    client: Client,
    db: asyncpg.Connection,
    risk_owner: User,
    categories: dict[str, str],
    new_partner: NewPartner,
    new_agreement: NewAgreement,
    new_scope: NewScope,
) -> None:
    hook = await db.fetchval(
        """
        INSERT INTO webhooks (url, events, secret)
        VALUES ('https://hooks.example.com/vr', ARRAY['scope.approved', 'scope.suspended',
                'partner.tier_changed'], 'whsec_dGVzdA==')
        RETURNING id
        """
    )
    try:
        partner = await new_partner(business_criticality="low")
        await new_agreement(partner["id"], category_ids=[categories["invoices"]])
        scope = await new_scope(partner["id"], categories["invoices"], volume_band="over_1m")
        base = f"/api/v1/partners/{partner['id']}/scopes/{scope['id']}"
        approved = await client.post(f"{base}/approve", json={}, headers=risk_owner["headers"])
        assert approved.status_code == 200
        suspended = await client.post(
            f"{base}/suspend", json={"reason": "incident INC-7"}, headers=risk_owner["headers"]
        )
        assert suspended.status_code == 200
        assert suspended.json()["status_reason"] == "incident INC-7"
        rows = await db.fetch(
            "SELECT topic, payload FROM outbox WHERE webhook_id = $1 ORDER BY created_at", hook
        )
        topics = [r["topic"] for r in rows]
        assert topics == ["partner.tier_changed", "scope.approved", "scope.suspended"]
        assert rows[1]["payload"]["data"]["scope_id"] == scope["id"]
        assert rows[0]["payload"]["data"]["to"] == "medium"
    finally:
        await db.execute("DELETE FROM outbox WHERE webhook_id = $1", hook)
        await db.execute("DELETE FROM webhooks WHERE id = $1", hook)
