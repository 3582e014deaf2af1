"""RFC 9457 problem details for every error the API returns.

Each problem has a stable ``type`` (``urn:vendor-risk:problem:<slug>``) that clients can
switch on; validation problems list every bad field, refused gates every unmet condition.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, Final

import asyncpg
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from vendor_risk.structs import PATTERN_MESSAGES

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:vendor-risk:problem:"

log = structlog.get_logger("vendor_risk.errors")

_DEFAULT_SLUGS = {
    400: "invalid-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


class Problem(HTTPException):
    """An error with a stable problem type and optional extra members."""

    def __init__(
        self,
        status_code: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers, extra=extra)
        self.slug = slug
        self.title = title or HTTPStatus(status_code).phrase


def not_found(entity: str, entity_id: object) -> Problem:
    return Problem(404, "not-found", f"{entity} {entity_id} does not exist")


def stale_version(entity: str, sent: int, current: int) -> Problem:
    return Problem(
        409,
        "stale-version",
        f"{entity} was changed by someone else: you sent version {sent}, it is now {current}; "
        "reload and apply your change again",
        current_version=current,
    )


def field_error(field: str, message: str, status_code: int = 400) -> Problem:
    """A request refused because of one field, named the same way as validation errors.

    A 400 has the same ``type`` and title as a request that failed decoding, so a client
    handles a bad field in one place whichever layer noticed it.
    """
    if status_code == 400:
        slug, title = "validation", "Invalid request"
    else:
        slug, title = _DEFAULT_SLUGS.get(status_code, "invalid-request"), None
    return Problem(
        status_code,
        slug,
        f"{field}: {message}",
        title=title,
        errors=[{"field": field, "message": message}],
    )


def gate_refused(action: str, unmet: list[Any]) -> Problem:
    """A gate refused; ``unmet`` holds every unmet condition (Structs or dicts)."""
    return Problem(
        409,
        "gate-refused",
        f"cannot {action}: {len(unmet)} condition(s) unmet",
        unmet=unmet,
    )


class DatabaseUnavailable(Exception):
    """PostgreSQL did not lend a connection in time (see ``db.provide_db_connection``)."""


# Errors that say PostgreSQL cannot be reached or is going away, not that a request is wrong.
DATABASE_DOWN_ERRORS: Final[tuple[type[Exception], ...]] = (
    DatabaseUnavailable,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
)
DATABASE_RETRY_AFTER: Final = "5"


def _body(status: int, slug: str, title: str, detail: str, request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {
        "type": TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, Problem):
        body = _body(status, exc.slug, exc.title, exc.detail, request)
        if isinstance(exc.extra, dict):
            body.update(exc.extra)
    elif isinstance(exc, ValidationException):
        errors = _validation_errors(exc.extra)
        body = _body(status, "validation", "Invalid request", _summary(errors, exc.detail), request)
        body["errors"] = errors
    else:
        slug = _DEFAULT_SLUGS.get(status, "error")
        body = _body(status, slug, HTTPStatus(status).phrase, exc.detail, request)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers)


def database_unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """PostgreSQL is down: a 503 every client can wait out, never a generic 500."""
    log.error("database unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
    body = _body(
        503,
        "database-unavailable",
        "Service Unavailable",
        "the database is unreachable; try again shortly",
        request,
    )
    return Response(
        body, status_code=503, media_type=PROBLEM_MEDIA_TYPE, headers={"Retry-After": DATABASE_RETRY_AFTER}
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The trace goes to the log with the request id, never to the client.
    log.exception("unhandled error", path=request.url.path, exc_info=exc)
    body = _body(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal",
        "Internal Server Error",
        "the server failed to handle this request; it has been logged",
        request,
    )
    return Response(body, status_code=500, media_type=PROBLEM_MEDIA_TYPE)


_FIELD_IN_MESSAGE = re.compile(r"^Object (contains unknown|missing required) field `([^`]+)`")
_REGEX_IN_MESSAGE = re.compile(r"^Expected `str` matching regex '(.*)'$", re.DOTALL)


def _validation_errors(extra: Any) -> list[dict[str, str]]:
    """Name the field itself, even where msgspec reports the enclosing object."""
    errors: list[dict[str, str]] = []
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        field = str(item.get("key") or item.get("source") or "body").removeprefix("$.")
        message = str(item.get("message"))
        if match := _FIELD_IN_MESSAGE.match(message):
            parent = "" if field in ("data", "body") else field.removeprefix("data.") + "."
            field = parent + match.group(2)
            message = "unknown field" if match.group(1) == "contains unknown" else "required"
        elif match := _REGEX_IN_MESSAGE.match(message):
            # msgspec shows the pattern as Python's repr would, escapes doubled.
            pattern = match.group(1).replace("\\\\", "\\")
            message = PATTERN_MESSAGES.get(pattern, "does not have the expected format")
        errors.append({"field": field, "message": message})
    return errors


def _summary(errors: list[dict[str, str]], fallback: str) -> str:
    if not errors:
        return fallback
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


exception_handlers: dict[type[Exception] | int, Any] = {
    HTTPException: http_exception_handler,
    **dict.fromkeys(DATABASE_DOWN_ERRORS, database_unavailable_handler),
    Exception: internal_error_handler,
}

__all__ = ["MediaType", "Problem", "exception_handlers", "field_error", "gate_refused", "not_found"]
