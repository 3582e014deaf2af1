"""Partner registry and dashboard endpoints."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.status_codes import HTTP_200_OK

from vendor_risk.approvals.models import PendingDecision
from vendor_risk.approvals.routes import or_pending
from vendor_risk.auth.guards import current_user, requires_reader, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.errors import Problem
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.pagination import DEFAULT_LIMIT, FilterText, Page, check_limit, decode_cursor, encode_cursor
from vendor_risk.partners import repository as repo
from vendor_risk.partners import service
from vendor_risk.partners.models import (
    Dashboard,
    Partner,
    PartnerCreate,
    PartnerSummary,
    PartnerUpdate,
    Transition,
    TransitionResult,
)
from vendor_risk.partners.rating import RatingFilter
from vendor_risk.partners.rules import (
    TRANSITION_ROLES,
    PartnerStatus,
    ServiceType,
    Tier,
)
from vendor_risk.settings import Settings

# Staff who keep the records: procurement onboards, a risk owner may fix a record too.
requires_record_keeper = requires_role(Role.PROCUREMENT, Role.RISK_OWNER)


class PartnerController(Controller):
    path = "/api/v1/partners"
    tags = ["partners"]
    guards = [requires_reader]

    @post("/", operation_id="CreatePartner", guards=[requires_record_keeper])
    async def create_partner(
        self, request: Request[Any, Any, Any], db: DbConnection, settings: Settings, data: PartnerCreate
    ) -> Partner:
        """Register a partner; a legal id already registered is a 409 naming that partner."""
        return await service.create_partner(db, actor_of(request), data, settings)

    @get("/", operation_id="ListPartners")
    async def list_partners(
        self,
        db: DbConnection,
        settings: Settings,
        status: list[PartnerStatus] | None = None,
        tier: list[Tier] | None = None,
        service_type: list[ServiceType] | None = None,
        owner: UUID | None = None,
        q: FilterText = None,
        needs_attention: bool | None = None,
        rating: list[RatingFilter] | None = None,
        sort: repo.PartnerSort = "created",
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[PartnerSummary]:
        """Newest first, or by ``sort``: ``name``, ``tier`` (highest first),
        ``reassessment`` (soonest due first) or ``rating`` (worst residual rating first,
        unrated last). ``q`` matches name or legal name (any script, case-insensitive);
        ``needs_attention`` selects partners with something overdue or expiring; ``rating``
        selects residual ratings (``unrated``: no approved assessment yet)."""
        check_limit(limit)
        after = decode_cursor(cursor, *repo.SORTS[sort].types)
        filters = repo.ListFilters(
            statuses=status,
            tiers=tier,
            service_types=service_type,
            owner_id=owner,
            q=q.strip() if q and q.strip() else None,
            needs_attention=needs_attention,
            ratings=rating,
        )
        rows = await repo.list_partners(
            db,
            filters,
            after,
            limit + 1,
            service.today_utc(),
            settings.agreement_expiring_days,
            sort=sort,
        )
        page = rows[:limit]
        more = len(rows) > limit
        return Page(items=page, next_cursor=encode_cursor(*repo.sort_key(page[-1], sort)) if more else None)

    @get("/{partner_id:uuid}", operation_id="GetPartner")
    async def get_partner(self, db: DbConnection, settings: Settings, partner_id: UUID) -> Partner:
        """The partner with its contacts, its tier and the factors behind it."""
        return await service.load(db, partner_id, settings)

    @patch("/{partner_id:uuid}", operation_id="UpdatePartner", guards=[requires_record_keeper])
    async def update_partner(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        data: PartnerUpdate,
    ) -> Partner:
        """Change the fields sent; ``version`` must be the one read (409 otherwise)."""
        return await service.update_partner(db, actor_of(request), partner_id, data, settings)

    @post(
        "/{partner_id:uuid}/transitions",
        operation_id="TransitionPartner",
        guards=[requires_record_keeper],
        status_code=HTTP_200_OK,
    )
    async def transition(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        data: Transition,
    ) -> Response[TransitionResult | PendingDecision]:
        """Move the partner through its lifecycle; only a risk owner activates or suspends.
        Refusals (409) list every unmet condition with a stable code. Activating a partner a
        two-person rule covers answers 202 with the pending decision until a second risk
        owner activates it too."""
        allowed = TRANSITION_ROLES.get(data.to, frozenset())
        if current_user(request).role.value not in allowed:
            names = ", ".join(sorted(allowed)) or "nobody"
            raise Problem(403, "forbidden", f"moving a partner to {data.to} needs the role: {names}")
        result = await or_pending(service.transition(db, actor_of(request), partner_id, data, settings))
        # Offboarding emails the attestation: deliver it now, not at the next sweep.
        await kick_outbox(request.app.state.redis)
        return result


# --- dashboard ---------------------------------------------------------------------------


class DashboardController(Controller):
    path = "/api/v1/dashboard"
    tags = ["partners"]
    guards = [requires_reader]

    @get("/", operation_id="GetDashboard")
    async def dashboard(self, db: DbConnection, settings: Settings) -> Dashboard:
        """Partners by status and tier, agreements expiring and expired (not renewed),
        scopes awaiting approval and partners needing attention, with the first
        ten of each list: one database round trip."""
        return await service.dashboard(db, settings)
