"""The job queue's schema is the installed procrastinate's own: what our migrations built is compared, object
by object, with procrastinate's schema.sql applied to a scratch database on the same server. A procrastinate
bump whose schema our migrations do not reach fails here, as does a database built before the version was
recorded, and the SQL way to defer (`easyflow_defer_job`) must insert what procrastinate's API inserts."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from packaging.requirements import Requirement
from procrastinate import sql as procrastinate_sql
from procrastinate.schema import SchemaManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db import job_queue_schema, migrate
from easyflow.db.urls import psycopg_conninfo
from easyflow.kit import jobs
from tests.support import create_database, drop_database

# Everything procrastinate creates carries its prefix; each query gives comparable rows for one kind of object.
CATALOGUE = {
    "columns": """
        SELECT c.relkind::text, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = current_schema() AND c.relname LIKE 'procrastinate%'
          AND c.relkind IN ('r', 'v', 'm', 'c') AND a.attnum > 0 AND NOT a.attisdropped""",
    "relations": """
        SELECT c.relkind::text, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relname LIKE 'procrastinate%'""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
               p.prokind::text, p.prosrc
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'""",
    "enums": """
        SELECT t.typname, string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%' GROUP BY t.typname""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%'""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = current_schema() AND c.conrelid::regclass::text LIKE 'procrastinate%'""",
    "triggers": """
        SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
        WHERE NOT t.tgisinternal AND t.tgrelid::regclass::text LIKE 'procrastinate%'""",
}


def catalogue(url: str) -> dict[str, set[tuple[object, ...]]]:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        return catalogue_of(conn)


def catalogue_of(conn: psycopg.Connection) -> dict[str, set[tuple[object, ...]]]:
    return {kind: {tuple(row) for row in conn.execute(query).fetchall()} for kind, query in CATALOGUE.items()}


def recorded_version(url: str) -> str:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        row = conn.execute("SELECT procrastinate_version FROM easyflow_job_queue_schema").fetchone()
        assert row is not None
        return str(row[0])


def assert_same_catalogue(ours: dict[str, set[tuple[object, ...]]], theirs: dict[str, set[tuple[object, ...]]]) -> None:
    for kind in CATALOGUE:
        assert ours[kind] == theirs[kind], (
            f"{kind} differ from procrastinate {job_queue_schema.installed_version()}'s schema.sql: "
            f"only ours {sorted(map(str, ours[kind] - theirs[kind]))}, "
            f"only theirs {sorted(map(str, theirs[kind] - ours[kind]))}"
        )


@pytest.fixture(scope="module")
def procrastinate_catalogue(embedded_server: str) -> Iterator[dict[str, set[tuple[object, ...]]]]:
    """procrastinate's schema.sql as procrastinate itself applies it, on a scratch database."""
    name = f"easyflow_procrastinate_{os.getpid()}"
    url = create_database(embedded_server, name)
    try:
        with psycopg.connect(psycopg_conninfo(url)) as conn:
            conn.execute(SchemaManager.get_schema())
        theirs = catalogue(url)
        assert all(theirs.values()), "every kind of object is found, or the comparison proves nothing"
        yield theirs
    finally:
        drop_database(embedded_server, name)


@pytest.fixture
def scratch_database(embedded_server: str) -> Iterator[str]:
    name = f"easyflow_queue_upgrade_{os.getpid()}"
    yield create_database(embedded_server, name)
    drop_database(embedded_server, name)


def test_procrastinate_is_pinned_to_a_range_that_holds_the_installed_version() -> None:
    """The range in pyproject.toml is the one these tests ran against: bounded above, so an untested
    release with a new schema is not installed by accident."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    (pin,) = [r for r in map(Requirement, pyproject["project"]["dependencies"]) if r.name == "procrastinate"]
    assert pin.specifier.contains(job_queue_schema.installed_version())
    assert any(spec.operator in ("<", "<=", "==", "~=") for spec in pin.specifier), "no upper bound"


def test_migrated_queue_is_the_installed_procrastinate_schema(
    database_url: str, procrastinate_catalogue: dict[str, set[tuple[object, ...]]]
) -> None:
    assert_same_catalogue(catalogue(database_url), procrastinate_catalogue)
    assert recorded_version(database_url) == job_queue_schema.installed_version()


def test_the_comparison_sees_a_changed_function_and_a_new_column(
    database_url: str, procrastinate_catalogue: dict[str, set[tuple[object, ...]]]
) -> None:
    """What a procrastinate migration typically does, done here by hand (rolled back): both are caught."""
    with psycopg.connect(psycopg_conninfo(database_url)) as conn:
        try:
            conn.execute(
                "CREATE OR REPLACE FUNCTION procrastinate_unlink_periodic_defers_v1() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END; $$"
            )
            conn.execute("ALTER TABLE procrastinate_jobs ADD COLUMN worker_hint text")
            drifted = catalogue_of(conn)
        finally:
            conn.rollback()
    with pytest.raises(AssertionError, match="columns differ"):
        assert_same_catalogue(drifted, procrastinate_catalogue)
    drifted["columns"] = procrastinate_catalogue["columns"]
    with pytest.raises(AssertionError, match="functions differ"):
        assert_same_catalogue(drifted, procrastinate_catalogue)


def test_a_database_built_before_the_version_was_recorded_ends_up_identical(
    scratch_database: str, procrastinate_catalogue: dict[str, set[tuple[object, ...]]]
) -> None:
    """Such a database has its queue from 20261123_job_queue but no version table: upgrading records the
    baseline and applies procrastinate's migrations after it."""
    migrate.upgrade(scratch_database, "20261126_contrib_extensions")
    with psycopg.connect(psycopg_conninfo(scratch_database)) as conn:
        conn.execute("DROP TABLE easyflow_job_queue_schema")
    migrate.upgrade(scratch_database)
    assert_same_catalogue(catalogue(scratch_database), procrastinate_catalogue)
    assert recorded_version(scratch_database) == job_queue_schema.installed_version()


def test_catch_up_applies_each_newer_migration_once_in_order(database_url: str, tmp_path: Path) -> None:
    """A procrastinate release with migrations, simulated by a folder of them, on the test database
    (rolled back)."""
    (tmp_path / "03.10.00_01_pre_old.sql").write_text("SELECT 1/0;")  # already in the recorded schema
    (tmp_path / "03.11.00_50_post_second.sql").write_text("INSERT INTO catch_up_log VALUES ('post');")
    (tmp_path / "03.11.00_01_pre_first.sql").write_text(
        "CREATE TABLE catch_up_log (step text); INSERT INTO catch_up_log VALUES ('pre');"
    )
    (tmp_path / "03.12.00_01_pre_not_yet.sql").write_text("SELECT 1/0;")  # newer than the installed one
    with psycopg.connect(psycopg_conninfo(database_url)) as conn:
        try:
            with conn.cursor() as cursor:
                applied = job_queue_schema.catch_up(cursor, directory=tmp_path, version="3.11.0")
                assert applied == ["03.11.00_01_pre_first.sql", "03.11.00_50_post_second.sql"]
                assert cursor.execute("SELECT step FROM catch_up_log").fetchall() == [("pre",), ("post",)]
                assert cursor.execute("SELECT procrastinate_version FROM easyflow_job_queue_schema").fetchone() == (
                    "3.11.0",
                )
                assert job_queue_schema.catch_up(cursor, directory=tmp_path, version="3.11.0") == []
                with pytest.raises(RuntimeError, match="newer than the installed"):
                    job_queue_schema.catch_up(cursor, directory=tmp_path, version="3.10.0")
        finally:
            conn.rollback()


def test_procrastinate_migrations_are_selected_by_release() -> None:
    names = [path.name for path in job_queue_schema.migrations_between("3.3.0", "3.10.0")]
    assert names == [
        "03.04.00_01_pre_add_retry_failed_job_procedure.sql",
        "03.04.00_50_post_add_retry_failed_job_procedure.sql",
    ]
    assert job_queue_schema.migrations_between("3.10.0", "3.10.0") == []


async def test_defer_commits_and_rolls_back_with_the_callers_transaction(session: AsyncSession) -> None:
    jobs.job("tests.noop", lock="thing:{thing_id}", queue="tests")(_noop)
    try:
        async with session.begin_nested():
            job_id = await jobs.defer(session, "tests.noop", thing_id=7)
        assert await _job(session, job_id) == ("tests", "tests.noop", "thing:7", {"thing_id": 7}, 0, "todo")

        with pytest.raises(ZeroDivisionError):
            async with session.begin_nested():
                lost_id = await jobs.defer(session, "tests.noop", thing_id=8)
                1 / 0  # noqa: B018
        assert await _job(session, lost_id) is None
    finally:
        del jobs.JOBS["tests.noop"]


async def test_sql_deferral_inserts_what_procrastinates_api_inserts(session: AsyncSession) -> None:
    jobs.job("tests.noop", lock="thing:{thing_id}", queue="tests")(_noop)
    try:
        through_api = await jobs.defer(session, "tests.noop", thing_id=7)
        through_sql = (
            await session.execute(
                text("SELECT easyflow_defer_job('tests', 'tests.noop', 'thing:7', CAST(:args AS jsonb))"),
                {"args": json.dumps({"thing_id": 7})},
            )
        ).scalar_one()
        assert await _job(session, through_sql) == await _job(session, through_api)
    finally:
        del jobs.JOBS["tests.noop"]


async def test_sql_deferral_calls_the_function_procrastinate_itself_calls(session: AsyncSession) -> None:
    """procrastinate versions its internal function (`..._v1`); its own defer query names the current one."""
    current = re.search(r"procrastinate_defer_jobs_v\d+", procrastinate_sql.queries["defer_jobs"])
    assert current is not None
    definition = (
        await session.execute(
            text("SELECT pg_get_functiondef('easyflow_defer_job(text, text, text, jsonb)'::regprocedure)")
        )
    ).scalar_one()
    assert f"{current.group()}(" in definition


async def _noop(runtime: object, **args: object) -> None:
    return None


async def _job(session: AsyncSession, job_id: int) -> tuple[object, ...] | None:
    row = (
        await session.execute(
            text(
                "SELECT queue_name, task_name, lock, args, priority, status::text FROM procrastinate_jobs "
                "WHERE id = :id"
            ),
            {"id": job_id},
        )
    ).first()
    return None if row is None else tuple(row)
