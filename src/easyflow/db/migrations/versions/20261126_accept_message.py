"""`easyflow_accept_message`: a customer's message accepted in one statement (one round trip) instead of
about eight: dedupe, find or create the contact and its open conversation, lock the conversation, insert
the message, NOTIFY its live event and defer the jobs that answer it, all in the caller's transaction.

SECURITY INVOKER: it runs as the caller (the app role), so row-level security applies to every statement,
and it refuses a tenant other than the one the transaction is scoped to (a transaction in system scope
could otherwise write into any tenant through it).

What is deferred and notified comes from the caller, as templates in which `{conversation_id}` and
`{message_id}` stand for the ids known only here (see `conversations.repository.InboundRepository`): the
queue, task, lock and arguments of each job are those `kit.jobs.defer` would use, and they are deferred
through `easyflow_defer_job`, the one SQL way to defer.

Outcomes: `accepted`; `duplicate` (the dedupe key `<channel key>:<external id>` was seen, now or by a
concurrent request that committed first), with the first message's ids; `no_assistant` (a new conversation
was needed and the assistant asked for is not the tenant's), with nothing written that the caller's
rollback does not undo.

Revision ID: 20261126_accept_message
Revises: 20261126_invitations
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_accept_message"
down_revision = "20261126_invitations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION easyflow_accept_message(
    for_tenant uuid, via_channel_type text, via_channel_key text, identity_kind text, contact_external_id text,
    contact_name text, contact_phone text, message_text text, external_message_id text, message_attachments jsonb,
    assistant uuid, live_channel text, live_payload text, jobs jsonb)
RETURNS TABLE (outcome text, conversation_id uuid, message_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    dedupe text := via_channel_key || ':' || external_message_id;
    contact uuid;
    conversation uuid;
    message uuid;
    chosen_assistant uuid;
    arrived timestamptz;
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

    SELECT c.id INTO conversation
    FROM conversations c
    WHERE c.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
      AND c.status = 'open';
    IF NOT FOUND THEN
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
                                        needs_human, summary, summarized_up_to, last_activity_at)
        VALUES (gen_random_uuid(), for_tenant, contact, via_channel_type, via_channel_key, chosen_assistant, 'open',
                false, '', 0, clock_timestamp())
        ON CONFLICT (tenant_id, contact_id, channel_key) WHERE status = 'open' DO NOTHING
        RETURNING c.id INTO conversation;
        IF NOT FOUND THEN  -- a concurrent request opened it first
            SELECT c.id INTO STRICT conversation
            FROM conversations c
            WHERE c.tenant_id = for_tenant AND c.contact_id = contact AND c.channel_key = via_channel_key
              AND c.status = 'open';
        END IF;
    END IF;

    -- Lock the conversation before the message takes its position: positions within a conversation then
    -- follow commit order, so a reader that has seen position N never later finds a smaller one appear.
    arrived := clock_timestamp();
    UPDATE conversations c SET last_activity_at = arrived WHERE c.tenant_id = for_tenant AND c.id = conversation;
    INSERT INTO messages AS m (id, tenant_id, conversation_id, role, text, attachments, buttons, citations, reply_to,
                               delivery_status, external_id, dedupe_key, created_at)
    VALUES (gen_random_uuid(), for_tenant, conversation, 'contact', message_text, message_attachments, '[]', '[]', '[]',
            'received', external_message_id, dedupe, arrived)
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING m.id INTO message;
    IF NOT FOUND THEN  -- the same message raced in through another request and won
        SELECT m.conversation_id, m.id INTO STRICT conversation, message
        FROM messages m WHERE m.tenant_id = for_tenant AND m.dedupe_key = dedupe;
        RETURN QUERY SELECT 'duplicate', conversation, message;
        RETURN;
    END IF;

    PERFORM pg_notify(live_channel, replace(live_payload, '{conversation_id}', conversation::text));
    FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
        PERFORM easyflow_defer_job(
            job->>'queue',
            job->>'task',
            replace(replace(job->>'lock', '{conversation_id}', conversation::text), '{message_id}', message::text),
            replace(replace((job->'args')::text, '{conversation_id}', conversation::text),
                    '{message_id}', message::text)::jsonb);
    END LOOP;
    RETURN QUERY SELECT 'accepted', conversation, message;
END
$$
"""
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION easyflow_accept_message(uuid, text, text, text, text, text, text, text, text, jsonb, uuid, "
        "text, text, jsonb)"
    )
