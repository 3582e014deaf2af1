"""Make the generated OpenAPI document say what the API really does.

Litestar documents each handler's success response and a generic JSON 400. The API
answers every error as an RFC 9457 problem (``application/problem+json``), refuses
unknown fields, bounds ``limit`` and lets anyone call the health endpoints; this adds
those facts to the document once, when the app is built.
"""

from __future__ import annotations

from typing import Any, Final

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType

from vendor_risk.errors import PROBLEM_MEDIA_TYPE
from vendor_risk.pagination import MAX_LIMIT
from vendor_risk.structs import Base

OPEN_PATHS: Final = ("/healthz", "/readyz")
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
    names: set[str] = set()
    pending: list[type[Any]] = [Base]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            names.add(sub.__name__)
            pending.append(sub)
    return names


def _is_upload(operation: Operation) -> bool:
    body = operation.request_body
    content = getattr(body, "content", None) or {}
    return "multipart/form-data" in content


def document_truth(spec: OpenAPI) -> None:
    """Add problem responses, unknown-field refusal, limits and open health endpoints."""
    components = spec.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = _PROBLEM
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
