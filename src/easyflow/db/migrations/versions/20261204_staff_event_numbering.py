"""Staff events are numbered after they commit, by whoever reads them, instead of by the transaction that
writes them.

Each event's number came from the tenant's counter row, updated by the writing transaction and so locked
until it committed: every transaction of a tenant that wrote a staff event (every accepted message, every
reply) queued behind the one before it through its commit's disk flush. One tenant's messages were
accepted one at a time, whatever the load (bench/pipeline.py: the server and PostgreSQL both short of a core
while acceptances waited on that row).

Now `easyflow_staff_event` appends the event unnumbered (no lock) and NOTIFYs; `easyflow_number_staff_events`
numbers the tenant's committed unnumbered events, in the order they were written, under the counter row, in a
short transaction of its own that readers run before they read. Numbers stay gap-free and in commit order
(of the numbering transactions, which the counter row serializes): a client that has seen event N never later
finds an N-1 appear. An event not yet numbered is invisible to readers (its number is NULL), as an
uncommitted one was.

Revision ID: 20261204_staff_event_numbering
Revises: 20261204_refuse
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from easyflow.db.migration_sources import earlier_migration

revision = "20261204_staff_event_numbering"
down_revision = "20261204_refuse"
branch_labels = None
depends_on = None

_APPEND_UNNUMBERED = """
CREATE OR REPLACE FUNCTION easyflow_staff_event(for_tenant uuid, event_kind text, event_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    appended bigint;
BEGIN
    INSERT INTO staff_events (tenant_id, kind, payload, created_at)
    VALUES (for_tenant, event_kind, event_payload, clock_timestamp())
    RETURNING seq INTO appended;
    PERFORM pg_notify('easyflow_staff', for_tenant::text);
    RETURN appended;
END
$$
"""

_NUMBER = """
CREATE FUNCTION easyflow_number_staff_events(for_tenant uuid)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    last bigint;
    numbered bigint;
BEGIN
    -- Every process's reader calls this on every NOTIFY: with nothing to number it writes nothing.
    IF NOT EXISTS (SELECT 1 FROM staff_events e WHERE e.tenant_id = for_tenant AND e.id IS NULL) THEN
        RETURN coalesce((SELECT s.last_id FROM staff_event_counters s WHERE s.tenant_id = for_tenant), 0);
    END IF;
    -- The counter row is the lock: numberings of one tenant run one after the other.
    INSERT INTO staff_event_counters (tenant_id, last_id) VALUES (for_tenant, 0) ON CONFLICT (tenant_id) DO NOTHING;
    SELECT s.last_id INTO last FROM staff_event_counters s WHERE s.tenant_id = for_tenant FOR UPDATE;
    WITH waiting AS (
        SELECT e.seq, last + row_number() OVER (ORDER BY e.seq) AS number
        FROM staff_events e WHERE e.tenant_id = for_tenant AND e.id IS NULL)
    UPDATE staff_events e SET id = waiting.number
    FROM waiting WHERE e.tenant_id = for_tenant AND e.seq = waiting.seq;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    IF numbered > 0 THEN
        UPDATE staff_event_counters s SET last_id = last + numbered WHERE s.tenant_id = for_tenant;
    END IF;
    RETURN last + numbered;
END
$$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE staff_events DROP CONSTRAINT pk_staff_events")
    op.execute("ALTER TABLE staff_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY")
    op.execute("ALTER TABLE staff_events ADD CONSTRAINT pk_staff_events PRIMARY KEY (seq)")
    op.execute("ALTER TABLE staff_events ALTER COLUMN id DROP NOT NULL")
    op.execute("CREATE UNIQUE INDEX ix_staff_events_tenant_id_id ON staff_events (tenant_id, id)")
    op.execute("CREATE INDEX ix_staff_events_unnumbered ON staff_events (tenant_id, seq) WHERE id IS NULL")
    op.execute(_APPEND_UNNUMBERED)
    op.execute(_NUMBER)


def downgrade() -> None:
    op.execute("SELECT set_config('easyflow.scope', 'system', true)")  # row-level security binds the owner too
    op.execute("SELECT easyflow_number_staff_events(t.tenant_id) FROM (SELECT DISTINCT tenant_id FROM staff_events) t")
    # The function as the migration that created it wrote it.
    numbered = earlier_migration("20261126_conversation_lifecycle")._STAFF_EVENT
    op.execute(numbered.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP FUNCTION easyflow_number_staff_events(uuid)")
    op.execute("DROP INDEX ix_staff_events_unnumbered")
    op.execute("DROP INDEX ix_staff_events_tenant_id_id")
    op.execute("ALTER TABLE staff_events DROP CONSTRAINT pk_staff_events")
    op.execute("ALTER TABLE staff_events DROP COLUMN seq")
    op.execute("ALTER TABLE staff_events ALTER COLUMN id SET NOT NULL")
    op.execute("ALTER TABLE staff_events ADD CONSTRAINT pk_staff_events PRIMARY KEY (tenant_id, id)")
