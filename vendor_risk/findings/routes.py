"""Finding endpoints: list, raise by hand, update, accept a risk."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vendor_risk.approvals.models import PendingDecision
from vendor_risk.approvals.routes import or_pending
from vendor_risk.auth.guards import requires_reader, requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.findings import repository as repo
from vendor_risk.findings import service
from vendor_risk.findings.models import (
    AcceptanceCreate,
    Finding,
    FindingCreate,
    FindingDetail,
    FindingStatus,
    FindingUpdate,
    FindingVerify,
)
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.partners.service import today_utc
from vendor_risk.questionnaires.models import Severity
from vendor_risk.settings import Settings


class FindingController(Controller):
    path = "/api/v1/findings"
    tags = ["findings"]
    guards = [requires_reader]

    @post("/", operation_id="CreateFinding", guards=[requires_risk_owner], status_code=HTTP_201_CREATED)
    async def create(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, data: FindingCreate
    ) -> Finding:
        """Raise a finding by hand; rule findings are raised when an assessment is submitted.
        Without ``due_on`` it is due the policy's days for its severity."""
        return await service.create_finding(
            db, actor_of(request), data, today_utc(), due_days=settings.policy.findings.due_days
        )

    @get("/", operation_id="ListFindings")
    async def list_findings(
        self,
        db: DbConnection,
        partner_id: UUID | None = None,
        assessment_id: UUID | None = None,
        status: FindingStatus | None = None,
        severity: Severity | None = None,
        owner_id: UUID | None = None,
        overdue: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Finding]:
        """Newest first; every filter is indexed."""
        check_limit(limit)
        after = created_after(cursor)
        filters = repo.ListFilters(
            partner_id=partner_id,
            assessment_id=assessment_id,
            status=status,
            severity=severity,
            owner_id=owner_id,
            overdue=overdue,
        )
        rows = await repo.list_findings(db, filters, today_utc(), after, limit + 1)
        return paged(rows, limit)

    @get("/{finding_id:uuid}", operation_id="GetFinding")
    async def get_finding(self, db: DbConnection, finding_id: UUID) -> FindingDetail:
        return await service.detail(db, finding_id, today_utc())

    @patch("/{finding_id:uuid}", operation_id="UpdateFinding", guards=[requires_risk_owner])
    async def update(
        self, request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID, data: FindingUpdate
    ) -> Finding:
        """Status (open, remediating, resolved), owner, due date, plan; carries ``version``."""
        return await service.update_finding(db, actor_of(request), finding_id, data, today_utc())

    @post(
        "/{finding_id:uuid}/verify",
        operation_id="VerifyFinding",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def verify(
        self, request: Request[Any, Any, Any], db: DbConnection, finding_id: UUID, data: FindingVerify
    ) -> Finding:
        """A reviewer's decision on a partner's fix (status ``verifying``): ``resolve``, or
        ``reopen`` with a ``note`` saying why; carries ``version``. Any other status is a
        409 ``finding-not-verifying``."""
        return await service.verify(db, actor_of(request), finding_id, data, today_utc())

    @get("/{finding_id:uuid}/proofs/{document_id:uuid}", operation_id="DownloadFindingProof")
    async def proof(
        self, db: DbConnection, settings: Settings, finding_id: UUID, document_id: UUID
    ) -> Response[bytes]:
        """A proof file the partner sent with its fix, as uploaded (decrypted)."""
        return await service.proof_download(db, settings, finding_id, document_id)

    @post(
        "/{finding_id:uuid}/accept",
        operation_id="AcceptRisk",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def accept(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        finding_id: UUID,
        data: AcceptanceCreate,
    ) -> Response[FindingDetail | PendingDecision]:
        """Accept the risk until a date with a justification: an immutable record that
        lapses at that date, or earlier when a later assessment changes the answer. A
        finding a two-person rule covers answers 202 with the pending decision until a
        second risk owner accepts it too."""
        return await or_pending(
            service.accept_risk(db, actor_of(request), finding_id, data, today_utc(), settings=settings)
        )
