"""The procrastinate job queue's tables, types and functions.

Revision ID: 20261123_job_queue
Revises: 20261123_tenancy
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

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
END
$$;
"""


def _run_script(script: str) -> None:
    """Send a whole SQL script as it is: with no parameters psycopg does not read its `%` and `:` signs."""
    dbapi_connection = op.get_bind().connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(script)
    finally:
        cursor.close()


def upgrade() -> None:
    _run_script(SchemaManager.get_schema())


def downgrade() -> None:
    _run_script(DROP_PROCRASTINATE)
