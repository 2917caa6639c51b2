"""The job queue's procrastinate version, recorded, and `easyflow_defer_job`, the one way SQL of ours defers.

Databases migrated before this revision get the version their queue was built from: 3.10.0, the
procrastinate easyflow had been installed with until then. New ones recorded theirs in `20261123_job_queue`.

`easyflow_defer_job(queue_name, task_name, lock, args)` inserts a job exactly as `kit.jobs.defer` does
through procrastinate's Python API, for SQL functions of ours that accept work in one statement. It is
the single place that names procrastinate's versioned internal function: when procrastinate changes it,
a migration replaces this body (tests/db/test_job_queue_schema.py fails until then).

Revision ID: 20261126_job_queue_version
Revises: 20261126_contrib_extensions
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_job_queue_version"
down_revision = "20261126_contrib_extensions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS easyflow_job_queue_schema (procrastinate_version text NOT NULL)")
    op.execute(
        "INSERT INTO easyflow_job_queue_schema SELECT '3.10.0' "
        "WHERE NOT EXISTS (SELECT 1 FROM easyflow_job_queue_schema)"
    )
    op.execute(
        """
        CREATE FUNCTION easyflow_defer_job(queue_name text, task_name text, lock text, args jsonb)
        RETURNS bigint
        LANGUAGE sql
        AS $$
            SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[
                ROW(queue_name, task_name, 0, lock, NULL, args, NULL)::procrastinate_job_to_defer_v1
            ]))
        $$
        """
    )


def downgrade() -> None:
    # The version table stays: from here down it belongs to 20261123_job_queue, which drops it.
    op.execute("DROP FUNCTION easyflow_defer_job(text, text, text, jsonb)")
