"""A customer's message is accepted with fewer writes: one reply job per conversation while one waits, and
the open conversation's row written once.

`bench/pipeline.py` with `pg_stat_statements` tracking the function's own statements showed where
PostgreSQL's time per accepted message went: procrastinate's job insert (with its trigger's event row and
NOTIFY) 0.25 ms of 1.28, the message insert 0.13, the conversation's `last_activity_at` update 0.13 (never HOT:
the column is indexed for the inbox's order, so each of the table's nine indexes gets an entry), the staff
event 0.13, and locking the open conversation with a SELECT ... FOR UPDATE before that update 0.12.

- A reply job answers every message of its conversation that is unanswered when it runs
  (`conversations/reply.py`), so while one waits (`todo`) another would answer nothing. Jobs declared with
  `@job(..., waiting_serves_all=True)` carry a procrastinate `queueing_lock`; when such a job of the same
  conversation is waiting, the message defers none and locks the waiting one instead (`FOR SHARE`: a worker
  fetching with `SKIP LOCKED` passes it by until the message is committed, and a job a worker already took is
  no longer waiting, so a new one is deferred). A message that defers jobs of its own first (its pictures),
  which must run before its reply, always gets a reply job of its own. A burst of messages from one customer
  into a busy queue then costs one job, not one per message.
- The open conversation is locked by the UPDATE that sets its `last_activity_at`, not by a SELECT before it.
- `easyflow_defer_job` gains a variant with the queueing lock.

Revision ID: 20261204_one_waiting_reply
Revises: 20261204_staff_event_numbering
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from easyflow.db.migration_sources import earlier_migration

revision = "20261204_one_waiting_reply"
down_revision = "20261204_staff_event_numbering"
branch_labels = None
depends_on = None

_DEFER_WITH_QUEUEING_LOCK = """
CREATE FUNCTION easyflow_defer_job(queue_name text, task_name text, lock text, queueing_lock text, args jsonb)
RETURNS bigint
LANGUAGE sql
AS $$
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[
        ROW(queue_name, task_name, 0, lock, queueing_lock, args, NULL)::procrastinate_job_to_defer_v1
    ]))
$$
"""

_ACCEPT = """
CREATE OR REPLACE FUNCTION easyflow_accept_message(
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
    touched boolean := false;  -- last_activity_at already set by this call
    job jsonb;
    waiting_lock text;
    deferred_any boolean := false;
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
    -- order, so a reader that has seen position N never later finds a smaller one appear. The update is
    -- the lock, so the open conversation's row is written once.
    UPDATE conversations c SET last_activity_at = arrived
    WHERE c.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
      AND c.status <> 'resolved'
    RETURNING c.id, c.status INTO conversation, current_status;
    touched := FOUND;
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
        SET status = 'pending', resolved_at = NULL, status_changed_at = arrived, assignee_replied_at = NULL,
            last_activity_at = arrived
        FROM tenants t
        WHERE c.id = (
                SELECT r.id FROM conversations r
                WHERE r.tenant_id = for_tenant AND r.contact_id = contact AND r.channel_key = via_channel_key
                  AND r.status = 'resolved' AND r.last_assignee_id IS NOT NULL
                ORDER BY r.resolved_at DESC NULLS LAST LIMIT 1)
          AND c.tenant_id = for_tenant AND c.status = 'resolved' AND t.id = for_tenant
          AND c.resolved_at > arrived - make_interval(mins => t.reopen_window_minutes)
        RETURNING c.id INTO conversation;
        touched := FOUND;
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
        touched := FOUND;
        IF NOT FOUND THEN  -- a concurrent request opened it first
            SELECT c.id INTO STRICT conversation
            FROM conversations c
            WHERE c.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
              AND c.status <> 'resolved'
            FOR UPDATE;
        END IF;
    END IF;

    IF NOT touched THEN
        UPDATE conversations c SET last_activity_at = arrived WHERE c.tenant_id = for_tenant AND c.id = conversation;
    END IF;
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
        waiting_lock := replace(job->>'queueing_lock', '{conversation_id}', conversation::text);
        IF waiting_lock IS NOT NULL THEN
            IF NOT deferred_any THEN
                -- The job already waiting serves this message too. Locked, so that no worker takes it
                -- (procrastinate fetches with SKIP LOCKED) before this message is committed; one a worker
                -- took meanwhile is no longer waiting, and a new job is deferred.
                PERFORM 1 FROM procrastinate_jobs j WHERE j.queueing_lock = waiting_lock AND j.status = 'todo'
                FOR SHARE;
                CONTINUE WHEN FOUND;
            ELSE
                -- Behind jobs of this message's own (its pictures), the waiting one, ahead of them, would
                -- not serve it: a job of its own, which cannot hold the lock the waiting one holds.
                waiting_lock := NULL;
            END IF;
        END IF;
        PERFORM easyflow_defer_job(
            job->>'queue',
            job->>'task',
            replace(replace(job->>'lock', '{conversation_id}', conversation::text), '{message_id}', message::text),
            waiting_lock,
            replace(replace((job->'args')::text, '{conversation_id}', conversation::text),
                    '{message_id}', message::text)::jsonb);
        deferred_any := true;
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
    op.execute(_DEFER_WITH_QUEUEING_LOCK)
    op.execute(_ACCEPT)


def downgrade() -> None:
    # Same signature: the function as the migration it replaced wrote it, in place.
    op.execute(earlier_migration("20261204_csat")._ACCEPT.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP FUNCTION easyflow_defer_job(text, text, text, text, jsonb)")
