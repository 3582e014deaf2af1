"""`vendor-risk up` on a fresh directory: embedded servers, first admin, restart keeps data."""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

# How long `up` may take to become ready, in CPU seconds of its own process rather than in
# wall-clock seconds. On a loaded machine (2 cores, a load of 14 when eight suites run) `up`
# gets a seventh of a core: a start that needs 8 s of CPU takes a minute of wall time, and
# a fixed 60 s wait failed 2 runs in 20 with `up` still importing and collecting garbage
# (its SIGABRT stack dump showed so). A process that is working gets its budget however
# slow the machine is; one that is stuck (no CPU used for STALL_SECONDS) fails at once.
READY_CPU_SECONDS = 60.0
STALL_SECONDS = 120.0
NEVER_MORE_THAN = 600.0
# Stopping waits for the embedded PostgreSQL's checkpoint and Redis' save, starved alike:
# a bound, not a sleep (the wait ends when the process does).
STOP_WITHIN = 120.0


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["PYTHONUNBUFFERED"] = "1"
    # SIGABRT then prints every thread's stack: a start that hangs shows where.
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def start(cwd: Path, port: int, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "vendor_risk", "up", "--port", str(port)],
            cwd=cwd,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(proc: subprocess.Popen[str], port: int, log: Path) -> str:
    """Wait for /readyz and return what the process printed so far."""
    started = time.monotonic()
    last_cpu, last_progress = 0.0, started
    while True:
        if proc.poll() is not None:
            pytest.fail(f"up exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return log.read_text()
        except httpx.HTTPError:
            pass
        now = time.monotonic()
        with contextlib.suppress(OSError):
            cpu = cpu_seconds(proc.pid)
            if cpu > last_cpu:
                last_cpu, last_progress = cpu, now
        if (
            last_cpu > READY_CPU_SECONDS
            or now - last_progress > STALL_SECONDS
            or now - started > NEVER_MORE_THAN
        ):
            break
        time.sleep(0.3)
    proc.send_signal(signal.SIGABRT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    pg_log = log.parent / ".vendor-risk" / "postgres" / "log"
    pg_tail = pg_log.read_text()[-3000:] if pg_log.exists() else "(no PostgreSQL log)"
    pytest.fail(
        f"not ready after {time.monotonic() - started:.0f} s ({last_cpu:.1f} CPU s):\n"
        f"{log.read_text()}\nPostgreSQL:\n{pg_tail}"
    )


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"up did not stop within {STOP_WITHIN:.0f} s of Ctrl-C")


def stop_like_a_terminal(proc: subprocess.Popen[str], log: Path) -> None:
    """Ctrl-C under `uv run`: one SIGINT from the terminal, one passed on by uv."""
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_WITHIN
    while "stopped" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"up did not stop within {STOP_WITHIN:.0f} s of Ctrl-C")


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory of the test's own, outside pytest's base temporary directory.

    Run as root, pgserver runs PostgreSQL as its own unprivileged user and opens the data
    directory's parents to it. Every pytest session that starts on the machine resets
    /tmp/pytest-of-<user> to 0700, so under ``tmp_path`` a running embedded PostgreSQL lost
    its own files halfway through a test (its checkpoint PANICked on global/pg_control,
    pg_ctl could not access the data directory): a failure only a shared machine showed.
    """
    path = Path(tempfile.mkdtemp(prefix="vendor-risk-up-"))
    try:
        yield path
    finally:
        # A failed test may have left its servers behind: stop them, then remove their data.
        for line in leftovers(path):
            with contextlib.suppress(OSError):
                os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
        shutil.rmtree(path, ignore_errors=True)


def test_up_serves_embedded_and_keeps_data(workdir: Path) -> None:
    port = free_port()
    log = workdir / "up.log"
    proc = start(workdir, port, log)
    try:
        printed = wait_ready(proc, port, log)
        match = re.search(r"(vrk_[A-Za-z0-9_-]{43})", printed)
        assert match, printed
        key = match.group(1)
        base = f"http://127.0.0.1:{port}"
        # The first admin's one-time link opens the page that sets its password.
        link = re.search(r"(http://\S+/ui/password/[A-Za-z0-9_-]{43})", printed)
        assert link, printed
        assert httpx.get(link.group(1)).status_code == 200
        assert (
            httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["role"]
            == "admin"
        )
        assert httpx.get(f"{base}/api/v1/me").status_code == 401
        # A second `up` on the same data directory refuses instead of corrupting it.
        second = subprocess.run(
            [sys.executable, "-m", "vendor_risk", "up", "--port", str(free_port())],
            cwd=workdir,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=NEVER_MORE_THAN,  # a bound: run() returns as soon as it exits
        )
        assert second.returncode != 0
        assert "in use by" in second.stderr
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert (workdir / ".vendor-risk" / "data.key").exists()
    # Its own secrets beside the data key, readable by the owner only; kept for the next run.
    secrets_made = {
        name: (workdir / ".vendor-risk" / name) for name in ("session.secret", "audit-signing.key")
    }
    for path in secrets_made.values():
        assert path.stat().st_mode & 0o777 == 0o600
    kept = {name: path.read_text() for name, path in secrets_made.items()}

    # A fresh port: the first one was free for a while, and another process (an outgoing
    # connection's ephemeral port, another suite's server) may hold it now.
    port = free_port()
    proc = start(workdir, port, log)
    try:
        printed = wait_ready(proc, port, log)
        assert "vrk_" not in printed  # the admin exists already; no new key printed
        assert "/ui/password/" not in printed
        assert {name: path.read_text() for name, path in secrets_made.items()} == kept
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200
    finally:
        stop_like_a_terminal(proc, log)
    # `uv run` passes the terminal's Ctrl-C on as well: the second one arrives while the
    # embedded databases shut down, and must not cut that short with a traceback.
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def leftovers(workdir: Path) -> list[str]:
    """Processes still running from this data directory (embedded PostgreSQL, redis-server)."""
    data = str((workdir / ".vendor-risk").resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        # PostgreSQL names its data directory; redis-server runs in its own.
        if (data in cmdline or cwd.startswith(data)) and "pytest" not in cmdline:
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def wait_no_leftovers(workdir: Path) -> list[str]:
    """What is still running after 15 s; it is stopped, so a failure leaves nothing behind."""
    deadline = time.monotonic() + 15
    while (left := leftovers(workdir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for line in left:
        with contextlib.suppress(OSError):
            os.kill(int(line.split(":", 1)[0]), signal.SIGTERM)
    return left


def test_up_on_a_busy_port_fails_at_once_creating_nothing(workdir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "vendor_risk", "up", "--port", str(port)],
            cwd=workdir,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=NEVER_MORE_THAN,  # a bound: run() returns as soon as it exits
        )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert "vrk_" not in result.stdout
    assert not (workdir / ".vendor-risk").exists()


def test_a_crash_then_up_and_ctrl_c_leaves_nothing_running(workdir: Path) -> None:
    port = free_port()
    log = workdir / "up.log"
    proc = start(workdir, port, log)
    try:
        wait_ready(proc, port, log)
    finally:
        proc.kill()  # a crash: no clean-up at all
        proc.wait(timeout=30)
    # A port of its own again: the old one may have gone to another process meanwhile.
    port = free_port()
    proc = start(workdir, port, log)
    try:
        wait_ready(proc, port, log)
    finally:
        stop_like_a_terminal(proc, log)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    assert wait_no_leftovers(workdir) == []


def test_ctrl_c_leaves_no_process(workdir: Path) -> None:
    port = free_port()
    log = workdir / "up.log"
    proc = start(workdir, port, log)
    try:
        wait_ready(proc, port, log)
    finally:
        stop(proc)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    assert wait_no_leftovers(workdir) == []


def test_ctrl_c_while_the_databases_start_leaves_nothing_running(workdir: Path) -> None:
    """The interrupt lands while the embedded servers are being started: PostgreSQL runs
    (its postmaster.pid is there), Redis may not yet, `up` is not serving. `up` stops what
    had started and exits cleanly, whatever moment of the start it hit."""
    port = free_port()
    log = workdir / "up.log"
    proc = start(workdir, port, log)
    deadline = time.monotonic() + NEVER_MORE_THAN
    while not (workdir / ".vendor-risk" / "redis").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"up did not stop within {STOP_WITHIN:.0f} s of Ctrl-C:\n{log.read_text()}")
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    assert "serving on" not in log.read_text()
    assert wait_no_leftovers(workdir) == []
