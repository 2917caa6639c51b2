"""Every migration goes up from an empty database and back down to empty."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from easyflow.db import migrate
from tests.support import create_database, drop_database


def _tables(url: str) -> set[str]:
    conninfo = make_url(url).render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def empty_database(embedded_server: str) -> Iterator[str]:
    name = f"easyflow_migrations_{os.getpid()}"
    yield create_database(embedded_server, name)
    drop_database(embedded_server, name)


def test_upgrade_from_empty_to_head_and_back(empty_database: str) -> None:
    assert migrate.current_revision(empty_database) is None
    migrate.upgrade(empty_database)
    assert migrate.current_revision(empty_database) == migrate.head_revision()
    assert {"tenants", "users", "memberships", "api_keys", "refresh_tokens"} <= _tables(empty_database)

    migrate.downgrade(empty_database, "base")
    assert migrate.current_revision(empty_database) is None
    assert _tables(empty_database) <= {"alembic_version"}

    migrate.upgrade(empty_database)  # and up again: downgrade left nothing behind that blocks it
    assert migrate.current_revision(empty_database) == migrate.head_revision()


def test_upgrade_twice_is_a_no_op(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    before = _tables(empty_database)
    migrate.upgrade(empty_database)
    assert _tables(empty_database) == before


def test_every_revision_steps_down_one_at_a_time(empty_database: str) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database))
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    migrate.upgrade(empty_database)
    for revision in revisions:
        assert migrate.current_revision(empty_database) == revision
        migrate.downgrade(empty_database, "-1")
    assert migrate.current_revision(empty_database) is None
