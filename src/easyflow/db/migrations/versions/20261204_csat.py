"""Customer satisfaction (CSAT): a customer whose conversation a person resolved is asked to rate it 1-5, and
may add a comment.

- `tenants.csat_enabled` (default on): whether the request is sent at all.
- `conversation_ratings`: one row per resolution that asked for a rating: the operator who held the
  conversation, when it was asked, the rating (1-5, empty until answered) and the comment.
- `easyflow_accept_message` learns the answer. The function is where a customer's message reopens a resolved
  conversation, so it is also where a rating answer must be told apart from a new question, in the same
  statement and under the same locks: a message into a resolved conversation whose latest rating request
  awaits an answer, and that the caller read as a rating (`rating_given`, parsed in Python, where «5 —
  отлично» and ⭐⭐⭐⭐⭐ are read), is stored in that conversation as its rating; the next text message within
  `comment_window_minutes` as its comment. Neither reopens it; the `csat_jobs` are deferred instead of the
  reply (a thank-you). Anything else behaves as before. The rest of the function is unchanged; its signature
  grows by four arguments, so the old one is dropped.

Revision ID: 20261204_csat
Revises: 20261204_business_hours_sla
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.migration_sources import earlier_migration
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261204_csat"
down_revision = "20261204_business_hours_sla"
branch_labels = None
depends_on = None

_OLD_ACCEPT_SIGNATURE = "uuid, text, text, text, text, text, text, text, text, jsonb, uuid, text, text, jsonb, jsonb"
_NEW_ACCEPT_SIGNATURE = f"{_OLD_ACCEPT_SIGNATURE}, integer, integer, integer, jsonb"

_ACCEPT = """
CREATE FUNCTION easyflow_accept_message(
    for_tenant uuid, via_channel_type text, via_channel_key text, identity_kind text, contact_external_id text,
    contact_name text, contact_phone text, message_text text, external_message_id text, message_attachments jsonb,
    assistant uuid, live_channel text, live_payload text, jobs jsonb, route_jobs jsonb,
    rating_given integer, rating_window_minutes integer, comment_window_minutes integer, csat_jobs jsonb)
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
    request uuid;
    rating_so_far smallint;
    requested timestamptz;
    rated timestamptz;
    commented boolean;
    csat_answer text;  -- 'rating' or 'comment' when the message answers a rating request
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
        -- The rating request of the customer's latest conversation here (resolved, as no other is open): the
        -- conversation and the request are locked, so of two messages racing in one is the rating and the
        -- next its comment, and a person reopening it meanwhile is seen.
        SELECT r.id, r.conversation_id, r.rating, r.requested_at, r.rated_at, r.comment IS NOT NULL
        INTO request, conversation, rating_so_far, requested, rated, commented
        FROM conversation_ratings r
        JOIN conversations c ON c.tenant_id = for_tenant AND c.id = r.conversation_id
        WHERE r.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
          AND c.status = 'resolved'
          AND r.requested_at > arrived - make_interval(mins => rating_window_minutes + comment_window_minutes)
          AND NOT EXISTS (SELECT 1 FROM conversations n
                          WHERE n.tenant_id = for_tenant AND n.contact_id = contact
                            AND n.channel_key = via_channel_key AND n.created_at > c.created_at)
          AND NOT EXISTS (SELECT 1 FROM conversation_ratings n
                          WHERE n.tenant_id = for_tenant AND n.conversation_id = r.conversation_id
                            AND n.requested_at > r.requested_at)
        FOR UPDATE OF c, r;
        IF FOUND AND rating_so_far IS NULL AND rating_given BETWEEN 1 AND 5
           AND requested > arrived - make_interval(mins => rating_window_minutes) THEN
            csat_answer := 'rating';
        ELSIF FOUND AND rating_so_far IS NOT NULL AND NOT commented AND btrim(message_text) <> ''
              AND message_attachments = '[]'::jsonb
              AND rated > arrived - make_interval(mins => comment_window_minutes) THEN
            csat_answer := 'comment';
        ELSE
            conversation := NULL;
        END IF;
    END IF;

    IF conversation IS NULL THEN
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

    -- The answer is recorded only now that the message is surely stored (not a duplicate that raced in).
    IF csat_answer = 'rating' THEN
        UPDATE conversation_ratings r SET rating = rating_given, rated_at = arrived
        WHERE r.tenant_id = for_tenant AND r.id = request;
    ELSIF csat_answer = 'comment' THEN
        UPDATE conversation_ratings r SET comment = message_text, commented_at = arrived
        WHERE r.tenant_id = for_tenant AND r.id = request;
    END IF;

    PERFORM pg_notify(live_channel, replace(live_payload, '{conversation_id}', conversation::text));
    -- An answer to a rating request is not a question: its own jobs (a thank-you), not the reply's.
    FOR job IN SELECT value FROM jsonb_array_elements(
            CASE WHEN csat_answer IS NOT NULL THEN coalesce(csat_jobs, '[]')
                 WHEN queued THEN jobs || coalesce(route_jobs, '[]')
                 ELSE jobs END) LOOP
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
    op.add_column("tenants", sa.Column("csat_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.alter_column("tenants", "csat_enabled", server_default=None)
    op.create_table(
        "conversation_ratings",
        id_column(),
        tenant_id_column(),
        foreign_key_column("conversation_id", "conversations", "CASCADE"),
        foreign_key_column("operator_id", "users", "SET NULL", nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("commented_at", sa.DateTime(timezone=True), nullable=True),
        created_at_column(),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_conversation_ratings_rating_range"),
    )
    op.create_index("ix_conversation_ratings_tenant_id", "conversation_ratings", ["tenant_id"])
    op.create_index(
        "ix_conversation_ratings_conversation_id_requested_at",
        "conversation_ratings",
        ["conversation_id", "requested_at"],
    )
    for statement in enable_tenant_rls_sql("conversation_ratings"):
        op.execute(statement)
    op.execute(f"DROP FUNCTION easyflow_accept_message({_OLD_ACCEPT_SIGNATURE})")
    op.execute(_ACCEPT)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION easyflow_accept_message({_NEW_ACCEPT_SIGNATURE})")
    # The function as the migration it replaced wrote it.
    op.execute(earlier_migration("20261126_conversation_lifecycle")._ACCEPT)
    op.drop_table("conversation_ratings")
    op.drop_column("tenants", "csat_enabled")
