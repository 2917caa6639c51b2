"""A data folder made by the pgserver-era embedded PostgreSQL 16 is refused with the command that upgrades it,
and that command upgrades it to the bundled server without losing anything, keeping the old folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from easyflow.db import migrate
from easyflow.db.embedded import (
    UPGRADE_COMMAND,
    EmbeddedDataNeedsUpgrade,
    EmbeddedPostgres,
    bundled_major_version,
    data_folder_major_version,
)
from tests.support import EASYFLOW, process_env

KEEPSAKE = "Запись на стрижку, 14:00 — не потерять"
# The schema an old folder can have: booking's migration needs btree_gist, a contrib module pgserver never shipped,
# so easyflow on PostgreSQL 16 went no further; the upgraded folder then takes booking's migrations.
LAST_REVISION_BEFORE_BOOKING = "20261208_booking_conn"


def _make_pg16_folder(data_dir: Path) -> None:
    """What easyflow before PostgreSQL 18 left: pgserver's cluster with the migrated easyflow database."""
    old = EmbeddedPostgres(data_dir, package="pgserver")
    url = old.start()
    try:
        migrate.upgrade(url, LAST_REVISION_BEFORE_BOOKING)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE keepsake (note text)")
            conn.execute("INSERT INTO keepsake VALUES (%s)", (KEEPSAKE,))
    finally:
        old.stop()  # a clean stop, as `easyflow serve` does on exit


@pytest.mark.slow
def test_an_old_data_folder_is_refused_then_upgraded_with_a_backup(server_folder: Path) -> None:
    pytest.importorskip("pgserver", reason="pgserver (a dev dependency) makes the PostgreSQL 16 folder")
    _make_pg16_folder(server_folder)
    pgdata = server_folder / "pgdata"
    assert data_folder_major_version(pgdata) == 16

    with pytest.raises(EmbeddedDataNeedsUpgrade) as refused:
        EmbeddedPostgres(server_folder).start()
    assert f"{UPGRADE_COMMAND} --data-dir {pgdata.resolve().parent}" in str(refused.value)
    assert data_folder_major_version(pgdata) == 16, "refusing changes nothing"

    env = {**process_env("postgresql://unused@/unused", str(server_folder)), "EASYFLOW_DATABASE_URL": ""}
    env.pop("EASYFLOW_DATABASE_APP_URL")
    served = subprocess.run([EASYFLOW, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert served.returncode == 1
    assert "PostgreSQL 16" in served.stderr and UPGRADE_COMMAND in served.stderr

    upgraded = subprocess.run(
        [EASYFLOW, "upgrade-embedded", "--data-dir", str(server_folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert upgraded.returncode == 0, upgraded.stderr + upgraded.stdout
    assert f"Upgraded PostgreSQL 16 -> {bundled_major_version()}" in upgraded.stdout
    backups = list(server_folder.glob("pgdata-pg16-backup-*"))
    assert len(backups) == 1 and data_folder_major_version(backups[0]) == 16, "the old folder is kept"
    assert data_folder_major_version(pgdata) == bundled_major_version()

    server = EmbeddedPostgres(server_folder)
    url = server.start()
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT note FROM keepsake").fetchall() == [(KEEPSAKE,)]
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
            installed, shipped = conn.execute(
                "SELECT extversion, (SELECT default_version FROM pg_available_extensions WHERE name = 'vector')"
                " FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            assert installed == shipped, "pgvector is brought to the bundled version (no CVE-2026-3172)"
        migrate.upgrade(url)  # the upgraded database takes the newer migrations
    finally:
        server.stop()
