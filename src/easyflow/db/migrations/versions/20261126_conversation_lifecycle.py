"""The conversation lifecycle of human handoff: `bot` → `pending` → `open` → `resolved`, and `snoozed`.

- `conversation_status` becomes bot/pending/open/snoozed/resolved. Existing rows: `closed` → `resolved`;
  `open` flagged `needs_human` → `pending` (waiting in the queue); other `open` ones → `bot`. The flag goes;
  its reason stays as `handoff_reason`.
- A conversation has an assignee (a user) and remembers its last one; it is `open` only with an assignee
  (a CHECK, so no code path can break it). One unresolved conversation per contact and channel.
- `conversation_events`: every transition (who: customer, assistant, operator, rule, system; what; why; when).
- `staff_events` with a per-tenant counter: the event log staff clients replay after a dropped connection.
  Numbers come from a counter row updated last in each transaction, so they are gap-free and follow commit
  order: a client that has seen event N never later finds an N-1 appear. `easyflow_staff_event` appends one
  and NOTIFYs `easyflow_staff`.
- Messages: `author_id` (the operator who wrote it), `private` (a note, never sent to the customer), `notice`
  (what an assistant message announces: `handoff`; sent even though the assistant no longer holds the
  conversation).
- Assistants: `handoff_rules` (which triggers hand a conversation over); tenants: `reopen_window_minutes` and
  `operator_capacity` (how many conversations an operator holds at once, unless their membership says).
- `operator_presence`: what an operator chose (online, busy, offline) and when their live connection was last
  heard; silent for 60 s means offline.
- `easyflow_accept_message` learns the lifecycle: a customer writing into a snoozed conversation wakes it
  (`pending`); into one resolved by a person less than the tenant's reopen window ago, reopens it (`pending`,
  for its last operator if they are there); otherwise a new conversation starts with the assistant. The
  `route_jobs` it is given are deferred when it put a conversation in the queue.

Revision ID: 20261126_conversation_lifecycle
Revises: 20261126_shared_rate_limits
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261126_conversation_lifecycle"
down_revision = "20261126_shared_rate_limits"
branch_labels = None
depends_on = None

_OLD_ACCEPT_SIGNATURE = "uuid, text, text, text, text, text, text, text, text, jsonb, uuid, text, text, jsonb"
_NEW_ACCEPT_SIGNATURE = f"{_OLD_ACCEPT_SIGNATURE}, jsonb"

_STAFF_EVENT = """
CREATE FUNCTION easyflow_staff_event(for_tenant uuid, event_kind text, event_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    number bigint;
BEGIN
    INSERT INTO staff_event_counters AS s (tenant_id, last_id) VALUES (for_tenant, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET last_id = s.last_id + 1
    RETURNING s.last_id INTO number;
    INSERT INTO staff_events (tenant_id, id, kind, payload, created_at)
    VALUES (for_tenant, number, event_kind, event_payload, clock_timestamp());
    PERFORM pg_notify('easyflow_staff', for_tenant::text);
    RETURN number;
END
$$
"""

_ACCEPT = """
CREATE FUNCTION easyflow_accept_message(
    for_tenant uuid, via_channel_type text, via_channel_key text, identity_kind text, contact_external_id text,
    contact_name text, contact_phone text, message_text text, external_message_id text, message_attachments jsonb,
    assistant uuid, live_channel text, live_payload text, jobs jsonb, route_jobs jsonb)
RETURNS TABLE (outcome text, conversation_id uuid, message_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    dedupe text := via_channel_key || ':' || external_message_id;
    contact uuid;
    conversation uuid;
    current_status conversation_status;
    message uuid;
    chosen_assistant uuid;
    arrived timestamptz;
    queued boolean := false;
    job jsonb;
BEGIN
    IF for_tenant IS DISTINCT FROM nullif(current_setting('easyflow.tenant_id', true), '')::uuid THEN
        RAISE EXCEPTION 'easyflow_accept_message: the transaction is not scoped to tenant %', for_tenant
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    SELECT m.conversation_id, m.id INTO conversation, message
    FROM messages m WHERE m.tenant_id = for_tenant AND m.dedupe_key = dedupe;
    IF FOUND THEN
        RETURN QUERY SELECT 'duplicate', conversation, message;
        RETURN;
    END IF;

    SELECT ci.contact_id INTO contact
    FROM contact_identities ci
    WHERE ci.tenant_id = for_tenant AND ci.kind = identity_kind AND ci.external_id = contact_external_id;
    IF FOUND THEN
        -- Only a name or phone the channel gave and that differs: most messages write nothing here.
        UPDATE contacts c
        SET name = CASE WHEN coalesce(contact_name, '') <> '' THEN contact_name ELSE c.name END,
            phone = CASE WHEN coalesce(contact_phone, '') <> '' THEN contact_phone ELSE c.phone END
        WHERE c.tenant_id = for_tenant AND c.id = contact
          AND ((coalesce(contact_name, '') <> '' AND c.name IS DISTINCT FROM contact_name)
               OR (coalesce(contact_phone, '') <> '' AND c.phone IS DISTINCT FROM contact_phone));
    ELSE
        contact := gen_random_uuid();
        INSERT INTO contacts (id, tenant_id, name, phone, unreachable)
        VALUES (contact, for_tenant, coalesce(contact_name, ''), nullif(contact_phone, ''), false);
        INSERT INTO contact_identities (id, tenant_id, contact_id, kind, external_id)
        VALUES (gen_random_uuid(), for_tenant, contact, identity_kind, contact_external_id)
        ON CONFLICT (tenant_id, kind, external_id) DO NOTHING;
        IF NOT FOUND THEN  -- a concurrent request claimed the identity first: use its contact
            DELETE FROM contacts c WHERE c.tenant_id = for_tenant AND c.id = contact;
            SELECT ci.contact_id INTO STRICT contact
            FROM contact_identities ci
            WHERE ci.tenant_id = for_tenant AND ci.kind = identity_kind AND ci.external_id = contact_external_id;
        END IF;
    END IF;

    arrived := clock_timestamp();
    -- Locked before the message takes its position: positions within a conversation then follow commit
    -- order, so a reader that has seen position N never later finds a smaller one appear.
    SELECT c.id, c.status INTO conversation, current_status
    FROM conversations c
    WHERE c.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
      AND c.status <> 'resolved'
    FOR UPDATE;
    IF FOUND AND current_status = 'snoozed' THEN  -- the customer wrote: it waits for a person again
        UPDATE conversations c
        SET status = 'pending', assignee_id = NULL, snoozed_until = NULL, status_changed_at = arrived,
            assignee_replied_at = NULL
        WHERE c.tenant_id = for_tenant AND c.id = conversation;
        INSERT INTO conversation_events (id, tenant_id, conversation_id, actor_kind, kind, from_status, to_status,
                                         reason, created_at)
        VALUES (gen_random_uuid(), for_tenant, conversation, 'customer', 'woke', 'snoozed', 'pending',
                'the customer wrote while it was snoozed', arrived);
        queued := true;
    ELSIF NOT FOUND THEN
        -- Resolved by a person a moment ago: the customer is still talking to them, not starting over.
        UPDATE conversations c
        SET status = 'pending', resolved_at = NULL, status_changed_at = arrived, assignee_replied_at = NULL
        FROM tenants t
        WHERE c.id = (
                SELECT r.id FROM conversations r
                WHERE r.tenant_id = for_tenant AND r.contact_id = contact AND r.channel_key = via_channel_key
                  AND r.status = 'resolved' AND r.last_assignee_id IS NOT NULL
                ORDER BY r.resolved_at DESC NULLS LAST LIMIT 1)
          AND c.tenant_id = for_tenant AND c.status = 'resolved' AND t.id = for_tenant
          AND c.resolved_at > arrived - make_interval(mins => t.reopen_window_minutes)
        RETURNING c.id INTO conversation;
        IF FOUND THEN
            INSERT INTO conversation_events (id, tenant_id, conversation_id, actor_kind, kind, from_status,
                                             to_status, reason, created_at)
            VALUES (gen_random_uuid(), for_tenant, conversation, 'customer', 'reopened', 'resolved', 'pending',
                    'the customer wrote soon after it was resolved', arrived);
            queued := true;
        END IF;
    END IF;

    IF conversation IS NULL THEN
        IF assistant IS NULL THEN
            SELECT a.id INTO chosen_assistant FROM assistants a WHERE a.tenant_id = for_tenant AND a.is_default;
        ELSE
            SELECT a.id INTO chosen_assistant FROM assistants a WHERE a.tenant_id = for_tenant AND a.id = assistant;
            IF NOT FOUND THEN
                RETURN QUERY SELECT 'no_assistant', NULL::uuid, NULL::uuid;
                RETURN;
            END IF;
        END IF;
        INSERT INTO conversations AS c (id, tenant_id, contact_id, channel_type, channel_key, assistant_id, status,
                                        summary, summarized_up_to, unanswered_turns, last_activity_at,
                                        status_changed_at)
        VALUES (gen_random_uuid(), for_tenant, contact, via_channel_type, via_channel_key, chosen_assistant, 'bot',
                '', 0, 0, arrived, arrived)
        ON CONFLICT (tenant_id, contact_id, channel_key) WHERE status <> 'resolved' DO NOTHING
        RETURNING c.id INTO conversation;
        IF NOT FOUND THEN  -- a concurrent request opened it first
            SELECT c.id INTO STRICT conversation
            FROM conversations c
            WHERE c.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
              AND c.status <> 'resolved'
            FOR UPDATE;
        END IF;
    END IF;

    UPDATE conversations c SET last_activity_at = arrived WHERE c.tenant_id = for_tenant AND c.id = conversation;
    INSERT INTO messages AS m (id, tenant_id, conversation_id, role, text, attachments, buttons, citations, reply_to,
                               delivery_status, external_id, dedupe_key, private, created_at)
    VALUES (gen_random_uuid(), for_tenant, conversation, 'contact', message_text, message_attachments, '[]', '[]', '[]',
            'received', external_message_id, dedupe, false, arrived)
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING m.id INTO message;
    IF NOT FOUND THEN  -- the same message raced in through another request and won
        SELECT m.conversation_id, m.id INTO STRICT conversation, message
        FROM messages m WHERE m.tenant_id = for_tenant AND m.dedupe_key = dedupe;
        RETURN QUERY SELECT 'duplicate', conversation, message;
        RETURN;
    END IF;

    PERFORM pg_notify(live_channel, replace(live_payload, '{conversation_id}', conversation::text));
    FOR job IN SELECT value FROM jsonb_array_elements(
            CASE WHEN queued THEN jobs || coalesce(route_jobs, '[]') ELSE jobs END) LOOP
        PERFORM easyflow_defer_job(
            job->>'queue',
            job->>'task',
            replace(replace(job->>'lock', '{conversation_id}', conversation::text), '{message_id}', message::text),
            replace(replace((job->'args')::text, '{conversation_id}', conversation::text),
                    '{message_id}', message::text)::jsonb);
    END LOOP;
    -- Last: the staff event counter is the tenant's one shared lock, so it is held for the shortest time.
    IF queued THEN
        PERFORM easyflow_staff_event(for_tenant, 'conversation.updated',
                                     jsonb_build_object('conversation_id', conversation, 'status', 'pending'));
    END IF;
    PERFORM easyflow_staff_event(for_tenant, 'message.created',
                                 jsonb_build_object('conversation_id', conversation, 'message_id', message,
                                                    'role', 'contact'));
    RETURN QUERY SELECT 'accepted', conversation, message;
END
$$
"""


def upgrade() -> None:
    op.execute("DROP INDEX uq_conversations_open_per_contact_channel")
    op.execute("ALTER TYPE conversation_status RENAME TO conversation_status_before_handoff")
    op.execute("CREATE TYPE conversation_status AS ENUM ('bot', 'pending', 'open', 'snoozed', 'resolved')")
    op.execute("ALTER TABLE conversations ALTER COLUMN status DROP DEFAULT")
    op.execute(
        "ALTER TABLE conversations ALTER COLUMN status TYPE conversation_status USING (CASE "
        "WHEN status::text = 'closed' THEN 'resolved' WHEN needs_human THEN 'pending' ELSE 'bot' END"
        ")::conversation_status"
    )
    op.execute("DROP TYPE conversation_status_before_handoff")
    op.alter_column("conversations", "flag_reason", new_column_name="handoff_reason")
    op.drop_column("conversations", "needs_human")
    op.add_column("conversations", foreign_key_column("assignee_id", "users", "SET NULL", nullable=True))
    op.add_column("conversations", foreign_key_column("last_assignee_id", "users", "SET NULL", nullable=True))
    for name in ("status_changed_at", "snoozed_until", "resolved_at", "assignee_replied_at"):
        op.add_column("conversations", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE conversations SET status_changed_at = last_activity_at")
    op.execute("UPDATE conversations SET resolved_at = last_activity_at WHERE status = 'resolved'")
    op.alter_column("conversations", "status_changed_at", nullable=False)
    op.add_column("conversations", sa.Column("unanswered_turns", sa.Integer(), nullable=False, server_default="0"))
    op.alter_column("conversations", "unanswered_turns", server_default=None)
    op.execute(
        "ALTER TABLE conversations ADD CONSTRAINT ck_conversations_open_has_assignee "
        "CHECK (status <> 'open' OR assignee_id IS NOT NULL)"
    )
    op.create_index(
        "uq_conversations_unresolved_per_contact_channel",
        "conversations",
        ["tenant_id", "contact_id", "channel_key"],
        unique=True,
        postgresql_where=sa.text("status <> 'resolved'"),
    )
    op.create_index(
        "ix_conversations_tenant_id_assignee_id_status", "conversations", ["tenant_id", "assignee_id", "status"]
    )
    op.create_index(
        "ix_conversations_queue",
        "conversations",
        ["tenant_id", "status_changed_at"],
        postgresql_where=sa.text("status = 'pending' AND assignee_id IS NULL"),
    )

    op.add_column("messages", foreign_key_column("author_id", "users", "SET NULL", nullable=True))
    op.add_column("messages", sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.alter_column("messages", "private", server_default=None)
    op.add_column("messages", sa.Column("notice", sa.String(32), nullable=True))

    op.add_column(
        "assistants",
        sa.Column("handoff_rules", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.alter_column("assistants", "handoff_rules", server_default=None)
    op.add_column("tenants", sa.Column("reopen_window_minutes", sa.Integer(), nullable=False, server_default="30"))

    op.add_column("tenants", sa.Column("operator_capacity", sa.Integer(), nullable=False, server_default="5"))
    op.add_column("memberships", sa.Column("capacity", sa.Integer(), nullable=True))
    op.create_table(
        "operator_presence",
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        foreign_key_column("user_id", "users", "CASCADE", primary_key=True),
        sa.Column("chosen", sa.String(16), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
    )

    op.create_table(
        "conversation_events",
        id_column(),
        tenant_id_column(),
        foreign_key_column("conversation_id", "conversations", "CASCADE"),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        foreign_key_column("actor_id", "users", "SET NULL", nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        foreign_key_column("assignee_id", "users", "SET NULL", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        created_at_column(),
    )
    op.create_index(
        "ix_conversation_events_conversation_id_created_at", "conversation_events", ["conversation_id", "created_at"]
    )
    op.create_index("ix_conversation_events_tenant_id", "conversation_events", ["tenant_id"])

    op.create_table(
        "staff_event_counters",
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "staff_events",
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        created_at_column(),
    )
    op.create_index("ix_staff_events_created_at", "staff_events", ["created_at"])
    for table in ("conversation_events", "staff_event_counters", "staff_events", "operator_presence"):
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)

    op.execute(_STAFF_EVENT)
    op.execute(f"DROP FUNCTION easyflow_accept_message({_OLD_ACCEPT_SIGNATURE})")
    op.execute(_ACCEPT)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION easyflow_accept_message({_NEW_ACCEPT_SIGNATURE})")
    op.execute("DROP FUNCTION easyflow_staff_event(uuid, text, jsonb)")
    _previous_accept_migration().upgrade()
    op.drop_table("staff_events")
    op.drop_table("staff_event_counters")
    op.drop_table("conversation_events")
    op.drop_table("operator_presence")
    op.drop_column("memberships", "capacity")
    op.drop_column("tenants", "operator_capacity")
    op.drop_column("tenants", "reopen_window_minutes")
    op.drop_column("assistants", "handoff_rules")
    for column in ("notice", "private", "author_id"):
        op.drop_column("messages", column)
    op.drop_index("ix_conversations_queue", "conversations")
    op.drop_index("ix_conversations_tenant_id_assignee_id_status", "conversations")
    op.drop_index("uq_conversations_unresolved_per_contact_channel", "conversations")
    op.execute("ALTER TABLE conversations DROP CONSTRAINT ck_conversations_open_has_assignee")
    op.add_column("conversations", sa.Column("needs_human", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.alter_column("conversations", "needs_human", server_default=None)
    op.execute("UPDATE conversations SET needs_human = status IN ('pending', 'open', 'snoozed')")
    for column in (
        "unanswered_turns",
        "assignee_replied_at",
        "resolved_at",
        "snoozed_until",
        "status_changed_at",
        "last_assignee_id",
        "assignee_id",
    ):
        op.drop_column("conversations", column)
    op.alter_column("conversations", "handoff_reason", new_column_name="flag_reason")
    op.execute("ALTER TYPE conversation_status RENAME TO conversation_status_with_handoff")
    op.execute("CREATE TYPE conversation_status AS ENUM ('open', 'closed')")
    op.execute(
        "ALTER TABLE conversations ALTER COLUMN status TYPE conversation_status USING (CASE "
        "WHEN status::text = 'resolved' THEN 'closed' ELSE 'open' END)::conversation_status"
    )
    op.execute("DROP TYPE conversation_status_with_handoff")
    op.create_index(
        "uq_conversations_open_per_contact_channel",
        "conversations",
        ["tenant_id", "contact_id", "channel_key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )


def _previous_accept_migration() -> ModuleType:
    """The migration that wrote the function this one replaces, to write it back on the way down."""
    path = Path(__file__).with_name("20261126_accept_message.py")
    spec = importlib.util.spec_from_file_location("easyflow_migration_accept_message", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
