"""Defences requests share: bounded JSON bodies, CSRF tokens bound to the session,
rate limits that outlive a Redis outage.

Kept apart from the domains so that the app wires them in one place.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import lru_cache
from secrets import compare_digest
from typing import Any, Final, NamedTuple
from urllib.parse import unquote_plus

import structlog
from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import (
    CSRF_SECRET_LENGTH,
    CSRFMiddleware,
    generate_csrf_hash,
    generate_csrf_token,
)
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.types import ASGIApp, Empty, Guard, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from redis.asyncio import Redis
from redis.exceptions import RedisError

from vendor_risk.errors import Problem, field_error

log = structlog.get_logger("vendor_risk.hardening")


# Field names a form repeats on every post ("a:q-1", "present"): unquoted once.
_FIELD_NAME_CACHE: Final = 4096
_CACHED_NAME_LENGTH: Final = 64


@lru_cache(maxsize=_FIELD_NAME_CACHE)
def _field_name(raw: str) -> str:
    return unquote_plus(raw)


def parse_url_encoded(body: bytes) -> dict[str, str | list[str]]:
    """An ``application/x-www-form-urlencoded`` body as Litestar's parser reads it (a
    repeated name gives a list, blank values kept), at a fraction of its cost: urllib's
    ``parse_qsl`` unquotes every name and value (some 3 µs a field, and a portal section
    of 120 questions posts 240 fields); here a value is unquoted only when it has to be and
    a short name once per process."""
    fields: dict[str, str | list[str]] = {}
    for pair in body.decode("latin-1").split("&"):
        if not pair:
            continue
        raw_name, _, value = pair.partition("=")
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        # A long name is not kept: the cache holds only what forms really post.
        name = _field_name(raw_name) if len(raw_name) <= _CACHED_NAME_LENGTH else unquote_plus(raw_name)
        add_field(fields, name, value)
    return fields


def add_field(fields: dict[str, str | list[str]], name: str, value: str) -> None:
    """Add a posted field: the first value of a name as it is, the next ones as a list."""
    current = fields.get(name)
    if current is None:
        fields[name] = value
    elif isinstance(current, list):
        current.append(value)
    else:
        fields[name] = [current, value]


class BoundedRequest(Request[Any, Any, Any]):
    """The app's request: a JSON body may not nest deeper than the decoder can follow, and
    a url-encoded form is read by ``parse_url_encoded``.

    Litestar decodes a body to plain values before converting it to the handler's Struct;
    msgspec stops at the interpreter's recursion limit (about a thousand levels) with a
    ``RecursionError``, which would otherwise be a 500. No request of this API nests more
    than a few levels, so such a body is a 400 naming ``body``.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise field_error("body", "JSON nested too deeply") from None

    async def form(self) -> FormMultiDict:
        # Litestar's form() takes the fields parsed once per request from the scope's state.
        state = self._connection_state
        if state.form is Empty and self.content_type[0] == RequestEncodingType.URL_ENCODED:
            state.form = parse_url_encoded(await self.body())  # type: ignore[assignment]
        return await super().form()


class SessionBoundCSRFMiddleware(CSRFMiddleware):
    """Litestar's double-submit CSRF check with the token's HMAC keyed by the session too.

    A token (and its cookie) obtained before signing in, in another session, or by someone
    who planted a cookie of their own does not pass for the signed-in session. On a safe
    request a cookie that is not valid for the current session is replaced, so that
    signing in or out never leaves a browser with a token that can only fail.
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig, session_cookie: str) -> None:
        super().__init__(app, config)
        self.session_cookie = session_cookie

    def _secret(self, session: str) -> str:
        message = b"vendor-risk:csrf-session:" + session.encode()
        return hmac.new(self.config.secret.encode(), message, hashlib.sha256).hexdigest()

    @staticmethod
    def _valid(token: str | None, secret: str) -> str | None:
        if not token or len(token) < CSRF_SECRET_LENGTH + 1:
            return None
        value, digest = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        return value if compare_digest(digest, generate_csrf_hash(token=value, secret=secret)) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or should_bypass_middleware(
            scope=scope,
            scopes=self.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.exclude,
        ):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
        secret = self._secret(request.cookies.get(self.session_cookie, ""))
        cookie = request.cookies.get(self.config.cookie_name)
        state = ScopeState.from_scope(scope)
        if request.method in self.config.safe_methods:
            if self._valid(cookie, secret) is None:
                cookie = None  # another session's token: a new one replaces it
            token = state.csrf_token = cookie or generate_csrf_token(secret=secret)
            await self.app(
                scope, receive, self.create_send_wrapper(send=send, csrf_cookie=cookie, token=token)
            )
            return
        sent = request.headers.get(self.config.header_name)
        content_type, _ = request.content_type
        if not sent and content_type in {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}:
            value = (await request.form()).get("_csrf_token")
            sent = value if isinstance(value, str) else None
        from_form, from_cookie = self._valid(sent, secret), self._valid(cookie, secret)
        if from_form is None or from_cookie is None or not compare_digest(from_form, from_cookie):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = sent or ""
        await self.app(scope, receive, send)


# How long a rate-limit lookup may wait for Redis, and how long after a failure the
# per-process limiter is used before Redis is tried again.
REDIS_STORE_TIMEOUT: Final = 2.0
REDIS_RETRY_AFTER: Final = 5.0


class Spent(NamedTuple):
    """One request counted against a set of limits: the index of the first limit whose
    window was already spent (the request refused, nothing counted), else None; and per
    limit, its count and the milliseconds left in its window."""

    refused: int | None
    windows: list[tuple[int, int]]


# Counts one request against each key's fixed window, in one round trip and atomically:
# if any window is spent, nothing is counted (a refused request spends nothing).
# KEYS: one per limit; ARGV[1]: the window in seconds; ARGV[i + 1]: the limit of KEYS[i].
# Returns {refused index or 0, count 1, ms left 1, count 2, ms left 2, ...}.
_SPEND_SCRIPT: Final = b"""
local refused = 0
local out = {}
for i, key in ipairs(KEYS) do
    local count = tonumber(redis.call('GET', key) or '0')
    if refused == 0 and count >= tonumber(ARGV[i + 1]) then refused = i end
    out[2 * i] = count
    out[2 * i + 1] = redis.call('PTTL', key)
end
if refused == 0 then
    for i, key in ipairs(KEYS) do
        out[2 * i] = redis.call('INCR', key)
        if out[2 * i + 1] < 0 then
            redis.call('EXPIRE', key, ARGV[1])
            out[2 * i + 1] = ARGV[1] * 1000
        end
    end
end
out[1] = refused
return out
"""
# Windows the per-process limiter keeps before it forgets the ended ones.
_FALLBACK_WINDOWS: Final = 10_000


class FallbackStore(Store):
    """The rate limits' store: Redis (``namespace`` keeps its keys apart) and, while Redis
    does not answer, a store of this process: the limits keep working (per process, so a
    little looser with several replicas) instead of every page failing with Redis. The
    switch both ways is logged once."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.primary = RedisStore(redis, namespace=namespace)
        self.fallback = MemoryStore()
        self._namespace = namespace
        self._spend = redis.register_script(_SPEND_SCRIPT)
        # key -> [count, monotonic end of its window], for ``spend`` while Redis is away.
        self._windows: dict[str, list[float]] = {}
        self._retry_at = 0.0
        self._down = False

    async def _either(
        self, primary: Callable[[], Awaitable[Any]], fallback: Callable[[], Awaitable[Any]]
    ) -> Any:
        now = time.monotonic()
        if not self._down or now >= self._retry_at:
            try:
                async with asyncio.timeout(REDIS_STORE_TIMEOUT):
                    result = await primary()
            except (RedisError, OSError) as exc:
                if not self._down:
                    log.warning(
                        "rate limits fall back to a per-process limiter: Redis does not answer",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                self._down, self._retry_at = True, now + REDIS_RETRY_AFTER
            else:
                if self._down:
                    log.info("rate limits are back on Redis")
                    self._down = False
                return result
        return await fallback()

    async def _run(self, name: str, *args: Any) -> Any:
        return await self._either(
            lambda: getattr(self.primary, name)(*args), lambda: getattr(self.fallback, name)(*args)
        )

    async def spend(self, limits: Sequence[tuple[str, int]], window: int) -> Spent:
        """Count one request against each ``(key, limit)`` per ``window`` seconds."""

        async def on_redis() -> Spent:
            keys = [f"{self._namespace}:{key}" for key, _ in limits]
            out = await self._spend(keys=keys, args=[window, *(limit for _, limit in limits)])
            pairs = [(int(out[i]), int(out[i + 1])) for i in range(1, len(out), 2)]
            return Spent(int(out[0]) - 1 if out[0] else None, pairs)

        async def in_process() -> Spent:
            return self._spend_here(limits, window, time.monotonic())

        spent: Spent = await self._either(on_redis, in_process)
        return spent

    def _spend_here(self, limits: Sequence[tuple[str, int]], window: int, now: float) -> Spent:
        """``spend`` in this process's memory: the same fixed windows as the script's."""
        if len(self._windows) > _FALLBACK_WINDOWS:
            self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
        windows = []
        for key, _ in limits:
            current = self._windows.get(key)
            windows.append(current if current and current[1] > now else [0, now + window])
        refused = next((i for i, (_, limit) in enumerate(limits) if windows[i][0] >= limit), None)
        if refused is None:
            for (key, _), counted in zip(limits, windows, strict=True):
                counted[0] += 1
                self._windows[key] = counted
        return Spent(refused, [(int(count), int((end - now) * 1000)) for count, end in windows])

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._run("set", key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        value: bytes | None = await self._run("get", key, renew_for)
        return value

    async def delete(self, key: str) -> None:
        await self._run("delete", key)

    async def delete_all(self) -> None:
        await self._run("delete_all")

    async def exists(self, key: str) -> bool:
        return bool(await self._run("exists", key))

    async def expires_in(self, key: str) -> int | None:
        value: int | None = await self._run("expires_in", key)
        return value


RATE_LIMIT_WINDOW: Final = 60


def rate_limits(store: str, limits: Sequence[tuple[Callable[[Request[Any, Any, Any]], str], int]]) -> Any:
    """A router's per-minute limits (``(identifier of the request, requests a minute)``),
    counted in the app's store ``store`` (a ``FallbackStore``) in one round trip per request;
    over any of them, a 429 (``TooManyRequestsException``) with the IETF draft's RateLimit
    headers of the limit it hit. Other answers carry the headers of the limit nearest its end.

    In place of one Litestar ``RateLimitMiddleware`` per limit, which each read and rewrite
    the window's JSON list of request times (two round trips per limit, a list as long as
    the limit) under a lock the whole process shares."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            litestar_app = scope["litestar_app"]
            request: Request[Any, Any, Any] = litestar_app.request_class(scope)
            keyed = [(f"RateLimit::{identify(request)}", limit) for identify, limit in limits]
            counter = litestar_app.stores.get(store)
            assert isinstance(counter, FallbackStore)  # noqa: S101 - what the lifespan registers
            spent = await counter.spend(keyed, RATE_LIMIT_WINDOW)
            if spent.refused is not None:
                raise TooManyRequestsException(headers=_headers(keyed, spent, spent.refused))
            nearest = min(range(len(keyed)), key=lambda i: keyed[i][1] - spent.windows[i][0])
            headers = [(k.lower().encode(), v.encode()) for k, v in _headers(keyed, spent, nearest).items()]

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), *headers]
                await send(message)

            await app(scope, receive, send_wrapper)

        return limited

    return middleware


def _headers(keyed: Sequence[tuple[str, int]], spent: Spent, index: int) -> dict[str, str]:
    limit = keyed[index][1]
    count, left_ms = spent.windows[index]
    return {
        "RateLimit-Policy": f"{limit}; w={RATE_LIMIT_WINDOW}",
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - count)),
        "RateLimit-Reset": str(max(1, -(-left_ms // 1000))),
    }


# Where the OpenAPI UI's own copy of swagger-ui is served (no CDN, nothing loaded from
# elsewhere); static assets may be cached, everything else is no-store.
SCHEMA_ASSETS_PATH: Final = "/schema-assets"
CACHEABLE_PREFIXES: Final = ("/static/", SCHEMA_ASSETS_PATH + "/")
HSTS: Final = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """What every response gets unless a layer inside set it itself:
    ``X-Content-Type-Options: nosniff``, ``Cache-Control: no-store`` (API answers and
    problems carry records and links that no shared cache may keep; static assets are
    left cacheable), ``Retry-After`` on 429 and 503 and, behind an https public URL,
    ``Strict-Transport-Security``. Applied by the app's request middleware."""

    def __init__(self, public_url: str) -> None:
        self.https = public_url.startswith("https://")

    @staticmethod
    def cacheable(path: str) -> bool:
        return path.startswith(CACHEABLE_PREFIXES)

    def add(self, headers: list[tuple[bytes, bytes]], status: int, cacheable: bool) -> None:
        present = {name.lower() for name, _ in headers}
        if b"x-content-type-options" not in present:
            headers.append((b"x-content-type-options", b"nosniff"))
        if not cacheable and b"cache-control" not in present:
            headers.append((b"cache-control", b"no-store"))
        if self.https and b"strict-transport-security" not in present:
            headers.append((b"strict-transport-security", HSTS))
        if status in (429, 503) and b"retry-after" not in present:
            # A rate limit says when its window resets; an outage, soon.
            reset = next((v for k, v in headers if k.lower() == b"ratelimit-reset"), b"5")
            headers.append((b"retry-after", reset))


def requires_metrics_token(token: str) -> Guard:
    """A guard letting through only ``Authorization: Bearer <token>`` (compared in constant
    time); anything else is a 401 that says nothing about the metrics."""
    expected = f"Bearer {token}".encode()

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = connection.headers.get("authorization", "").encode()
        if not token or not compare_digest(given, expected):
            raise Problem(
                401,
                "unauthenticated",
                "the metrics token is required (Authorization: Bearer)",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )

    return guard
