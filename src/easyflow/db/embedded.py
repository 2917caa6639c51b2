"""The embedded PostgreSQL (16 + pgvector, from the `pgserver` package) used when no URL is configured.

pgserver keeps two pieces of state in the data folder that go stale after a crash: `postmaster.pid` of a
postgres that was killed, and `.handle_pids.json`, the processes that share the server. A dead holder in
that list keeps the last live one from stopping the server; a postgres killed with -9 can leave backends
that still hold its shared memory for a moment, so the first start after it fails. Both are mended here
before and, once, after a failed start.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import psutil
import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "easyflow"
_HANDLES_FILE = ".handle_pids.json"
_ORPHAN_WAIT_SECONDS = 5.0


class EmbeddedPostgres:
    """The embedded server in `<data_dir>/pgdata`; `stop()` stops it unless another process still uses it."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: object | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return a plain URL of the easyflow database."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver.postgres_server import PostgresServer

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_cached_server(self.pgdata)
        _forget_dead_handles(self.pgdata)
        _remove_stale_postmaster_pid(self.pgdata)
        try:
            server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as first_error:
            log.warning("embedded_postgres.start_failed_recovering", error=str(first_error))
            _stop_orphans(self.pgdata)
            _remove_stale_postmaster_pid(self.pgdata)
            server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        self._server = server
        with PostgresServer._lock:  # a cached handle was not counted again by pgserver
            server.global_process_id_list.get_and_add(os.getpid())
        base_uri: str = server.get_uri()
        _ensure_database(server)
        log.info("embedded_postgres.ready", pgdata=str(self.pgdata))
        return base_uri.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    def stop(self) -> None:
        """Stop the server unless another live process still uses it.

        pgserver's own accounting goes wrong when a handle is reused in one process or a holder died,
        so the holders are counted here from the handle file, dead ones dropped.
        """
        if self._server is None:
            return
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
        from pgserver.postgres_server import PostgresServer

        server, self._server = self._server, None
        atexit.unregister(server._cleanup)  # type: ignore[attr-defined]
        PostgresServer._instances.pop(self.pgdata, None)
        with PostgresServer._lock:
            _forget_dead_handles(self.pgdata)
            others = server.global_process_id_list.get_and_remove(os.getpid())  # type: ignore[attr-defined]
            if [pid for pid in others if pid != os.getpid()]:
                return
            if _postmaster_pid(self.pgdata) is not None:
                pg_ctl(["-w", "stop"], pgdata=self.pgdata, user=server.system_user)  # type: ignore[attr-defined]


def _ensure_database(server: object) -> None:
    exists = server.psql(  # type: ignore[attr-defined]
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608  (a constant)
    )
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")  # type: ignore[attr-defined]


def _forget_dead_cached_server(pgdata: Path) -> None:
    """pgserver hands out one cached handle per data folder for the life of the process, even after its
    postgres died; drop such a handle so the next start really starts a server."""
    from pgserver.postgres_server import PostgresServer

    cached = PostgresServer._instances.get(pgdata)
    info = getattr(cached, "_postmaster_info", None)
    if cached is None or (info is not None and info.is_running()):
        return
    atexit.unregister(cached._cleanup)
    cached.global_process_id_list.get_and_remove(os.getpid())
    del PostgresServer._instances[pgdata]


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


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    first_line = pid_file.read_text().splitlines()[:1]
    return int(first_line[0]) if first_line and first_line[0].strip().isdigit() else None


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(pgdata) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _remove_stale_postmaster_pid(pgdata: Path) -> None:
    pid = _postmaster_pid(pgdata)
    if pid is not None and not _is_our_postmaster(pid, pgdata):
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
