"""Make the generated OpenAPI document say what the API really does.

Litestar documents each handler's success response and a generic JSON 400. The API
answers every error as an RFC 9457 problem (``application/problem+json``), refuses
unknown fields, bounds ``limit`` and lets anyone call the health endpoints; this adds
those facts to the document once, when it is first read: building it costs about a third of
what making the app costs, so it is not built at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from vendor_risk.documents import DOCX
from vendor_risk.errors import PROBLEM_MEDIA_TYPE
from vendor_risk.pagination import MAX_LIMIT
from vendor_risk.structs import Base

if TYPE_CHECKING:
    from litestar import Request

OPEN_PATHS: Final = ("/healthz", "/readyz")

_XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SPREADSHEET: Final = (_XLSX, "text/csv")
_PRINTABLE: Final = ("application/pdf", "text/html")
_STORED: Final = ("application/pdf", "image/png", "image/jpeg", DOCX)
# Operations that answer a file, not JSON: the types each may send (`format` chooses).
DOWNLOADS: Final[dict[str, tuple[str, ...]]] = {
    "ExportPartners": _SPREADSHEET,
    "ExportAgreements": _SPREADSHEET,
    "ExportFindings": _SPREADSHEET,
    "ExportProcessingRegister": _SPREADSHEET,
    "ExportAuditEvents": _SPREADSHEET,
    "GetAssessmentReport": _PRINTABLE,
    "GetPartnerDossier": _PRINTABLE,
    "GetNotificationRecordDocument": _PRINTABLE,
    "GetPortfolioReport": _PRINTABLE,
    "GetPartnerImportTemplate": (_XLSX,),
    "ExportQuestionnaireWorkbook": (_XLSX,),
    "ExportNotificationRecord": ("text/markdown",),
    "DownloadAgreementDocument": _STORED,
    "DownloadAgreementDocumentVersion": _STORED,
    "DownloadEvidence": _STORED,
}
_WRITES: Final = ("post", "put", "patch", "delete")

_PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    description="An RFC 9457 problem; `type` is stable (urn:vendor-risk:problem:<slug>).",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="Every refused field, named as sent (`contacts[0].email`).",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
        "unmet": Schema(
            type=OpenAPIType.ARRAY,
            description="A refused gate's unmet conditions, each with a stable `code`.",
            items=Schema(type=OpenAPIType.OBJECT),
        ),
    },
)

_DESCRIPTIONS: Final = {
    "400": "Invalid request: every bad field is named in `errors`",
    "401": "No valid API key",
    "403": "The key's role may not do this",
    "404": "No such record",
    "409": "Conflict: a stale version, a refused gate (`unmet`) or a rule naming what blocks it",
    "413": "The upload is larger than allowed",
    "415": "The upload is not a PDF, PNG, JPEG or DOCX",
    "503": "The database is unreachable; try again after `Retry-After` seconds",
}


def _problem(status: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_DESCRIPTIONS[status],
        content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))},
    )


def _struct_names() -> set[str]:
    return {cls.__name__ for cls in _struct_classes()}


def _is_upload(operation: Operation) -> bool:
    body = operation.request_body
    content = getattr(body, "content", None) or {}
    return "multipart/form-data" in content


def _event_names(schemas: dict[str, Schema]) -> None:
    """The event names a subscription may list: the service refuses others by name, and a
    client (or a generated test) should know them from the document."""
    from vendor_risk.notify.chat import CHAT_EVENTS
    from vendor_risk.notify.events import ALL_EVENTS, EVENT_TYPES

    for name, known in (
        ("WebhookCreate", sorted(EVENT_TYPES | {ALL_EVENTS})),
        ("ChatChannelCreate", sorted(CHAT_EVENTS)),
    ):
        schema = schemas.get(name)
        events = (schema.properties or {}).get("events") if isinstance(schema, Schema) else None
        if isinstance(events, Schema) and isinstance(events.items, Schema):
            events.items = Schema(type=OpenAPIType.STRING, enum=list(known))


def _struct_classes() -> list[type[Any]]:
    found: list[type[Any]] = []
    pending: list[type[Any]] = [Base]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def _list_item_limits(schemas: dict[str, Schema]) -> None:
    """Litestar drops the constraints of a list's items (``list[Annotated[str, Meta(...)]]``):
    copy each item's pattern and lengths from the Struct, so the document refuses what the
    API refuses (an evidence line with a control character, a 101-character event name)."""
    for cls in _struct_classes():
        schema = schemas.get(cls.__name__)
        if not isinstance(schema, Schema) or not schema.properties:
            continue
        info = msgspec.inspect.type_info(cls)
        if not isinstance(info, msgspec.inspect.StructType):
            continue
        for struct_field in info.fields:
            kinds = (
                struct_field.type.types if isinstance(struct_field.type, msgspec.inspect.UnionType) else ()
            )
            listed = next(
                (t for t in (struct_field.type, *kinds) if isinstance(t, msgspec.inspect.ListType)), None
            )
            documented = schema.properties.get(struct_field.encode_name)
            if (
                listed is None
                or not isinstance(documented, Schema)
                or not isinstance(documented.items, Schema)
            ):
                continue
            item = listed.item_type
            if isinstance(item, msgspec.inspect.StrType) and not documented.items.enum:
                documented.items.pattern = documented.items.pattern or item.pattern
                documented.items.min_length = documented.items.min_length or item.min_length
                documented.items.max_length = documented.items.max_length or item.max_length


def _wecom_has_no_secret(schemas: dict[str, Schema]) -> None:
    # WeCom group robots are not signed: the API refuses a secret for them (400 naming it).
    schema = schemas.get("ChatChannelCreate")
    if isinstance(schema, Schema):
        schema.schema_if = Schema(properties={"platform": Schema(const="wecom")}, required=["platform"])
        schema.then = Schema(properties={"secret": Schema(type=OpenAPIType.NULL)})


async def document_on_first_read(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of the document's routes: Litestar builds the document on its
    first read and keeps it; this adds the truth to it once, before it is first served.

    Async, so it runs on the event loop and two first readers cannot both add it."""
    spec = request.app.openapi_schema
    if "Problem" not in (spec.components.schemas or {}):
        document_truth(spec)


def document_truth(spec: OpenAPI) -> None:
    """Add problem responses, file downloads' types, unknown-field refusal, limits, event
    names and open health endpoints."""
    components = spec.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = _PROBLEM
    _event_names(components.schemas)
    _list_item_limits(components.schemas)
    _wecom_has_no_secret(components.schemas)
    # Every request and response Struct forbids fields it does not know.
    structs = _struct_names()
    for name, schema in components.schemas.items():
        if isinstance(schema, Schema) and schema.type == OpenAPIType.OBJECT and name.split("_")[0] in structs:
            schema.additional_properties = False
    for path, item in (spec.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            operation.responses = responses
            if path in OPEN_PATHS:
                operation.security = []
                responses.pop("400", None)
                ok = responses.get("200")
                if path == "/readyz" and isinstance(ok, OpenAPIResponse):
                    responses["503"] = OpenAPIResponse(
                        description="PostgreSQL is unreachable (status `unavailable`)", content=ok.content
                    )
                continue
            ok = responses.get("200")
            if operation.operation_id in DOWNLOADS and isinstance(ok, OpenAPIResponse):
                binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                ok.content = {
                    media: OpenAPIMediaType(schema=binary) for media in DOWNLOADS[operation.operation_id]
                }
            statuses = ["400", "404", "503"]
            if not path.startswith(("/q/", "/ui")):
                statuses += ["401", "403"]
            if method in _WRITES:
                statuses.append("409")
            if _is_upload(operation):
                statuses += ["413", "415"]
            for status in statuses:
                # Litestar's own 400 says application/json; the API answers problem+json.
                if status == "400" or status not in responses:
                    responses[status] = _problem(status)
            for parameter in operation.parameters or []:
                if (
                    isinstance(parameter, Parameter)
                    and parameter.name == "limit"
                    and isinstance(parameter.schema, Schema)
                ):
                    parameter.schema.minimum = 1
                    parameter.schema.maximum = MAX_LIMIT
