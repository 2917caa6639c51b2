"""Alembic environment: runs against the URL handed over in `config.attributes` (see easyflow.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

import easyflow.models  # noqa: F401  (registers every table on Base.metadata)
from easyflow.db import job_queue_schema
from easyflow.db.base import Base
from easyflow.db.rls import create_app_role_sql
from easyflow.db.urls import sqlalchemy_url

config = context.config
# Several processes may start at once (API and workers); one migrates, the others wait for it.
MIGRATION_LOCK_KEY = 7_302_118_455


def run_migrations_online() -> None:
    engine = create_engine(sqlalchemy_url(config.attributes["database_url"]), poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
                # The job queue follows the installed procrastinate, which can change without a revision of ours.
                with job_queue_schema.cursor(connection) as cursor:
                    job_queue_schema.catch_up(cursor)
            connection.execute(text(create_app_role_sql()))
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
    engine.dispose()


run_migrations_online()
