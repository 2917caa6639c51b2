"""The procrastinate job queue's tables, types and functions: the installed procrastinate's own schema,
and the version it came from (later versions' migrations are applied by `job_queue_schema.catch_up`).

Revision ID: 20261123_job_queue
Revises: 20261123_tenancy
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from easyflow.db import job_queue_schema

revision = "20261123_job_queue"
down_revision = "20261123_tenancy"
branch_labels = None
depends_on = None

# Drops every object procrastinate created (they all carry its prefix), in dependency-safe order.
DROP_PROCRASTINATE = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
                 AND tablename LIKE 'procrastinate%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
    END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%' AND t.typtype IN ('c', 'e')
    LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
    END LOOP;
    DROP TABLE IF EXISTS easyflow_job_queue_schema;
END
$$;
"""


def upgrade() -> None:
    with job_queue_schema.cursor(op.get_bind()) as cursor:
        job_queue_schema.create(cursor)


def downgrade() -> None:
    with job_queue_schema.cursor(op.get_bind()) as cursor:
        cursor.execute(DROP_PROCRASTINATE)
