"""Assessment endpoints: sending, the review queue, one assessment's full picture, review."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vendor_risk.assessments import repository as repo
from vendor_risk.assessments import service
from vendor_risk.assessments.models import (
    Assessment,
    AssessmentCreate,
    AssessmentDetail,
    AssessmentKind,
    AssessmentStatus,
    Cancel,
    Resend,
    ReviewCreate,
    SentAssessment,
)
from vendor_risk.auth.guards import requires_reader, requires_risk_owner, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.auth.routes import actor_of
from vendor_risk.db import DbConnection
from vendor_risk.documents import download
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, decode_cursor, encode_cursor
from vendor_risk.partners.service import today_utc
from vendor_risk.settings import Settings

# Procurement sends questionnaires as part of onboarding; a risk owner may too.
requires_sender = requires_role(Role.PROCUREMENT, Role.RISK_OWNER)
# Evidence files are the partner's documents: for the people who assess partners.
requires_evidence_reader = requires_role(Role.PROCUREMENT, Role.RISK_OWNER, Role.AUDITOR)


async def _list(
    db: DbConnection, filters: repo.ListFilters, limit: int, cursor: str | None
) -> Page[Assessment]:
    check_limit(limit)
    after = decode_cursor(cursor, datetime, UUID)
    rows = await repo.list_assessments(db, filters, today_utc(), after, limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return Page(items=page, next_cursor=encode_cursor(page[-1].sent_at, page[-1].id) if more else None)


class PartnerAssessmentController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/assessments"
    tags = ["assessments"]
    guards = [requires_reader]

    @post("/", operation_id="SendAssessment", guards=[requires_sender], status_code=HTTP_201_CREATED)
    async def send(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        data: AssessmentCreate,
    ) -> SentAssessment:
        """Send questionnaires by link. The response carries the link once; it is stored
        only as a hash and otherwise only emailed. By default: the tier's questionnaires,
        bundled into one assessment, to the partner's primary contact."""
        return await service.send_assessment(
            db, actor_of(request), partner_id, data, settings, now=datetime.now(UTC)
        )

    @get("/", operation_id="ListPartnerAssessments")
    async def list_for_partner(
        self,
        db: DbConnection,
        partner_id: UUID,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Assessment]:
        return await _list(db, repo.ListFilters(partner_id=partner_id), limit, cursor)


class AssessmentController(Controller):
    path = "/api/v1/assessments"
    tags = ["assessments"]
    guards = [requires_reader]

    @get("/", operation_id="ListAssessments")
    async def list_assessments(
        self,
        db: DbConnection,
        status: AssessmentStatus | None = None,
        partner_id: UUID | None = None,
        kind: AssessmentKind | None = None,
        overdue: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Assessment]:
        """Newest first. The review queue is ``status=submitted``."""
        filters = repo.ListFilters(status=status, partner_id=partner_id, kind=kind, overdue=overdue)
        return await _list(db, filters, limit, cursor)

    @get("/{assessment_id:uuid}", operation_id="GetAssessment")
    async def get_assessment(
        self, db: DbConnection, settings: Settings, assessment_id: UUID
    ) -> AssessmentDetail:
        """Answers, evidence, score with its breakdown, rating, findings, the changes since
        the previous assessment, and the reviews."""
        return await service.detail(db, assessment_id, today_utc(), rating_policy=settings.policy.rating)

    @post(
        "/{assessment_id:uuid}/resend",
        operation_id="ResendAssessment",
        guards=[requires_sender],
        status_code=HTTP_200_OK,
    )
    async def resend(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        assessment_id: UUID,
        data: Resend,
    ) -> SentAssessment:
        """A new link, emailed; the old one dies at once."""
        return await service.resend(
            db, actor_of(request), assessment_id, data, settings, now=datetime.now(UTC)
        )

    @post(
        "/{assessment_id:uuid}/cancel",
        operation_id="CancelAssessment",
        guards=[requires_sender],
        status_code=HTTP_200_OK,
    )
    async def cancel(
        self, request: Request[Any, Any, Any], db: DbConnection, assessment_id: UUID, data: Cancel
    ) -> Assessment:
        return await service.cancel(db, actor_of(request), assessment_id, data, now=datetime.now(UTC))

    @post(
        "/{assessment_id:uuid}/review",
        operation_id="ReviewAssessment",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def review(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        assessment_id: UUID,
        data: ReviewCreate,
    ) -> AssessmentDetail:
        """Approve, reject, or request changes (the partner sees the per-question comments)."""
        return await service.review(
            db, actor_of(request), assessment_id, data, settings, now=datetime.now(UTC)
        )

    @get(
        "/{assessment_id:uuid}/evidence/{evidence_id:uuid}",
        operation_id="DownloadEvidence",
        guards=[requires_evidence_reader],
        media_type="application/octet-stream",
    )
    async def download_evidence(
        self, db: DbConnection, settings: Settings, assessment_id: UUID, evidence_id: UUID
    ) -> Response[bytes]:
        """The evidence file's original bytes, with its SHA-256 in ``Repr-Digest``."""
        info, content = await service.evidence_file(db, assessment_id, evidence_id, settings)
        return download(info, content)
