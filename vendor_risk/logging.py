"""Structured logs: JSON lines with a request id, and no secrets in them."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from contextvars import ContextVar
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any, TextIO

import structlog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Links whose path carries their secret (the partner portal /q/<token>/…, a security
# notice /n/<token>, self-service sign-in /p/link/<token>, a password link
# /ui/password/<token>) are logged with the secret replaced by [redacted].
_TOKEN_IN_PATH = re.compile(r"^(/q|/n|/p/link|/ui/password)/[^/]+")


def redact_path(path: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1/[redacted]", path)


class AccessLog:
    """The one line logged per request, written without structlog's processor chain.

    The access record is the only line every request writes, so it is rendered straight
    into the JSON line the chain would give (same keys, same order, same separators:
    ``method, path, status, ms, event, request_id, level, timestamp``) and written to the
    stream the other lines go to. Other lines of the request still go through structlog
    and carry the same ``request_id``. With the console renderer (development) the record
    goes through structlog like any other line.
    """

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self.direct = True
        self.enabled = True
        self._second = -1
        self._prefix = ""

    def _timestamp(self, now: float) -> str:
        # As TimeStamper(fmt="iso", utc=True) writes it; the seconds part is formatted once a second.
        second = int(now)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1_000_000):06d}Z"

    def write(self, requests: Iterable[tuple[str, str, int, float, str, float]]) -> None:
        """A line for each (method, path, status, ms, request_id, time.time() at its end),
        the lines written and flushed together."""
        if not self.enabled:
            return
        if not self.direct:
            for method, path, status, ms, _id, _at in requests:
                _structlog_access.info("request", method=method, path=path, status=status, ms=ms)
            return
        self.stream.write(
            "".join(
                f'{{"method": {_json_str(method)}, "path": {_json_str(path)}, "status": {status}, '
                f'"ms": {ms}, "event": "request", "request_id": "{request_id}", "level": "info", '
                f'"timestamp": "{self._timestamp(at)}"}}\n'
                for method, path, status, ms, request_id, at in requests
            )
        )
        self.stream.flush()


access_log = AccessLog()
_structlog_access = structlog.get_logger("vendor_risk.access")

# The id of the request being served (set by the request middleware), on every structlog
# line written while it is.
REQUEST_ID: ContextVar[str | None] = ContextVar("vendor_risk_request_id", default=None)


def add_request_id(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Put the request's id first in the line, where structlog's contextvars put it."""
    request_id = REQUEST_ID.get()
    return event if request_id is None else {"request_id": request_id, **event}


def configure_logging(level: str = "INFO", json: bool = True, stream: TextIO | None = None) -> None:
    """JSON lines (or, for development, structlog's console renderer) on ``stream``
    (standard error unless given), from structlog, the standard library and the access log."""
    stream = stream or sys.stderr
    if json:
        renderer: Any = structlog.processors.JSONRenderer()
    else:
        # rich and its tracebacks are imported only for a console, never by `serve` in production.
        from structlog.dev import ConsoleRenderer

        renderer = ConsoleRenderer()
    numeric_level = logging.getLevelName(level)
    structlog.configure(
        processors=[
            add_request_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    access_log.stream, access_log.direct = stream, json
    access_log.enabled = numeric_level <= logging.INFO
    # Libraries (arq, uvicorn, asyncpg) log through the standard library: render their lines
    # the same way, so one parser reads every line the process writes.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    logging.basicConfig(handlers=[handler], level=level, force=True)
    # uvicorn's own access log prints raw paths (portal tokens); ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs each request's URL at INFO, and a chat robot's URL carries its access token
    # (sealed at rest for that reason): only its warnings and errors reach the log.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))
