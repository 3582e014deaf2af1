"""The one ASGI layer every route shares: a request id, security headers, the access log
line and the HTTP metrics, with one ``send`` wrapper for all of them.

Three middlewares of their own (each a closure, a send wrapper and a copy of the
headers) cost a fixed share of every request; fused, the request id is drawn, the headers
copied once, and the access line and the metrics written from the same status and clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import structlog
from litestar.exceptions import HTTPException

from vendor_risk.hardening import SecurityHeaders
from vendor_risk.logging import ASGIApp, Message, Receive, Scope, Send, access_log, redact_path
from vendor_risk.metrics import request_finished, request_started

# Scraping is not counted in the request metrics, as Litestar's middleware excluded it.
UNCOUNTED = frozenset({"/metrics"})

_bind = structlog.contextvars.bind_contextvars
_reset = structlog.contextvars.reset_contextvars


def request_middleware(public_url: str) -> Callable[[ASGIApp], Any]:
    """Give each request an id (echoed in ``X-Request-ID`` and bound for every log line of
    the request), add the security headers, log one access line and count the request in
    ``litestar_requests_total`` and its duration in ``litestar_request_duration_seconds``
    (labelled with the route template)."""
    security = SecurityHeaders(public_url)

    def middleware(app: ASGIApp) -> Any:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            method: str = scope["method"]
            path: str = scope["path"]
            template: str = scope.get("path_template", path)
            # Correlation, not security: a PRNG id avoids a getrandom syscall per request.
            request_id = f"{random.getrandbits(64):016x}"
            bound = _bind(request_id=request_id)
            running = None if template in UNCOUNTED else request_started(method, template)
            cacheable = security.cacheable(path)
            status = 500
            answered = 0.0

            async def send_wrapper(message: Message) -> None:
                nonlocal status, answered
                kind = message["type"]
                if kind == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", ()))
                    headers.append((b"x-request-id", request_id.encode()))
                    security.add(headers, status, cacheable)
                    message["headers"] = headers
                elif kind == "http.response.body":
                    # The duration metric ends with the body (not with after-response hooks).
                    answered = time.perf_counter()
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            except HTTPException as exc:
                # Refused before a response started: the app's outer handler will answer.
                status = exc.status_code
                raise
            finally:
                ended = time.perf_counter()
                access_log.write(
                    method, redact_path(path), status, round((ended - started) * 1000, 2), request_id
                )
                if running is not None:
                    request_finished(running, method, template, status, (answered or ended) - started)
                _reset(**bound)

        return wrapped

    return middleware
