"""Incident endpoints: open from a playbook, run the steps, keep the art. 57 record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from vendor_risk.auth.guards import current_user, requires_reader, requires_risk_owner, requires_role
from vendor_risk.auth.models import Role
from vendor_risk.db import DbConnection
from vendor_risk.errors import not_found
from vendor_risk.incidents import repository as repo
from vendor_risk.incidents import service
from vendor_risk.incidents.automation import kick_incident_actions
from vendor_risk.incidents.loader import library
from vendor_risk.incidents.models import (
    Incident,
    IncidentClose,
    IncidentCreate,
    IncidentDetail,
    IncidentDismiss,
    IncidentStatus,
    IncidentUpdate,
    NotificationRecord,
    NotificationRecordUpdate,
    PlaybookSummary,
    StepComplete,
    StepSkip,
)
from vendor_risk.incidents.playbook import Playbook, Severity
from vendor_risk.notify.delivery import kick_outbox
from vendor_risk.pagination import DEFAULT_LIMIT, Page, check_limit, created_after, paged
from vendor_risk.settings import Settings

# A risk owner runs any step; procurement and admins complete the steps a playbook gives
# their role. Auditors only read.
requires_step_owner = requires_role(Role.RISK_OWNER, Role.PROCUREMENT, Role.ADMIN)
# A risk owner opens an incident; procurement reports one as suspected.
requires_reporter = requires_role(Role.RISK_OWNER, Role.PROCUREMENT)


async def kick_incident_work(request: Request[Any, Any, Any]) -> None:
    """After a commit: run the queued actions and deliver the messages now, not in a minute."""
    await kick_incident_actions(request.app.state.redis)
    await kick_outbox(request.app.state.redis)


class PartnerIncidentController(Controller):
    path = "/api/v1/partners/{partner_id:uuid}/incidents"
    tags = ["incidents"]
    guards = [requires_reporter]

    @post("/", operation_id="OpenIncident", status_code=HTTP_201_CREATED)
    async def open_incident(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        settings: Settings,
        partner_id: UUID,
        data: IncidentCreate,
    ) -> IncidentDetail:
        """Open an incident from a playbook: its steps get deadlines from ``detected_at``
        and the severity, and containment is queued for the worker at once. Procurement
        may only report it as ``suspected``; a risk owner then confirms or dismisses it."""
        detail = await service.open_incident(db, current_user(request), partner_id, data, settings)
        await kick_incident_work(request)
        return detail


class IncidentController(Controller):
    path = "/api/v1/incidents"
    tags = ["incidents"]
    guards = [requires_reader]

    @get("/", operation_id="ListIncidents")
    async def list_incidents(
        self,
        db: DbConnection,
        status: list[IncidentStatus] | None = None,
        severity: list[Severity] | None = None,
        partner: UUID | None = None,
        overdue: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Incident]:
        """Newest first. ``overdue`` selects live incidents with a step past its deadline."""
        check_limit(limit)
        after = created_after(cursor)
        filters = repo.ListFilters(statuses=status, severities=severity, partner_id=partner, overdue=overdue)
        rows = await repo.list_incidents(db, filters, datetime.now(UTC), after, limit + 1)
        return paged(rows, limit)

    @get("/{incident_id:uuid}", operation_id="GetIncident")
    async def get_incident(self, db: DbConnection, incident_id: UUID) -> IncidentDetail:
        """The incident with its steps and the timeline of everything that happened."""
        return await service.load_detail(db, incident_id)

    @patch("/{incident_id:uuid}", operation_id="UpdateIncident", guards=[requires_risk_owner])
    async def update_incident(
        self, request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, data: IncidentUpdate
    ) -> IncidentDetail:
        """Change the title, description or affected categories; ``version`` as read."""
        return await service.update_incident(db, current_user(request), incident_id, data)

    @post(
        "/{incident_id:uuid}/confirm",
        operation_id="ConfirmIncident",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def confirm(
        self, request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID
    ) -> IncidentDetail:
        """Confirm a suspected incident: it opens and its containment runs."""
        detail = await service.confirm_incident(db, current_user(request), incident_id)
        await kick_incident_work(request)
        return detail

    @post(
        "/{incident_id:uuid}/dismiss",
        operation_id="DismissIncident",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def dismiss(
        self, request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, data: IncidentDismiss
    ) -> IncidentDetail:
        """Dismiss a suspected incident that was not one, saying why."""
        return await service.dismiss_incident(db, current_user(request), incident_id, data)

    @post(
        "/{incident_id:uuid}/steps/{step_id:str}/complete",
        operation_id="CompleteIncidentStep",
        guards=[requires_step_owner],
        status_code=HTTP_200_OK,
    )
    async def complete_step(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        incident_id: UUID,
        step_id: str,
        data: StepComplete,
    ) -> IncidentDetail:
        """Complete a step whose dependencies are done or skipped (409 naming them otherwise)."""
        detail = await service.complete_step(db, current_user(request), incident_id, step_id, data)
        await kick_incident_work(request)
        return detail

    @post(
        "/{incident_id:uuid}/steps/{step_id:str}/skip",
        operation_id="SkipIncidentStep",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def skip_step(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        incident_id: UUID,
        step_id: str,
        data: StepSkip,
    ) -> IncidentDetail:
        """Skip a step that does not apply, with the reason."""
        detail = await service.skip_step(db, current_user(request), incident_id, step_id, data)
        await kick_incident_work(request)
        return detail

    @post(
        "/{incident_id:uuid}/close",
        operation_id="CloseIncident",
        guards=[requires_risk_owner],
        status_code=HTTP_200_OK,
    )
    async def close(
        self, request: Request[Any, Any, Any], db: DbConnection, incident_id: UUID, data: IncidentClose
    ) -> IncidentDetail:
        """Close once every step is done or skipped (409 listing the open ones); the
        playbook's closing actions (a triggered reassessment) follow."""
        detail = await service.close_incident(db, current_user(request), incident_id, data)
        await kick_incident_work(request)
        return detail

    @get("/{incident_id:uuid}/notification-record", operation_id="GetNotificationRecord")
    async def get_notification_record(self, db: DbConnection, incident_id: UUID) -> NotificationRecord:
        """The PIPL art. 57 record (version 0 and empty until first saved)."""
        return await service.notification_record(db, await service.load(db, incident_id))

    @put(
        "/{incident_id:uuid}/notification-record",
        operation_id="SaveNotificationRecord",
        guards=[requires_risk_owner],
    )
    async def save_notification_record(
        self,
        request: Request[Any, Any, Any],
        db: DbConnection,
        incident_id: UUID,
        data: NotificationRecordUpdate,
    ) -> NotificationRecord:
        """Replace the art. 57 record; send the ``version`` read (0 to create it)."""
        return await service.save_notification_record(db, current_user(request), incident_id, data)

    @get("/{incident_id:uuid}/notification-record/export", operation_id="ExportNotificationRecord")
    async def export_notification_record(
        self,
        db: DbConnection,
        incident_id: UUID,
        lang: Literal["zh-CN", "en"] = "zh-CN",
    ) -> Response[str]:
        """The art. 57 record as a Markdown document for the authority, in ``lang``."""
        text = await service.export_notification_record(db, incident_id, lang)
        return Response(
            text,
            media_type="text/markdown",
            headers={
                "Content-Disposition": f'attachment; filename="incident-{incident_id}-art57-{lang}.md"',
            },
        )


class PlaybookController(Controller):
    path = "/api/v1/playbooks"
    tags = ["incidents"]
    guards = [requires_reader]

    @get("/", operation_id="ListPlaybooks")
    async def list_playbooks(self) -> list[PlaybookSummary]:
        """The shipped playbooks an incident can be opened with."""
        return [
            PlaybookSummary(
                key=p.key,
                version=p.version,
                title=p.title,
                description=p.description,
                severities=p.severities,
                steps=len(p.steps),
            )
            for p in library().values()
        ]

    @get("/{key:str}", operation_id="GetPlaybook")
    async def get_playbook(self, key: str) -> Playbook:
        """A playbook's full content: steps, owners, deadlines per severity, actions."""
        playbook = library().get(key)
        if playbook is None:
            raise not_found("playbook", key)
        return playbook
