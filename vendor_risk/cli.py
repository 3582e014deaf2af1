"""The `vendor-risk` command."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import os
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from vendor_risk.settings import PREFIX, Settings, SettingsError, load_settings, parse_data_keys


def _fail(message: str, code: int = 2) -> None:
    print(f"vendor-risk: {message}", file=sys.stderr)
    raise SystemExit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        _fail(f"configuration error: {exc}")
        raise  # unreachable; keeps type checkers content


def _require_servers(settings: Settings) -> None:
    if not settings.database_url or not settings.redis_url:
        _fail(
            f"set {PREFIX}DATABASE_URL and {PREFIX}REDIS_URL (or use `vendor-risk up` "
            "for embedded development servers)"
        )


# --- database preparation shared by up, serve, migrate and the tests ---------------------


async def prepare_database(settings: Settings, *, quiet: bool = False) -> None:
    """Apply migrations, load the questionnaire library and record the policy in use."""
    from vendor_risk.db import connect, database_url, migrate
    from vendor_risk.keys import seal_secrets
    from vendor_risk.notices.service import load_library as load_notices
    from vendor_risk.policy import record_policy_in_use
    from vendor_risk.questionnaires.service import load_library

    conn = await connect(database_url(settings))
    try:
        applied = await migrate(conn)
        if applied and not quiet:
            print(f"applied migrations: {', '.join(applied)}")
        if await record_policy_in_use(conn, settings.policy) and not quiet:
            print(f"policy {settings.policy.sha256[:12]} from {settings.policy.source} recorded")
        # A refused file keeps its earlier versions in service: warn, do not stop.
        _print_loaded("questionnaire", (await load_library(conn)).outcomes, quiet=quiet)
        _print_loaded("notice", await load_notices(conn), quiet=quiet)
        if settings.data_keys:
            # Secrets written before they were sealed, or while no key was set, are sealed now.
            sealed = await seal_secrets(conn, settings.data_keys)
            count = (
                sealed.webhook_secrets + sealed.chat_channels + sealed.totp_secrets + sealed.client_id_numbers
            )
            if count and not quiet:
                print(f"sealed {count} secret(s) under data key {settings.data_keys[0].key_id!r}")
    finally:
        await conn.close()


def _print_loaded(
    kind: str, outcomes: Iterable[Any], *, quiet: bool = False, unchanged: bool = False
) -> None:
    """What loading a library (``kind``: questionnaire or notice) did, file by file; a
    refused file's errors go to stderr."""
    for outcome in outcomes:
        if outcome.status == "stored" and not quiet:
            print(f"loaded {kind} {outcome.key} version {outcome.version} ({outcome.file})")
        elif outcome.status == "unchanged" and unchanged and not quiet:
            print(f"unchanged: {outcome.key} version {outcome.version} ({outcome.file})")
        for error in outcome.errors:
            print(f"{kind} refused: {error}", file=sys.stderr)


async def _ensure_first_admin(settings: Settings) -> tuple[str, str] | None:
    """Create the first admin on an empty database: its one-time invitation link (to set a
    password for the pages) and an API key (for the API), both shown once."""
    from vendor_risk.audit.models import SYSTEM, Actor
    from vendor_risk.auth import service
    from vendor_risk.auth.models import Role, UserCreate
    from vendor_risk.db import connect, database_url

    conn = await connect(database_url(settings))
    try:
        async with conn.transaction():
            # Two `up`s against one database must not both create an admin.
            await conn.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"):
                return None
            data = UserCreate(email="admin@localhost", name="Administrator", role=Role.ADMIN)
            invited, link = await service.invite_user(conn, SYSTEM, data, settings)
            issued = await service.create_key(
                conn,
                Actor(id=invited.user.id, label="Administrator <admin@localhost>"),
                invited.user.id,
                "default",
            )
        return link, issued.key
    finally:
        await conn.close()


# --- up -------------------------------------------------------------------------------


def _dev_data_key(data_dir: Path) -> str:
    path = data_dir / "data.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"dev:{base64.b64encode(secrets.token_bytes(32)).decode()}\n")
        path.chmod(0o600)
        print(
            f"warning: generated a development data key in {path}; production must set "
            f"{PREFIX}DATA_KEYS (documents are encrypted with it)",
            file=sys.stderr,
        )
    return path.read_text().strip()


def _dev_secret_file(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private: the secret is never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make() + "\n")
    return path.read_text().strip()


def _dev_secrets(settings: Settings) -> Settings:
    """The session secret and the audit signing key ``up`` keeps in the data directory
    when the settings name none (production sets them)."""
    from vendor_risk.settings import parse_session_secret, parse_signing_key

    data_dir = Path(settings.data_dir)
    if not settings.session_secret:
        secret = _dev_secret_file(data_dir / "session.secret", lambda: secrets.token_urlsafe(48))
        settings = msgspec.structs.replace(
            settings, session_secret=parse_session_secret("session.secret", secret)
        )
    if settings.audit_signing_key is None:
        key = _dev_secret_file(
            data_dir / "audit-signing.key",
            lambda: f"dev:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        )
        settings = msgspec.structs.replace(
            settings, audit_signing_key=parse_signing_key("audit-signing.key", key)
        )
    return settings


@contextlib.contextmanager
def _embedded_if_needed(settings: Settings) -> Iterator[Settings]:
    if settings.database_url and settings.redis_url:
        yield settings
        return
    from vendor_risk.embedded import AlreadyRunning, EmbeddedServers, EmbeddedUnavailable

    data_dir = Path(settings.data_dir).resolve()
    servers = EmbeddedServers(data_dir)
    # A Ctrl-C while the servers start would leave the half that had started running (the
    # interrupt can land inside pgserver's start, before this process knows of PostgreSQL):
    # it is noted instead, and honoured once both are up and can be stopped.
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: interrupted.append(signum))
    try:
        servers.start()
    except (AlreadyRunning, EmbeddedUnavailable) as exc:
        _fail(str(exc))
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        servers.stop()
        raise KeyboardInterrupt
    print(f"embedded PostgreSQL and Redis running with their data in {data_dir}")
    try:
        yield msgspec.structs.replace(
            settings,
            database_url=settings.database_url or servers.database_url,
            redis_url=settings.redis_url or servers.redis_url,
        )
    finally:
        # `uv run` passes the terminal's Ctrl-C on too, so a second SIGINT lands here;
        # the databases' shutdown must finish rather than die in a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        servers.stop()


def _listen(host: str, port: int) -> socket.socket:
    """Take the address before anything is created or started, and keep it for uvicorn.

    A port taken fails with one line at once (uvicorn would find out only after the
    databases started and a key was shown). Held from the first moment, it cannot be
    taken during the start either: a port merely checked free was bound a minute later,
    and meanwhile any outgoing connection on the machine may get it as its local port,
    which it then holds for a minute more in TIME_WAIT after closing.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
        raise  # unreachable
    sock = socket.socket(family, kind, proto)
    # As uvicorn binds: a port in TIME_WAIT after our own server's connections is free.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        # Connections made while the databases start wait in the backlog for the server.
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}; stop what uses it or choose --port")
    return sock


def cmd_up(args: argparse.Namespace) -> None:
    listener = _listen(args.host, args.port)
    try:
        _up(args, listener)
    except KeyboardInterrupt:
        # Ctrl-C before serving began (migrations, the first admin) or while stopping:
        # the embedded servers were stopped on the way out; nothing to report but that.
        print("stopped")
    finally:
        listener.close()


def _up(args: argparse.Namespace, listener: socket.socket) -> None:
    settings = _settings()
    if not settings.data_keys:
        dev_key = _dev_data_key(Path(settings.data_dir))
        settings = msgspec.structs.replace(settings, data_keys=parse_data_keys("data.key", dev_key))
    settings = _dev_secrets(settings)
    if f"{PREFIX}LOG_JSON" not in os.environ and sys.stderr.isatty():
        # A developer at a terminal reads the log; machines get JSON.
        settings = msgspec.structs.replace(settings, log_json=False)
    if args.port != 8000 and settings.public_url == "http://127.0.0.1:8000":
        settings = msgspec.structs.replace(settings, public_url=f"http://{args.host}:{args.port}")
    if f"{PREFIX}SMTP_URL" not in os.environ:
        # A newcomer has no mail server: keep outgoing mail where an admin can read it.
        settings = msgspec.structs.replace(settings, dev_mailbox=True)
        print(
            f"no {PREFIX}SMTP_URL set: outgoing email is kept in the development mailbox, "
            f"{settings.public_url}/ui/dev/mail (admins; development only)"
        )
    with _embedded_if_needed(settings) as settings:
        asyncio.run(prepare_database(settings))
        first = asyncio.run(_ensure_first_admin(settings))
        if first:
            link, key = first
            print("\nCreated the first admin user (admin@localhost). Set its password for the pages here")
            print(f"(one-time link, valid 72 hours):\n\n    {link}\n")
            print("Its API key, shown only once:")
            print(f"\n    {key}\n")
            print(
                f"Next: curl -H 'Authorization: Bearer {key}' {settings.public_url}/api/v1/me"
                f"  (API docs: {settings.public_url}/schema)\n"
            )
        if args.demo:
            _print_demo(asyncio.run(_load_demo(settings)))
        _run_fast(_serve_with_worker(settings, args.host, args.port, listener))


async def _load_demo(settings: Settings) -> Any:
    from vendor_risk.db import connect, database_url
    from vendor_risk.demo import load_demo

    conn = await connect(database_url(settings))
    try:
        return await load_demo(conn, settings)
    finally:
        await conn.close()


def _print_demo(report: Any) -> None:
    if report.created:
        print(f"demo firm: loaded {len(report.created)} partners ({', '.join(report.created)})")
    if report.skipped:
        print(f"demo firm: {len(report.skipped)} partners were there already, left as they are")
    for refusal in report.refused:
        print(f"demo firm: refused: {refusal}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> None:
    """Load the demo firm into the configured database (or the embedded one ``up`` uses)."""
    with _embedded_if_needed(_settings()) as settings:
        asyncio.run(prepare_database(settings, quiet=True))
        _print_demo(asyncio.run(_load_demo(settings)))


async def _serve_with_worker(settings: Settings, host: str, port: int, listener: socket.socket) -> None:
    from vendor_risk.worker import run_worker

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Before the app is built (seconds on a busy machine): a Ctrl-C meanwhile stops `up`
    # as soon as the loop runs, rather than vanishing into the start.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = _uvicorn_server(settings, host, port)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    # run_worker outlives Redis outages: up keeps serving while Redis is away.
    working = asyncio.create_task(run_worker(settings))
    print(f"serving on http://{host}:{port} with the worker in this process; Ctrl-C stops")
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, working, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    working.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await working
    await serving
    stopped.cancel()
    print("stopped")


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run a server on uvloop: its event loop costs about a tenth less CPU per request
    than asyncio's (uvicorn picks it by itself only when it owns the loop)."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _import_without_rich() -> None:
    """Import structlog and httpx with rich (and pygments) hidden, when logs are JSON.

    Both import rich only to offer pretty console tracebacks (structlog's dev renderer,
    httpx's command line), which JSON logs never use; rich and pygments were about a
    fifth of the CPU ``serve`` spent importing. Anything importing them later gets them.
    """
    hidden = ("rich", "pygments")
    if any(name in sys.modules for name in (*hidden, "structlog", "httpx")):
        return
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import httpx  # noqa: F401
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


def _uvicorn_server(settings: Settings, host: str, port: int) -> Any:
    # What the imports and the app make (~140k objects) lives as long as the process. The
    # collector, off meanwhile, would only walk it again and again: that, and the full
    # collection that used to precede the freeze, were over a quarter of the start's CPU.
    # Frozen, it is out of the collector's sight for good, and a full collection no longer
    # walks it on a request. Start-up's garbage, left uncollected, is ~1k objects.
    gc.disable()
    try:
        if settings.log_json:
            _import_without_rich()
        import uvicorn

        from vendor_risk.app import create_app

        app = create_app(settings)
    finally:
        gc.freeze()
        gc.enable()

    class Server(uvicorn.Server):
        # The command owns signals so it can stop the worker and the embedded servers too.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,  # keep the JSON logging configured by create_app
        log_level=settings.log_level.lower(),
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        server_header=False,
        # No route is a WebSocket: loading an implementation was ~2% of the start's CPU.
        ws="none",
    )
    return Server(config)


# --- serve / worker / migrate -----------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings()
    _require_servers(settings)
    if not settings.session_secret:
        print(
            f"warning: {PREFIX}SESSION_SECRET is not set: each process signs its forms with its own "
            "secret, so a form rendered by one process is refused by another",
            file=sys.stderr,
        )
    if not args.skip_migrate:
        asyncio.run(prepare_database(settings))
    if args.workers > 1:
        import uvicorn

        uvicorn.run(
            "vendor_risk.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_config=None,
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies) or None,
            server_header=False,
            ws="none",
        )
        return

    async def run() -> None:
        server = _uvicorn_server(settings, args.host, args.port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        await server.serve()

    _run_fast(run())


def cmd_worker(args: argparse.Namespace) -> None:
    settings = _settings()
    _require_servers(settings)
    if args.check:
        from arq.worker import async_check_health

        from vendor_risk.queue import redis_settings

        code = asyncio.run(async_check_health(redis_settings(settings.redis_url or ""), None, None))
        raise SystemExit(code)
    from vendor_risk.worker import run_worker

    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        # Job counters live in this process; `up` shows them on the API's /metrics instead.
        start_http_server(settings.worker_metrics_port)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        # Cancelling stops the current worker gracefully; a Redis outage only pauses it.
        task = asyncio.create_task(run_worker(settings))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings()
    if not settings.database_url:
        _fail(f"set {PREFIX}DATABASE_URL")
    from vendor_risk.db import MigrationError

    try:
        asyncio.run(prepare_database(settings))
    except MigrationError as exc:
        _fail(str(exc))
    print("database is up to date")


# --- users ----------------------------------------------------------------------------


async def _with_conn(settings: Settings, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    from vendor_risk.db import connect, database_url

    conn = await connect(database_url(settings), data_keys=settings.data_keys)
    try:
        return await fn(conn)
    finally:
        await conn.close()


def _db_settings() -> Settings:
    settings = _settings()
    if not settings.database_url:
        _fail(f"set {PREFIX}DATABASE_URL")
    return settings


def cmd_users_create(args: argparse.Namespace) -> None:
    from vendor_risk.audit.models import Actor
    from vendor_risk.auth import service
    from vendor_risk.auth.models import UserCreate
    from vendor_risk.errors import Problem

    try:
        data = msgspec.convert(
            {"email": args.email, "name": args.name, "role": args.role, "locale": args.locale},
            UserCreate,
        )
    except msgspec.ValidationError as exc:
        _fail(str(exc))
    actor = Actor(id=None, label=f"cli:{os.environ.get('USER', 'unknown')}")
    settings = _db_settings()

    async def create(conn: Any) -> tuple[Any, str, str | None]:
        async with conn.transaction():
            invited, link = await service.invite_user(conn, actor, data, settings)
            key = None
            if args.api_key:
                # The key is the new user's own, created in their name for the operator.
                own = Actor(id=invited.user.id, label=f"{invited.user.name} <{invited.user.email}>")
                key = (await service.create_key(conn, own, invited.user.id, "default")).key
        return invited, link, key

    try:
        invited, link, key = asyncio.run(_with_conn(settings, create))
    except Problem as exc:
        _fail(exc.detail)
    print(f"created {invited.user.role} {invited.user.email} ({invited.user.id})")
    print(f"invitation link (one-time, valid 72 hours, also emailed): {link}")
    if key:
        print(f"API key (shown only once): {key}")


def cmd_users_list(args: argparse.Namespace) -> None:
    from vendor_risk.auth import repository as repo

    users = asyncio.run(_with_conn(_db_settings(), lambda c: repo.list_users(c, None, None, 10_000)))
    for user in users:
        state = "disabled" if user.disabled else "active"
        print(f"{user.id}  {user.role:<12} {state:<9} {user.email}  {user.name}")


def cmd_users_disable(args: argparse.Namespace) -> None:
    from vendor_risk.audit.models import Actor
    from vendor_risk.auth import repository as repo
    from vendor_risk.auth import service
    from vendor_risk.auth.models import UserUpdate
    from vendor_risk.errors import Problem

    actor = Actor(id=None, label=f"cli:{os.environ.get('USER', 'unknown')}")
    settings = _db_settings()

    async def disable(conn: Any) -> Any:
        user = await repo.find_user_by_email(conn, args.email)
        if user is None:
            raise SystemExit(f"vendor-risk: no user with email {args.email}")
        return await service.update_user(
            conn, actor, user.id, UserUpdate(version=user.version, disabled=True), settings
        )

    try:
        user = asyncio.run(_with_conn(settings, disable))
    except Problem as exc:
        _fail(exc.detail)
    print(f"disabled {user.email}; its sessions and API keys no longer work")


# --- questionnaires --------------------------------------------------------------------


def cmd_questionnaires_validate(args: argparse.Namespace) -> None:
    from vendor_risk.questionnaires.loader import validate_files
    from vendor_risk.questionnaires.service import LIBRARY_DIR

    paths = [Path(f) for f in args.files] or sorted(LIBRARY_DIR.glob("*.yaml"))
    if not paths:
        _fail(f"no questionnaire files in {LIBRARY_DIR}")
    errors = validate_files(paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        _fail(f"{len(errors)} error(s) in {len(paths)} file(s)", code=1)
    print(f"{len(paths)} questionnaire file(s) valid")


def cmd_questionnaires_load(args: argparse.Namespace) -> None:
    from vendor_risk.questionnaires.service import LIBRARY_DIR, load_library

    async def load(conn: Any, directory: Path) -> list[Any]:
        return (await load_library(conn, directory)).outcomes

    _load_command("questionnaire", Path(args.directory) if args.directory else LIBRARY_DIR, load)


def _load_command(kind: str, directory: Path, load: Callable[[Any, Path], Awaitable[list[Any]]]) -> None:
    """Load a library folder (``kind``: questionnaire or notice), report file by file, and
    exit 1 when a file was refused."""
    import asyncpg

    if not directory.is_dir():
        _fail(f"{directory} is not a directory")
    try:
        outcomes = asyncio.run(_with_conn(_db_settings(), lambda c: load(c, directory)))
    except asyncpg.UndefinedTableError:
        _fail(f"the database has no {kind} tables yet: run `vendor-risk migrate`")
    _print_loaded(kind, outcomes, unchanged=True)
    refused = [o for o in outcomes if o.status == "refused"]
    if refused:
        _fail(f"{len(refused)} file(s) refused", code=1)


# --- notices --------------------------------------------------------------------------


def cmd_notices_validate(args: argparse.Namespace) -> None:
    from vendor_risk.notices.loader import validate_files
    from vendor_risk.notices.service import LIBRARY_DIR

    paths = [Path(f) for f in args.files] or sorted(LIBRARY_DIR.glob("*.md"))
    if not paths:
        _fail(f"no notice files in {LIBRARY_DIR}")
    errors = validate_files(paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        _fail(f"{len(errors)} error(s) in {len(paths)} file(s)", code=1)
    print(f"{len(paths)} notice file(s) valid")


def cmd_notices_load(args: argparse.Namespace) -> None:
    from vendor_risk.notices.service import LIBRARY_DIR, load_library

    _load_command("notice", Path(args.directory) if args.directory else LIBRARY_DIR, load_library)


# --- audit ----------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> None:
    from vendor_risk.audit.checkpoints import CheckpointError, verify_with_checkpoints

    settings = _db_settings()
    files = [Path(f) for f in args.checkpoints]
    try:
        report = asyncio.run(
            _with_conn(settings, lambda c: verify_with_checkpoints(c, settings, files, args.public_key))
        )
    except CheckpointError as exc:
        _fail(str(exc))
    if not report.ok:
        print(
            f"audit chain BROKEN: {report.break_count} break(s) in {report.events_checked} events "
            f"read, compared with {report.checkpoints_checked} checkpoint(s)"
        )
        for item in report.breaks:
            print(f"  - {item.describe()}")
        if report.break_count > len(report.breaks):
            print(f"  … and {report.break_count - len(report.breaks)} more")
        raise SystemExit(1)
    print(
        f"audit chain intact: {report.events_checked} events verified, "
        f"{report.checkpoints_checked} checkpoint(s) matched"
    )


def cmd_audit_checkpoint(args: argparse.Namespace) -> None:
    from vendor_risk.audit.checkpoints import CheckpointError, create_checkpoint

    settings = _db_settings()
    try:
        checkpoint = asyncio.run(_with_conn(settings, lambda c: create_checkpoint(c, settings)))
    except CheckpointError as exc:
        _fail(str(exc))
    print(msgspec.json.encode(checkpoint).decode())
    if settings.audit_checkpoint_file:
        print(f"appended to {settings.audit_checkpoint_file}", file=sys.stderr)


# --- keys, backup and restore -----------------------------------------------------------


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    from vendor_risk.keys import RotationError, rotate

    settings = _db_settings()
    if not settings.data_keys:
        _fail(f"set {PREFIX}DATA_KEYS (the new key first, then every key still in use)")
    current = settings.data_keys[0].key_id
    try:
        report = asyncio.run(_with_conn(settings, lambda c: rotate(c, settings.data_keys, args.batch)))
    except RotationError as exc:
        _fail(str(exc), code=1)
    print(f"re-sealed under key {current!r}:")
    print(f"  documents and evidence files: {report.documents}")
    print(f"  outbox payloads:              {report.outbox_payloads}")
    print(f"  webhook secrets:              {report.webhook_secrets}")
    print(f"  chat robots:                  {report.chat_channels}")
    print(f"  second-factor (TOTP) secrets: {report.totp_secrets}")
    print(f"  client ID numbers:            {report.client_id_numbers}")
    if report.remaining:
        left = ", ".join(f"{key}: {n}" for key, n in report.remaining.items())
        print(f"still under other keys (written meanwhile; run again): {left}")
        raise SystemExit(1)
    others = [k.key_id for k in settings.data_keys[1:]]
    if others:
        print(f"nothing needs {', '.join(others)} any more: they can be removed from {PREFIX}DATA_KEYS")


def cmd_backup(args: argparse.Namespace) -> None:
    from vendor_risk.backup import BackupError, backup
    from vendor_risk.db import database_url

    settings = _db_settings()
    try:
        manifest = asyncio.run(backup(database_url(settings), Path(args.file)))
    except BackupError as exc:
        _fail(str(exc), code=1)
    print(
        f"backup written to {args.file}: audit head {manifest.audit_head.seq}, "
        f"{manifest.documents} document(s), migration {manifest.migration}"
    )
    if manifest.key_ids:
        print(
            f"it needs data key(s) {', '.join(manifest.key_ids)}: they are not in the backup, "
            "keep them backed up separately"
        )


def cmd_restore(args: argparse.Namespace) -> None:
    from vendor_risk.backup import BackupError, restore
    from vendor_risk.db import database_url

    settings = _db_settings()
    try:
        report = asyncio.run(restore(Path(args.file), database_url(settings), settings.data_keys))
    except BackupError as exc:
        _fail(str(exc), code=1)
    print(
        f"restored {args.file} (taken {report.manifest.created_at.isoformat()}): "
        f"{report.events_checked} audit events checked, {report.sampled} sealed value(s) opened"
    )
    if report.problems:
        print("restore CHECK FAILED:")
        for problem in report.problems:
            print(f"  - {problem}")
        raise SystemExit(1)
    print("audit chain intact up to the backup's head; sampled documents and secrets decrypt")


# --- policy ---------------------------------------------------------------------------


def cmd_policy_validate(args: argparse.Namespace) -> None:
    from vendor_risk.policy import PolicyError, load_policy, shipped_policy_path

    path = Path(args.file) if args.file else shipped_policy_path()
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        for message in exc.messages:
            print(message, file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{path}: valid, version {policy.sha256}")


# --- playbooks ------------------------------------------------------------------------


def cmd_playbooks_validate(args: argparse.Namespace) -> None:
    from vendor_risk.incidents.loader import PLAYBOOKS_DIR, validate_files

    paths = [Path(f) for f in args.files] or sorted(PLAYBOOKS_DIR.glob("*.yaml"))
    errors = validate_files(paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        raise SystemExit(1)
    print(f"{len(paths)} playbook(s) valid")


# --- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vendor-risk",
        description="Third-party (partner) risk management. Configuration comes from "
        f"{PREFIX}* environment variables (see the README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything in one process (embedded databases when none are configured)",
        description="Start the API, the partner portal and the worker in one process. Without "
        f"{PREFIX}DATABASE_URL/{PREFIX}REDIS_URL it runs embedded PostgreSQL and Redis with their "
        "data under .vendor-risk/. On first run it creates an admin and prints its invitation link "
        "and API key once.",
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--demo", action="store_true", help="load the demo firm first (idempotent)")
    up.set_defaults(func=cmd_up)

    sub.add_parser(
        "demo",
        help="load a bilingual demo firm: a dozen partners, agreements, scopes, assessments, an incident",
    ).set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve the API and portal (production; uvicorn)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - containers listen on all interfaces
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--skip-migrate", action="store_true", help="do not apply migrations at start")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the arq worker only")
    worker.add_argument("--check", action="store_true", help="exit 0 if a worker reported healthy recently")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations and load content")
    migrate.set_defaults(func=cmd_migrate)

    users = sub.add_parser("users", help="manage staff users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser(
        "create", help="invite a user: print (and email) the one-time link to set a password"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["admin", "procurement", "risk_owner", "auditor"])
    create.add_argument("--locale", default="zh-CN", choices=["zh-CN", "en"])
    create.add_argument("--api-key", action="store_true", help="also create the user's first API key")
    create.set_defaults(func=cmd_users_create)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
    disable = users.add_parser("disable", help="disable a user; its sessions and keys stop at once")
    disable.add_argument("--email", required=True)
    disable.set_defaults(func=cmd_users_disable)

    questionnaires = sub.add_parser(
        "questionnaires", help="the questionnaire library (questionnaires/*.yaml)"
    ).add_subparsers(dest="questionnaires_command", required=True)
    validate = questionnaires.add_parser(
        "validate",
        help="check questionnaire files; exit 1 printing every error with its file and path",
    )
    validate.add_argument(
        "files", nargs="*", metavar="FILE", help="files to check (default: questionnaires/*.yaml)"
    )
    validate.set_defaults(func=cmd_questionnaires_validate)
    load = questionnaires.add_parser(
        "load",
        help="store each file as a template version (unchanged: no-op; changed: needs a "
        "higher version); exit 1 if any file is refused",
    )
    load.add_argument(
        "directory", nargs="?", metavar="DIR", help="folder of *.yaml (default: questionnaires/)"
    )
    load.set_defaults(func=cmd_questionnaires_load)

    notices = sub.add_parser("notices", help="the security notices (notices/*.md)").add_subparsers(
        dest="notices_command", required=True
    )
    validate = notices.add_parser(
        "validate", help="check notice files; exit 1 printing every error with its file and field"
    )
    validate.add_argument("files", nargs="*", metavar="FILE", help="files to check (default: notices/*.md)")
    validate.set_defaults(func=cmd_notices_validate)
    load = notices.add_parser(
        "load",
        help="store each file as a notice version (unchanged: no-op; changed: needs a higher "
        "version); exit 1 if any file is refused",
    )
    load.add_argument("directory", nargs="?", metavar="DIR", help="folder of *.md (default: notices/)")
    load.set_defaults(func=cmd_notices_load)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser(
        "verify",
        help="prove the hash chain unbroken and complete up to every signed checkpoint "
        "(exit 1 listing every break)",
    )
    verify.add_argument(
        "--checkpoints",
        action="append",
        default=[],
        metavar="FILE",
        help="JSON lines of signed checkpoints kept outside the database (repeatable)",
    )
    verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="BASE64",
        help="also trust checkpoints signed by this Ed25519 public key (a retired signing key)",
    )
    verify.set_defaults(func=cmd_audit_verify)
    audit.add_parser(
        "checkpoint", help="sign the chain's head now and send it to the auditors (and the file)"
    ).set_defaults(func=cmd_audit_checkpoint)

    keys = sub.add_parser("keys", help="data keys").add_subparsers(dest="keys_command", required=True)
    rotate = keys.add_parser(
        "rotate",
        help="re-encrypt every document, evidence file and secret under the first key of "
        f"{PREFIX}DATA_KEYS (in batches; run again to resume)",
    )
    rotate.add_argument("--batch", type=int, default=200, help="rows per transaction")
    rotate.set_defaults(func=cmd_keys_rotate)

    backup = sub.add_parser(
        "backup", help="pg_dump (custom format) and a manifest (audit head, key ids) into one file"
    )
    backup.add_argument("file", metavar="FILE")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser(
        "restore",
        help=f"restore FILE into the empty database of {PREFIX}DATABASE_URL, then verify the audit "
        "chain and test-decrypt a sample",
    )
    restore.add_argument("file", metavar="FILE")
    restore.set_defaults(func=cmd_restore)

    playbooks = sub.add_parser("playbooks", help="incident playbooks").add_subparsers(
        dest="playbooks_command", required=True
    )
    validate = playbooks.add_parser(
        "validate",
        help="check playbook files (default: the shipped ones); exit 1 listing every error",
    )
    validate.add_argument("files", nargs="*", metavar="FILE")
    validate.set_defaults(func=cmd_playbooks_validate)

    policy = sub.add_parser("policy", help="the risk policy file").add_subparsers(
        dest="policy_command", required=True
    )
    check = policy.add_parser(
        "validate", help="check a policy file (default: the shipped policy.yaml); exit 1 naming every bad key"
    )
    check.add_argument("file", nargs="?", metavar="FILE")
    check.set_defaults(func=cmd_policy_validate)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
