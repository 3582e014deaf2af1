"""Two-person approvals: the decisions awaiting a second risk owner, and the second approval."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from vendor_risk.approvals import repository as repo
from vendor_risk.approvals import service
from vendor_risk.approvals.models import DecisionStatus, PendingDecision, SecondApproval
from vendor_risk.auth.guards import requires_reader, requires_risk_owner
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.partners.service import today_utc
from vendor_risk.settings import Settings


async def or_pending(result: Any) -> Response[Any]:
    """The decision's own answer (200), or 202 with the pending decision when the policy
    asks for a second approval (``SecondApprovalRequired``). Used by the approve routes."""
    try:
        return Response(await result)
    except service.SecondApprovalRequired as pending:
        return Response(pending.decision, status_code=HTTP_202_ACCEPTED)


class ApprovalController(Controller):
    path = "/api/v1/approvals"
    tags = ["approvals"]
    guards = [requires_reader]

    @get("/", operation_id="ListPendingDecisions")
    async def list_decisions(
        self,
        db: DbConnection,
        status: DecisionStatus | None = "pending",
        partner_id: UUID | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[PendingDecision]:
        """Decisions awaiting their second approval (``status=pending``, the default) or
        completed, newest first."""
        check_limit(limit)
        rows = await repo.list_decisions(
            db, status=status, partner_id=partner_id, after=created_after(cursor), limit=limit + 1
        )
        return paged(rows, limit)

    @get("/{decision_id:uuid}", operation_id="GetPendingDecision")
    async def get_decision(self, db: DbConnection, decision_id: UUID) -> PendingDecision:
        decision = await repo.get(db, decision_id)
        if decision is None:
            raise not_found("pending decision", decision_id)
        return decision

    @post(
        "/{decision_id:uuid}/approve",
        operation_id="GiveSecondApproval",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def approve(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        decision_id: UUID,
        data: SecondApproval,
    ) -> PendingDecision:
        """Give the second approval: the decision is made as the first approver decided,
        through its own gate (a 409 lists what is now unmet). The first approver, or the
        person who requested it, is refused with a 409 naming the rule."""
        return await service.give_second_approval(
            db, actor_of(request), decision_id, data, settings, today_utc()
        )
