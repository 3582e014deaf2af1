"""Endpoints for data categories, scopes, sub-processors and impact assessments."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from vendor_risk.approvals.models import PendingDecision
from vendor_risk.approvals.routes import or_pending
from vendor_risk.auth.guards import current_user, requires_admin, requires_reader, requires_risk_owner
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.partners.routes import requires_record_keeper
from vendor_risk.partners.rules import ScopeStatus
from vendor_risk.partners.service import ensure_exists
from vendor_risk.scopes import repository as repo
from vendor_risk.scopes import service
from vendor_risk.scopes.models import (
    DataCategory,
    DataCategoryCreate,
    DataCategoryUpdate,
    ImpactAssessment,
    ImpactAssessmentCreate,
    Scope,
    ScopeApproval,
    ScopeCreate,
    ScopeWithdrawal,
    SubProcessor,
    SubProcessorCreate,
    SubProcessorDecision,
    UnlistedClientsUpdate,
)
from vendor_risk.settings import Settings


class DataCategoryController(Controller):
    path = "/api/v1/data-categories"
    tags = ["scopes"]
    guards = [requires_reader]

    @get("/", operation_id="ListDataCategories")
    async def list_categories(self, db: DbConnection) -> list[DataCategory]:
        """Every data category with its sensitivity (a short reference list: no paging)."""
        return await repo.list_categories(db)

    @get("/{category_id:uuid}", operation_id="GetDataCategory")
    async def get_category(self, db: DbConnection, category_id: UUID) -> DataCategory:
        category = await repo.get_category(db, category_id)
        if category is None:
            raise not_found("data category", category_id)
        return category

    @post("/", operation_id="CreateDataCategory", guards=[requires_admin])
    async def create_category(
        self, request: Request[Any, Any, Any], db: DbConnection, data: DataCategoryCreate
    ) -> DataCategory:
        return await service.create_category(db, actor_of(request), data)

    @patch("/{category_id:uuid}", operation_id="UpdateDataCategory", guards=[requires_admin])
    async def update_category(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        category_id: UUID,
        data: DataCategoryUpdate,
    ) -> DataCategory:
        return await service.update_category(db, actor_of(request), category_id, data)

    @delete(
        "/{category_id:uuid}",
        operation_id="DeleteDataCategory",
        guards=[requires_admin],
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_category(
        self, request: Request[Any, Any, Any], db: DbConnection, category_id: UUID
    ) -> None:
        """Delete a category no scope or agreement uses (409 otherwise)."""
        await service.delete_category(db, actor_of(request), category_id)


class ScopeController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/scopes"
    tags = ["scopes"]
    guards = [requires_reader]

    @post("/", operation_id="RequestScope", guards=[requires_record_keeper])
    async def request_scope(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        data: ScopeCreate,
    ) -> Scope:
        """Request a data-sharing scope (status ``requested``); the partner's tier follows."""
        return await service.request_scope(db, actor_of(request), partner_id, data, policy=settings.policy)

    @get("/", operation_id="ListScopes")
    async def list_scopes(
        self,
        db: DbConnection,
        partner_id: UUID,
        status: list[ScopeStatus] | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Scope]:
        check_limit(limit)
        after = created_after(cursor)
        rows = await repo.list_scopes(db, partner_id, status, after, limit + 1)
        if not rows:  # a listed row proves the partner exists: only an empty page asks
            await ensure_exists(db, partner_id)
        return paged(rows, limit)

    @get("/{scope_id:uuid}", operation_id="GetScope")
    async def get_scope(self, db: DbConnection, partner_id: UUID, scope_id: UUID) -> Scope:
        return await service.load_scope(db, partner_id, scope_id)

    @post(
        "/{scope_id:uuid}/approve",
        operation_id="ApproveScope",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def approve(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        scope_id: UUID,
        data: ScopeApproval,
    ) -> Response[Scope | PendingDecision]:
        """Approve (or reinstate a suspended) scope; a 409 lists every unmet condition:
        agreement in force covering the category, DPA with all PIPL art. 21 clauses and an
        impact assessment for personal data, an approved assessment meeting the score
        threshold for sensitive personal data, consented sub-processors, cross-border flag.
        A scope a two-person rule covers answers 202 with the pending decision until a second
        risk owner approves it too."""
        return await or_pending(
            service.approve_scope(db, actor_of(request), partner_id, scope_id, data, settings)
        )

    @post(
        "/{scope_id:uuid}/suspend",
        operation_id="SuspendScope",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def suspend(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        scope_id: UUID,
        data: ScopeWithdrawal,
    ) -> Scope:
        return await service.withdraw_scope(
            db, actor_of(request), partner_id, scope_id, data, "suspended", policy=settings.policy
        )

    @put(
        "/{scope_id:uuid}/unlisted-clients",
        operation_id="SetScopeUnlistedClients",
        guards=[requires_risk_owner],
    )
    async def set_unlisted_clients(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        partner_id: UUID,
        scope_id: UUID,
        data: UnlistedClientsUpdate,
    ) -> Scope:
        """About how many clients' data the scope carries beyond those listed by name."""
        return await service.set_unlisted_clients(db, actor_of(request), partner_id, scope_id, data)

    @post(
        "/{scope_id:uuid}/revoke",
        operation_id="RevokeScope",
        guards=[requires_record_keeper],
        status_code=HTTP_200_OK,
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        scope_id: UUID,
        data: ScopeWithdrawal,
    ) -> Scope:
        """Revoke a scope for good (a requested one is withdrawn). Procurement may withdraw
        a request; ending an approved or suspended scope is the risk owner's decision, as
        suspending one is."""
        return await service.withdraw_scope(
            db,
            actor_of(request),
            partner_id,
            scope_id,
            data,
            "revoked",
            may_end_live=current_user(request).role == Role.RISK_OWNER,
            policy=settings.policy,
        )


class SubProcessorController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/sub-processors"
    tags = ["scopes"]
    guards = [requires_reader]

    @post("/", operation_id="CreateSubProcessor", guards=[requires_record_keeper])
    async def create(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        partner_id: UUID,
        data: SubProcessorCreate,
    ) -> SubProcessor:
        """Record a processor the partner itself uses (pending consent)."""
        return await service.create_sub_processor(db, actor_of(request), partner_id, data)

    @get("/", operation_id="ListSubProcessors")
    async def list_sub_processors(
        self,
        db: DbConnection,
        partner_id: UUID,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[SubProcessor]:
        check_limit(limit)
        after = created_after(cursor)
        rows = await repo.list_sub_processors(db, partner_id, after, limit + 1)
        if not rows:  # a listed row proves the partner exists: only an empty page asks
            await ensure_exists(db, partner_id)
        return paged(rows, limit)

    @get("/{sub_processor_id:uuid}", operation_id="GetSubProcessor")
    async def get_sub_processor(
        self, db: DbConnection, partner_id: UUID, sub_processor_id: UUID
    ) -> SubProcessor:
        found = await repo.get_sub_processor(db, partner_id, sub_processor_id)
        if found is None:
            raise not_found("sub-processor", sub_processor_id)
        return found

    @post(
        "/{sub_processor_id:uuid}/approve",
        operation_id="ApproveSubProcessor",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def approve(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        partner_id: UUID,
        sub_processor_id: UUID,
        data: SubProcessorDecision,
    ) -> SubProcessor:
        """Consent to the sub-entrustment (PIPL art. 21)."""
        return await service.decide_sub_processor(
            db, actor_of(request), partner_id, sub_processor_id, data, approve=True
        )

    @post(
        "/{sub_processor_id:uuid}/reject",
        operation_id="RejectSubProcessor",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def reject(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        partner_id: UUID,
        sub_processor_id: UUID,
        data: SubProcessorDecision,
    ) -> SubProcessor:
        return await service.decide_sub_processor(
            db, actor_of(request), partner_id, sub_processor_id, data, approve=False
        )


class ImpactAssessmentController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/impact-assessments"
    tags = ["scopes"]
    guards = [requires_reader]

    @post("/", operation_id="RecordImpactAssessment", guards=[requires_record_keeper])
    async def record(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        partner_id: UUID,
        data: ImpactAssessmentCreate,
    ) -> ImpactAssessment:
        """Record a personal information protection impact assessment (PIPL art. 55) for
        some of the partner's scopes; immutable, kept at least three years (art. 56)."""
        return await service.record_impact_assessment(db, actor_of(request), partner_id, data)

    @get("/", operation_id="ListImpactAssessments")
    async def list_impact_assessments(
        self,
        db: DbConnection,
        partner_id: UUID,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[ImpactAssessment]:
        check_limit(limit)
        after = created_after(cursor)
        rows = await repo.list_impact_assessments(db, partner_id, after, limit + 1)
        if not rows:  # a listed row proves the partner exists: only an empty page asks
            await ensure_exists(db, partner_id)
        return paged(rows, limit)

    @get("/{impact_assessment_id:uuid}", operation_id="GetImpactAssessment")
    async def get_impact_assessment(
        self, db: DbConnection, partner_id: UUID, impact_assessment_id: UUID
    ) -> ImpactAssessment:
        found = await repo.get_impact_assessment(db, partner_id, impact_assessment_id)
        if found is None:
            raise not_found("impact assessment", impact_assessment_id)
        return found
