"""procrastinate's schema, applied through our migrations from procrastinate's own files.

A new database gets the installed procrastinate's `schema.sql` (revision `20261123_job_queue`), and the
version it came from is recorded in `easyflow_job_queue_schema`. Every run of our migrations then applies
procrastinate's migrations newer than the recorded version (`catch_up`, called by `env.py`), so a database
built by an older procrastinate ends up with exactly the schema a new one gets from the installed version:
bumping procrastinate (within the range pinned in pyproject.toml) needs no migration of ours.
procrastinate's migrations only go forward; downgrading our revisions does not undo them.

Scripts run on a DB-API cursor without parameters, so psycopg sends them as they are (`%` and `:` in
procrastinate's SQL are not read as placeholders).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from procrastinate.schema import SchemaManager
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(SchemaManager.get_migrations_path())
# procrastinate names each migration after the release that ships it: 03.04.00_01_pre_<what>.sql
_MIGRATION_NAME = re.compile(r"^(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql$")


def installed_version() -> str:
    return metadata.version("procrastinate")


def version_key(version: str) -> tuple[int, int, int]:
    """3.10.0 -> (3, 10, 0); a pre-release counts as its release."""
    found = re.match(r"^(\d+)\.(\d+)\.(\d+)", version)
    if found is None:
        raise ValueError(f"not a procrastinate version: {version!r}")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def migrations_between(recorded: str, version: str, directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """procrastinate's migration files of the releases after `recorded` up to `version`, in the order they
    apply (a release's `pre` migrations before its `post` ones: their numbers say so)."""
    after, upto = version_key(recorded), version_key(version)
    found: list[tuple[tuple[int, ...], Path]] = []
    for path in directory.glob("*.sql"):
        name = _MIGRATION_NAME.match(path.name)
        if name is not None and after < tuple(int(part) for part in name.groups()[:3]) <= upto:
            found.append((tuple(int(part) for part in name.groups()), path))
    return [path for _, path in sorted(found)]


@contextmanager
def cursor(connection: Connection) -> Iterator[Any]:
    """A DB-API cursor in the migration's own transaction."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    raw = dbapi_connection.cursor()
    try:
        yield raw
    finally:
        raw.close()


def create(cursor: Any) -> None:
    """A new database's job queue: the installed procrastinate's whole schema, and its version."""
    cursor.execute(SchemaManager.get_schema())
    cursor.execute("CREATE TABLE easyflow_job_queue_schema (procrastinate_version text NOT NULL)")
    cursor.execute("INSERT INTO easyflow_job_queue_schema VALUES (%s)", (installed_version(),))


def catch_up(cursor: Any, *, directory: Path = MIGRATIONS_DIR, version: str | None = None) -> list[str]:
    """Apply procrastinate's migrations newer than the recorded version and record `version` (the installed
    one); returns the files applied. A database whose queue is not there yet (before `20261123_job_queue`,
    or downgraded past it) is left alone."""
    version = version or installed_version()
    cursor.execute("SELECT to_regclass('easyflow_job_queue_schema') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return []
    cursor.execute("SELECT procrastinate_version FROM easyflow_job_queue_schema FOR UPDATE")
    recorded = cursor.fetchone()[0]
    if version_key(recorded) > version_key(version):
        raise RuntimeError(
            f"the job queue's schema is from procrastinate {recorded}, newer than the installed {version}: "
            "install the procrastinate version this database was migrated with"
        )
    applied = migrations_between(recorded, version, directory)
    for path in applied:
        cursor.execute(path.read_text(encoding="utf-8"))
    if recorded != version:
        cursor.execute("UPDATE easyflow_job_queue_schema SET procrastinate_version = %s", (version,))
    return [path.name for path in applied]
