import io
import json
import logging
import re
import time
from datetime import UTC, datetime

import pytest
import structlog

from vendor_risk.logging import REQUEST_ID, AccessLog, configure_logging, redact_path


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/q/SECRET", "/q/[redacted]"),
        ("/q/SECRET/s/0/access", "/q/[redacted]/s/0/access"),
        ("/n/SECRET", "/n/[redacted]"),
        ("/p/link/SECRET", "/p/link/[redacted]"),
        ("/ui/password/SECRET", "/ui/password/[redacted]"),
        ("/api/v1/partners/0b7c", "/api/v1/partners/0b7c"),
        ("/p/sign-in", "/p/sign-in"),
        ("/ui/partners", "/ui/partners"),
        ("/qr/x", "/qr/x"),
    ],
)
def test_paths_carrying_a_secret_are_redacted(path: str, logged: str) -> None:
    assert redact_path(path) == logged


def test_the_access_line_is_what_structlog_rendered() -> None:
    # The keys, their order and the separators of structlog's JSONRenderer, so that what
    # parses the lines (and greps them) sees no change.
    log = AccessLog()
    log.stream = io.StringIO()
    log.write([("GET", '/api/v1/"partners"/合作', 200, 1.25, "00ff00ff00ff00ff", time.time())])
    line = log.stream.getvalue()
    assert line.endswith("}\n")
    escaped = '"path": "/api/v1/\\"partners\\"/\\u5408\\u4f5c"'
    assert line.startswith(f'{{"method": "GET", {escaped}, "status": 200, ')
    record = json.loads(line)
    assert list(record) == ["method", "path", "status", "ms", "event", "request_id", "level", "timestamp"]
    assert record | {"timestamp": None} == {
        "method": "GET",
        "path": '/api/v1/"partners"/合作',
        "status": 200,
        "ms": 1.25,
        "event": "request",
        "request_id": "00ff00ff00ff00ff",
        "level": "info",
        "timestamp": None,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])


def test_no_access_line_above_info() -> None:
    log = AccessLog()
    log.stream, log.enabled = io.StringIO(), False
    log.write([("GET", "/healthz", 200, 0.1, "0", time.time())])
    assert log.stream.getvalue() == ""


def test_requests_settled_together_are_one_write_each_at_its_own_time() -> None:
    class Stream(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    log = AccessLog()
    log.stream = stream = Stream()
    ended = datetime(2026, 12, 2, 8, 30, 15, 250000, tzinfo=UTC).timestamp()
    log.write([("GET", "/a", 200, 1.0, "01", ended), ("POST", "/b", 303, 2.5, "02", ended + 61.5)])
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["path"], first["timestamp"]) == ("/a", "2026-12-02T08:30:15.250000Z")
    assert (second["path"], second["status"]) == ("/b", 303)
    assert second["timestamp"] == "2026-12-02T08:31:16.750000Z"
    assert stream.flushes == 1


def test_httpx_never_logs_the_urls_it_calls() -> None:
    """A chat robot's URL carries its access token: httpx's INFO line per request would
    write it to the log, whatever level the service logs at."""
    for level in ("DEBUG", "INFO"):
        configure_logging(level, json=True)
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)


def test_a_line_written_while_serving_a_request_names_it_first() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    log = structlog.get_logger("vendor_risk.test")
    log.info("outside")
    token = REQUEST_ID.set("00ff00ff00ff00ff")
    try:
        log.info("inside", partner="p")
    finally:
        REQUEST_ID.reset(token)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "request_id" not in outside
    assert next(iter(inside)) == "request_id"
    assert inside["request_id"] == "00ff00ff00ff00ff"
