"""Agreement endpoints, including the signed document upload and download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, Parameter
from litestar.status_codes import HTTP_200_OK

from vendor_risk.agreements import repository as repo
from vendor_risk.agreements import service
from vendor_risk.agreements.models import (
    Agreement,
    AgreementCreate,
    AgreementUpdate,
    DocumentVersion,
    Termination,
    TerminationResult,
)
from vendor_risk.auth.guards import requires_reader, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.documents import MAX_DOCUMENT_BYTES, MAX_UPLOAD_BODY_BYTES, clean_filename, download
from vendor_risk.errors import field_error, http_exception_handler
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import AgreementKind
from vendor_risk.partners.service import ensure_exists, today_utc
from vendor_risk.settings import Settings
from vendor_risk.structs import INT4_MAX

# Signed contracts are for the people who work with them; admins run the system.
requires_document_reader = requires_role(Role.PROCUREMENT, Role.RISK_OWNER, Role.AUDITOR)


@dataclass
class DocumentUpload:
    file: UploadFile


def _too_large(request: Request[Any, Any, Any], _: HTTPException) -> Response[Any]:
    # The body outgrew the limit before it could be parsed: still name the field.
    limit = MAX_DOCUMENT_BYTES // 2**20
    return http_exception_handler(request, field_error("file", f"the file is larger than {limit} MB", 413))


class AgreementController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/agreements"
    tags = ["agreements"]
    guards = [requires_reader]

    @post("/", operation_id="CreateAgreement", guards=[requires_record_keeper])
    async def create_agreement(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        data: AgreementCreate,
    ) -> Agreement:
        """Record an NDA, DPA, MSA or SLA; a DPA lacking PIPL art. 21 clauses is saved and
        flagged in ``missing_clauses``."""
        return await service.create_agreement(db, actor_of(request), partner_id, data, settings)

    @get("/", operation_id="ListAgreements")
    async def list_agreements(
        self,
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        kind: AgreementKind | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Agreement]:
        """The partner's agreements, newest first, each with its status from its dates."""
        check_limit(limit)
        after = created_after(cursor)
        rows = await repo.list_agreements(
            db,
            partner_id,
            kind,
            after,
            limit + 1,
            today_utc(),
            settings.agreement_expiring_days,
        )
        if not rows:  # a listed row proves the partner exists: only an empty page asks
            await ensure_exists(db, partner_id)
        return paged(rows, limit)

    @get("/{agreement_id:uuid}", operation_id="GetAgreement")
    async def get_agreement(
        self, db: DbConnection, settings: Settings, partner_id: UUID, agreement_id: UUID
    ) -> Agreement:
        return await service.load(db, partner_id, agreement_id, settings)

    @patch("/{agreement_id:uuid}", operation_id="UpdateAgreement", guards=[requires_record_keeper])
    async def update_agreement(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        agreement_id: UUID,
        data: AgreementUpdate,
    ) -> Agreement:
        """Change the fields sent (``version`` required); approved scopes the agreement no
        longer backs are suspended."""
        return await service.update_agreement(db, actor_of(request), partner_id, agreement_id, data, settings)

    @post(
        "/{agreement_id:uuid}/terminate",
        operation_id="TerminateAgreement",
        guards=[requires_record_keeper],
        status_code=HTTP_200_OK,
    )
    async def terminate(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        agreement_id: UUID,
        data: Termination,
    ) -> TerminationResult:
        """Terminate now with a reason; lists the approved scopes suspended with it."""
        return await service.terminate_agreement(
            db, actor_of(request), partner_id, agreement_id, data, settings
        )

    @put(
        "/{agreement_id:uuid}/document",
        operation_id="UploadAgreementDocument",
        guards=[requires_record_keeper],
        request_max_body_size=MAX_UPLOAD_BODY_BYTES,
        exception_handlers={413: _too_large},
    )
    async def upload_document(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        agreement_id: UUID,
        data: Annotated[DocumentUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Agreement:
        """Upload the signed document as multipart field ``file`` (PDF, PNG, JPEG or DOCX,
        at most 20 MB, checked by content). It is stored encrypted; the response shows its
        SHA-256."""
        content = await data.file.read()
        return await service.upload_document(
            db,
            actor_of(request),
            partner_id,
            agreement_id,
            content,
            clean_filename(data.file.filename),
            settings,
        )

    @get(
        "/{agreement_id:uuid}/documents",
        operation_id="ListAgreementDocumentVersions",
        guards=[requires_document_reader],
    )
    async def list_document_versions(
        self, db: DbConnection, partner_id: UUID, agreement_id: UUID
    ) -> list[DocumentVersion]:
        """Every signed document the agreement has had (a replaced one is kept), newest
        first, each with its version number and SHA-256."""
        return await service.document_versions(db, partner_id, agreement_id)

    @get(
        "/{agreement_id:uuid}/documents/{version:int}",
        operation_id="DownloadAgreementDocumentVersion",
        guards=[requires_document_reader],
        media_type="application/octet-stream",
    )
    async def download_document_version(
        self,
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        agreement_id: UUID,
        version: Annotated[int, Parameter(ge=1, le=INT4_MAX)],
    ) -> Response[bytes]:
        """The original bytes of one version, with its SHA-256 in ``Repr-Digest``."""
        info, content = await service.download_document_version(
            db, partner_id, agreement_id, version, settings
        )
        return download(info, content)

    @get(
        "/{agreement_id:uuid}/document",
        operation_id="DownloadAgreementDocument",
        guards=[requires_document_reader],
        media_type="application/octet-stream",
    )
    async def download_document(
        self, db: DbConnection, settings: Settings, partner_id: UUID, agreement_id: UUID
    ) -> Response[bytes]:
        """The original bytes of the signed document, with its SHA-256 in ``Repr-Digest``."""
        info, content = await service.download_document(db, partner_id, agreement_id, settings)
        return download(info, content)
