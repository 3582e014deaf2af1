"""Partners' security certificates: uploaded from self-service (the file encrypted at rest
like a signed agreement, its type sniffed from the bytes), verified or rejected by staff,
swept for expiry like agreements, and an input to the activation gate where the policy
asks for one (``certificates.activation`` in ``policy.yaml``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec

from vendor_risk import audit
from vendor_risk.audit.models import Actor
from vendor_risk.db import data_keys_of
from vendor_risk.documents import DocumentInfo, check_upload, read_document, store_document, stored_filename
from vendor_risk.errors import Problem, field_error, not_found, stale_version
from vendor_risk.policy import CERTIFICATE_KINDS as CERTIFICATE_KINDS
from vendor_risk.policy import CertificateKind
from vendor_risk.selfservice.notify import notify_partner_staff
from vendor_risk.settings import Settings
from vendor_risk.structs import FILLED_TEXT, NAME, ONE_LINE, TEXT, Base, Version

CertificateStatus = Literal["submitted", "verified", "rejected"]


class CertificateUpload(Base):
    kind: CertificateKind
    issuer: Annotated[str, msgspec.Meta(min_length=1, max_length=200), NAME]
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=100), ONE_LINE]
    scope: Annotated[str, msgspec.Meta(min_length=1, max_length=2000), FILLED_TEXT]
    expires_on: date
    issued_on: date | None = None


class CertificateDecision(Base):
    decision: Literal["verified", "rejected"]
    version: Version
    note: Annotated[str, msgspec.Meta(max_length=2000), TEXT] = ""


class Certificate(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    partner_id: UUID
    kind: CertificateKind
    issuer: str
    number: str
    scope: str
    issued_on: date | None
    expires_on: date
    status: CertificateStatus
    decision_note: str
    decided_at: datetime | None
    uploaded_by_label: str
    created_at: datetime
    filename: str
    sha256: str
    version: int
    expired: bool


COLUMNS = """
    c.id, c.partner_id, c.kind, c.issuer, c.number, c.scope, c.issued_on, c.expires_on, c.status,
    c.decision_note, c.decided_at, c.uploaded_by_label, c.created_at, d.filename, d.sha256, c.version,
    c.expires_on < (now() AT TIME ZONE 'UTC')::date AS expired
"""


async def list_certificates(conn: asyncpg.Connection, partner_id: UUID) -> list[Certificate]:
    """The partner's certificates, newest first (one query)."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM certificates c JOIN documents d ON d.id = c.document_id
        WHERE c.partner_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 100
        """,
        partner_id,
    )
    return [Certificate(**dict(r)) for r in rows]


async def get_certificate(conn: asyncpg.Connection, partner_id: UUID, certificate_id: UUID) -> Certificate:
    """One certificate of this partner; another partner's is "not found"."""
    row = await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM certificates c JOIN documents d ON d.id = c.document_id
        WHERE c.id = $1 AND c.partner_id = $2
        """,
        certificate_id,
        partner_id,
    )
    if row is None:
        raise not_found("certificate", certificate_id)
    return Certificate(**dict(row))


async def certificate_file(
    conn: asyncpg.Connection, partner_id: UUID, certificate_id: UUID
) -> tuple[DocumentInfo, bytes]:
    """The certificate's stored file (info and bytes), scoped to the partner."""
    document_id = await conn.fetchval(
        "SELECT document_id FROM certificates WHERE id = $1 AND partner_id = $2", certificate_id, partner_id
    )
    found = await read_document(conn, data_keys_of(conn), document_id) if document_id else None
    if found is None:
        raise not_found("certificate", certificate_id)
    return found


async def upload_certificate(
    conn: asyncpg.Connection,
    actor: Actor,
    partner_id: UUID,
    data: CertificateUpload,
    file: tuple[bytes, str],
    settings: Settings,
    *,
    today: date,
) -> UUID:
    """Store a partner's certificate and its file (encrypted), audit it and ask the
    partner's owner to verify it. A certificate already expired is refused by field."""
    if data.expires_on < today:
        raise field_error("expires_on", "the certificate has expired")
    if data.issued_on is not None and data.issued_on > data.expires_on:
        raise field_error("issued_on", "must not be after the expiry date")
    content, name = file
    content_type = check_upload(content, name)
    keys = data_keys_of(conn)
    if not keys:
        raise Problem(503, "no-data-key", "no data key is configured to encrypt documents")
    async with conn.transaction():
        document = await store_document(
            conn,
            key=keys[0],
            data=content,
            filename=stored_filename(name, content_type),
            content_type=content_type,
            purpose="certificate",
            actor=actor,
        )
        certificate_id: UUID = await conn.fetchval(
            """
            INSERT INTO certificates (partner_id, kind, issuer, number, scope, issued_on, expires_on,
                                      document_id, uploaded_by_label)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            partner_id,
            data.kind,
            data.issuer,
            data.number,
            data.scope,
            data.issued_on,
            data.expires_on,
            document.id,
            actor.label,
        )
        await audit.record(
            conn,
            actor=actor,
            action="certificate.uploaded",
            entity_type="certificate",
            entity_id=certificate_id,
            after={"partner_id": partner_id, **msgspec.to_builtins(data), "sha256": document.sha256},
        )
        await notify_partner_staff(
            conn,
            settings,
            partner_id,
            topic="certificate.uploaded",
            dedupe_key=f"certificate.uploaded:{certificate_id}",
            what="ss_notify_certificate",
            anchor="certificates",
        )
    return certificate_id


async def decide_certificate(
    conn: asyncpg.Connection, actor: Actor, partner_id: UUID, certificate_id: UUID, data: CertificateDecision
) -> Certificate:
    """Verify or reject a certificate (staff), at the version the decider saw."""
    async with conn.transaction():
        before = await get_certificate(conn, partner_id, certificate_id)
        if before.version != data.version:
            raise stale_version("certificate", data.version, before.version)
        await conn.execute(
            """
            UPDATE certificates SET status = $3, decision_note = $4, decided_by = $5, decided_at = now(),
                                    updated_at = now(), version = version + 1
            WHERE id = $1 AND partner_id = $2
            """,
            certificate_id,
            partner_id,
            data.decision,
            data.note,
            actor.id,
        )
        after = await get_certificate(conn, partner_id, certificate_id)
        await audit.record(
            conn,
            actor=actor,
            action=f"certificate.{data.decision}",
            entity_type="certificate",
            entity_id=certificate_id,
            before={"status": before.status},
            after={"status": after.status, "note": data.note, "partner_id": partner_id},
        )
    return after


async def valid_certificate_kinds(conn: asyncpg.Connection, partner_id: UUID, today: date) -> frozenset[str]:
    """The kinds of which the partner holds a verified certificate in force today."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT kind FROM certificates
        WHERE partner_id = $1 AND status = 'verified' AND expires_on >= $2
        """,
        partner_id,
        today,
    )
    return frozenset(r["kind"] for r in rows)


# --- expiry sweep ---------------------------------------------------------------------------------------

# Renewed: another live certificate of the same kind runs longer.
_RENEWED = """
    EXISTS (SELECT 1 FROM certificates r
            WHERE r.partner_id = c.partner_id AND r.kind = c.kind AND r.id <> c.id
              AND r.status <> 'rejected' AND r.expires_on > c.expires_on)
"""


async def sweep_certificates(
    conn: asyncpg.Connection, settings: Settings, today: date, alert_days: Sequence[int]
) -> int:
    """Alert the partner's owner once per window before a certificate ends (the agreements'
    alert days) and once when it has ended; a renewed certificate needs no alert. Each
    alert is claimed in ``notices``, so two sweeps (or a rerun) send it once."""
    from vendor_risk.sweeps import claim_notice

    rows = await conn.fetch(
        f"""
        SELECT c.id, c.partner_id, c.kind, c.expires_on, k.key
        FROM certificates c
        JOIN partners p ON p.id = c.partner_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN c.expires_on < $1 THEN 'certificate.expired:' || c.id || ':' || c.expires_on
                        ELSE 'certificate.expiring:' || c.id || ':' || c.expires_on || ':'
                             || (SELECT min(t) FROM unnest($2::int[]) AS t WHERE t >= c.expires_on - $1)
                   END AS key
        ) AS k
        WHERE c.status <> 'rejected' AND p.status <> 'offboarded'
          AND c.expires_on <= $1 + $3::int
          AND NOT {_RENEWED}
          AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.key = k.key)
        ORDER BY c.expires_on, c.id
        """,
        today,
        list(alert_days),
        max(alert_days),
    )
    sent = 0
    for row in rows:
        expired, key = row["expires_on"] < today, row["key"]
        async with conn.transaction():
            if not await claim_notice(conn, key):
                continue
            await notify_partner_staff(
                conn,
                settings,
                row["partner_id"],
                topic="certificate.expired" if expired else "certificate.expiring",
                dedupe_key=key,
                what="ss_notify_certificate_expired" if expired else "ss_notify_certificate_expiring",
                anchor="certificates",
                days=(row["expires_on"] - today).days,
                kind=row["kind"],
            )
        sent += 1
    return sent
