"""Structured logs: JSON lines with a request id, and no secrets in them."""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from litestar.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Portal links carry their secret in the path: /q/<token>/... is logged as /q/[redacted]/...
_TOKEN_IN_PATH = re.compile(r"^/q/[^/]+")


def redact_path(path: str) -> str:
    return _TOKEN_IN_PATH.sub("/q/[redacted]", path)


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries (arq, uvicorn, asyncpg) log through the standard library: render their lines
    # the same way, so one parser reads every line the process writes.
    handler = logging.StreamHandler(sys.stderr)
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


access_log = structlog.get_logger("vendor_risk.access")


def request_log_middleware(app: ASGIApp) -> Any:
    """Give each request an id (echoed in ``X-Request-ID``) and log one line for it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        # Correlation, not security: a PRNG id avoids a getrandom syscall per request.
        request_id = f"{random.getrandbits(64):016x}"
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        except HTTPException as exc:
            # Refused before a response started: the app's outer handler will answer.
            status = exc.status_code
            raise
        finally:
            access_log.info(
                "request",
                method=scope["method"],
                path=redact_path(scope["path"]),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    return middleware
