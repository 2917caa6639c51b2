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


# Columns PostgreSQL manages on its own and the ORM never reads or writes: generated full-text vectors (and
# their indexes), and embedding columns that exist only where pgvector was there at migration time; indexes
# that exist only where an extension was (the contacts' trigram index needs pg_trgm).
DATABASE_ONLY_COLUMNS = {("chunks", "tsv"), ("chunks", "embedding"), ("qa_pairs", "tsv"), ("qa_pairs", "embedding")}
DATABASE_ONLY_INDEXES = {"ix_chunks_tsv", "ix_qa_pairs_tsv", "ix_contacts_search_text_trgm"}


def _only_what_the_models_own(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if type_ == "table" and reflected and compare_to is None:
        return False  # tables of others (procrastinate's queue, alembic_version)
    if type_ == "column" and (getattr(getattr(obj, "table", None), "name", None), name) in DATABASE_ONLY_COLUMNS:
        return False
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)


def test_the_orm_models_and_the_migrations_agree(database_url: str) -> None:
    """A model changed without a migration (or the reverse) is a difference here: columns, types,
    nullability, indexes, unique constraints and foreign keys."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from easyflow import models
    from easyflow.db.base import Base
    from easyflow.db.urls import sqlalchemy_url

    assert models.__all__
    engine = create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy does not know pgvector's type; those columns are skipped
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": _only_what_the_models_own}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
