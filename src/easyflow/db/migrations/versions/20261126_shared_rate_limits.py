"""Rate limits shared by every process when there is no Redis: one row per hit, counted in a moving window.

`easyflow_rate_limit_acquire(key, limit, seconds)` takes a transaction-scoped advisory lock on the key, so
two processes counting the same key take turns and never both see the last free slot; it returns 0 when
the hit was recorded, otherwise the seconds until the oldest hit of the window expires (nothing recorded).
Each call also removes a few expired hits of any key, so keys that went quiet do not stay in the table.
The table is UNLOGGED: hits are not worth write-ahead log, and a crash of the server only resets the limits.
It holds no tenant data (client addresses, account names, bot ids), so it has no row-level policy.

Revision ID: 20261126_shared_rate_limits
Revises: 20261126_files_tenant_index
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_shared_rate_limits"
down_revision = "20261126_files_tenant_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_limit_hits (
            key text NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX ix_rate_limit_hits_key_expires_at ON rate_limit_hits (key, expires_at)")
    op.execute("CREATE INDEX ix_rate_limit_hits_expires_at ON rate_limit_hits (expires_at)")
    op.execute(
        """
        CREATE FUNCTION easyflow_rate_limit_acquire(p_key text, p_limit integer, p_seconds double precision)
        RETURNS double precision
        LANGUAGE plpgsql AS $$
        DECLARE
            at timestamptz;
            used integer;
            oldest timestamptz;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended('easyflow_rate_limit:' || p_key, 0));
            -- Read after the lock: a caller that waited for it counts from when it got it.
            at := clock_timestamp();
            DELETE FROM rate_limit_hits WHERE key = p_key AND expires_at <= at;
            DELETE FROM rate_limit_hits WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM rate_limit_hits WHERE expires_at <= at LIMIT 4 FOR UPDATE SKIP LOCKED
            ));
            SELECT count(*), min(expires_at) INTO used, oldest FROM rate_limit_hits WHERE key = p_key;
            IF used < p_limit THEN
                INSERT INTO rate_limit_hits (key, expires_at) VALUES (p_key, at + make_interval(secs => p_seconds));
                RETURN 0;
            END IF;
            RETURN greatest(extract(epoch FROM oldest - at)::double precision, 0.001);
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION easyflow_rate_limit_acquire(text, integer, double precision)")
    op.execute("DROP TABLE rate_limit_hits")
