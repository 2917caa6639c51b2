"""The sales funnel: pipelines, stages, deals with a stage history the database writes itself, the rules that
move deals (and the record of what each rule did, so an event delivered twice acts once), tasks, and the
reminders stages send.

Every tenant, existing and new, gets the tour business's nine stages and a lost stage, and one rule: a new
contact's first message opens a deal in the first stage (`easyflow_seed_funnel`).

Events for the rules come from triggers, so no path that writes a conversation or moves a deal can skip them:
a new contact's first conversation (`first_message`), a conversation the assistant had going to a person
(`handed_off`), and a deal entering a stage (`stage_entered`) each defer one `crm.apply_rules` job, in
the funnel's own queue (`crm`).

Revision ID: 20261206_crm_funnel
Revises: 20261205_assistant_budgets
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import SCOPE_SETTING, SYSTEM_SCOPE, enable_tenant_rls_sql

revision = "20261206_crm_funnel"
down_revision = "20261205_assistant_budgets"
branch_labels = None
depends_on = None

TABLES = (
    "pipelines",
    "pipeline_stages",
    "deals",
    "deal_moves",
    "funnel_rules",
    "funnel_rule_runs",
    "crm_tasks",
    "deal_follow_ups",
)

_SEED_FUNNEL = """
CREATE FUNCTION easyflow_seed_funnel(for_tenant uuid, lang text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    new_pipeline uuid := gen_random_uuid();
    first_stage uuid;
    english boolean := lang = 'en';
BEGIN
    INSERT INTO pipelines (id, tenant_id, name, position, assistant_may_move_back)
    VALUES (new_pipeline, for_tenant, CASE WHEN english THEN 'Sales' ELSE 'Продажи' END, 0, false);
    INSERT INTO pipeline_stages (id, tenant_id, pipeline_id, name, position, kind, instructions, follow_up_text)
    SELECT gen_random_uuid(), for_tenant, new_pipeline,
           CASE WHEN english THEN stage.en ELSE stage.ru END, stage.position, stage.kind::stage_kind,
           CASE WHEN english THEN stage.instructions_en ELSE stage.instructions_ru END, ''
    FROM (VALUES
        (0, 'Новый лид', 'New lead', 'open', '', ''),
        (1, 'Квалификация', 'Qualification', 'open',
         'Выясни потребность клиента, бюджет и даты и запиши их в сделку.',
         'Find out what the customer needs, their budget and dates, and record them on the deal.'),
        (2, 'Прогрев', 'Warming up', 'open',
         'Отвечай на сомнения клиента и предлагай материалы, которые помогут ему решиться.',
         'Answer the customer''s doubts and offer materials that help them decide.'),
        (3, 'Предложение', 'Proposal', 'open',
         'Предложи вариант, подходящий под потребность и бюджет клиента.',
         'Offer what fits the customer''s needs and budget.'),
        (4, 'Переговоры', 'Negotiation', 'open', '', ''),
        (5, 'Продажа', 'Sale', 'won', '', ''),
        (6, 'Сервис', 'Service', 'won', '', ''),
        (7, 'Обратная связь', 'Feedback', 'won',
         'Попроси клиента оценить услугу от 1 до 5 и оставить отзыв.',
         'Ask the customer to rate the service from 1 to 5 and to leave a review.'),
        (8, 'Повторная продажа', 'Repeat sale', 'won',
         'Предложи то, что подходит клиенту по истории его покупок.',
         'Offer what fits the customer''s history.'),
        (9, 'Отказ', 'Lost', 'lost', '', '')
    ) AS stage(position, ru, en, kind, instructions_ru, instructions_en);
    SELECT id INTO first_stage FROM pipeline_stages WHERE pipeline_id = new_pipeline AND position = 0;
    INSERT INTO funnel_rules (id, tenant_id, name, event, conditions, action, params, enabled, position)
    VALUES (gen_random_uuid(), for_tenant,
            CASE WHEN english THEN 'First message opens a deal' ELSE 'Первое сообщение открывает сделку' END,
            'first_message', '{}'::jsonb, 'create_deal',
            jsonb_build_object('pipeline_id', new_pipeline, 'stage_id', first_stage), true, 0);
    RETURN new_pipeline;
END
$$
"""

# Before a deal is written with a stage: the stage decides the pipeline; a lost stage needs a reason; the
# times of entering and closing follow the stage.
_DEAL_STAGE_RULES = """
CREATE FUNCTION easyflow_deal_stage_rules() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    stage_pipeline uuid;
    new_kind stage_kind;
    old_kind stage_kind;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.stage_id IS NOT DISTINCT FROM OLD.stage_id THEN
        RETURN NEW;
    END IF;
    SELECT pipeline_id, kind INTO stage_pipeline, new_kind
    FROM pipeline_stages WHERE id = NEW.stage_id AND tenant_id = NEW.tenant_id;
    IF stage_pipeline IS NULL THEN
        RAISE EXCEPTION 'stage % is not a stage of this tenant', NEW.stage_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF new_kind = 'lost' AND coalesce(btrim(NEW.loss_reason), '') = '' THEN
        RAISE EXCEPTION 'a deal enters a lost stage only with a loss reason' USING ERRCODE = 'check_violation';
    END IF;
    NEW.pipeline_id := stage_pipeline;
    NEW.stage_entered_at := clock_timestamp();
    IF TG_OP = 'UPDATE' THEN
        SELECT kind INTO old_kind FROM pipeline_stages WHERE id = OLD.stage_id;
    END IF;
    IF new_kind = 'open' THEN
        NEW.closed_at := NULL;
        NEW.loss_reason := NULL;
    ELSIF old_kind IS DISTINCT FROM new_kind OR NEW.closed_at IS NULL THEN
        NEW.closed_at := clock_timestamp();
    END IF;
    IF new_kind = 'won' THEN
        NEW.loss_reason := NULL;
    END IF;
    RETURN NEW;
END
$$
"""

# After: the history row, with who and why as the writing transaction declared them (`easyflow.move_*`,
# set by the deals repository; a write that declared nothing is the system's), and the event for the rules.
_RECORD_DEAL_MOVE = """
CREATE FUNCTION easyflow_record_deal_move() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    move_id uuid := gen_random_uuid();
    declared_actor text := nullif(current_setting('easyflow.move_actor', true), '');
    declared_actor_id text := nullif(current_setting('easyflow.move_actor_id', true), '');
    depth int := coalesce(nullif(current_setting('easyflow.rule_depth', true), '')::int, 0);
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.stage_id IS NOT DISTINCT FROM OLD.stage_id THEN
        RETURN NULL;
    END IF;
    INSERT INTO deal_moves (id, tenant_id, deal_id, from_stage_id, to_stage_id, actor, actor_id, reason, at)
    VALUES (move_id, NEW.tenant_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.stage_id END, NEW.stage_id,
            coalesce(declared_actor, 'system')::move_actor, declared_actor_id::uuid,
            coalesce(current_setting('easyflow.move_reason', true), ''), clock_timestamp());
    PERFORM easyflow_defer_job('crm', 'crm.apply_rules', NULL, NULL, jsonb_build_object(
        'tenant_id', NEW.tenant_id, 'event', 'stage_entered', 'key', move_id, 'deal_id', NEW.id,
        'stage_id', NEW.stage_id, 'depth', depth));
    RETURN NULL;
END
$$
"""

_CONVERSATION_EVENTS = """
CREATE FUNCTION easyflow_crm_conversation_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- History brought in by an import is not a customer writing now.
        IF NEW.channel_key NOT LIKE 'import:%' AND NOT EXISTS (
            SELECT 1 FROM conversations c
            WHERE c.tenant_id = NEW.tenant_id AND c.contact_id = NEW.contact_id AND c.id <> NEW.id
        ) THEN
            PERFORM easyflow_defer_job('crm', 'crm.apply_rules', NULL, NULL, jsonb_build_object(
                'tenant_id', NEW.tenant_id, 'event', 'first_message', 'key', NEW.id,
                'conversation_id', NEW.id, 'contact_id', NEW.contact_id, 'depth', 0));
        END IF;
    ELSIF OLD.status = 'bot' AND NEW.status IN ('pending', 'open') THEN
        PERFORM easyflow_defer_job('crm', 'crm.apply_rules', NULL, NULL, jsonb_build_object(
            'tenant_id', NEW.tenant_id, 'event', 'handed_off',
            'key', NEW.id::text || ':' || extract(epoch FROM NEW.status_changed_at)::text,
            'conversation_id', NEW.id, 'contact_id', NEW.contact_id, 'depth', 0));
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    stage_kind = postgresql.ENUM("open", "won", "lost", name="stage_kind", create_type=False)
    move_actor = postgresql.ENUM("member", "assistant", "rule", "system", name="move_actor", create_type=False)
    stage_kind.create(op.get_bind())
    move_actor.create(op.get_bind())
    op.create_table(
        "pipelines",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("assistant_may_move_back", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_pipelines_tenant_id", "pipelines", ["tenant_id"])
    op.create_table(
        "pipeline_stages",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        foreign_key_column("pipeline_id", "pipelines", "CASCADE"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", stage_kind, nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False, server_default=""),
        sa.Column("follow_up_days", sa.Integer()),
        sa.Column("follow_up_text", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_pipeline_stages_tenant_id", "pipeline_stages", ["tenant_id"])
    op.create_index("ix_pipeline_stages_pipeline_id_position", "pipeline_stages", ["pipeline_id", "position"])
    op.create_table(
        "deals",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        foreign_key_column("pipeline_id", "pipelines", "CASCADE"),
        foreign_key_column("stage_id", "pipeline_stages", "RESTRICT"),
        foreign_key_column("contact_id", "contacts", "CASCADE"),
        foreign_key_column("conversation_id", "conversations", "SET NULL", nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("amount", sa.Numeric(16, 2)),
        sa.Column("currency", sa.String(3), nullable=False),
        foreign_key_column("responsible_id", "users", "SET NULL", nullable=True),
        sa.Column("source_channel", sa.String(32)),
        sa.Column("products", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("qualification", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("custom_fields", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("loss_reason", sa.Text()),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("currency IN ('RUB', 'KGS', 'KZT', 'USD', 'EUR')", name="known_currency"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
    )
    op.create_index("ix_deals_tenant_id_pipeline_id_stage_id", "deals", ["tenant_id", "pipeline_id", "stage_id"])
    for column in ("stage_id", "contact_id", "conversation_id", "responsible_id"):
        op.create_index(f"ix_deals_{column}", "deals", [column])
    op.create_table(
        "deal_moves",
        id_column(),
        tenant_id_column(),
        foreign_key_column("deal_id", "deals", "CASCADE"),
        foreign_key_column("from_stage_id", "pipeline_stages", "SET NULL", nullable=True),
        foreign_key_column("to_stage_id", "pipeline_stages", "SET NULL", nullable=True),
        sa.Column("actor", move_actor, nullable=False),
        sa.Column("actor_id", postgresql.UUID(as_uuid=True)),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_deal_moves_tenant_id", "deal_moves", ["tenant_id"])
    op.create_index("ix_deal_moves_deal_id", "deal_moves", ["deal_id"])
    op.create_table(
        "funnel_rules",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("conditions", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_funnel_rules_tenant_id", "funnel_rules", ["tenant_id"])
    op.create_table(
        "funnel_rule_runs",
        tenant_id_column(),
        foreign_key_column("rule_id", "funnel_rules", "CASCADE", primary_key=True),
        sa.Column("event_key", sa.String(200), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("outcome", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_funnel_rule_runs_tenant_id", "funnel_rule_runs", ["tenant_id"])
    op.create_table(
        "crm_tasks",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("details", sa.Text(), nullable=False, server_default=""),
        foreign_key_column("deal_id", "deals", "CASCADE", nullable=True),
        foreign_key_column("contact_id", "contacts", "CASCADE", nullable=True),
        foreign_key_column("assignee_id", "users", "SET NULL", nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("notified_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", move_actor, nullable=False),
    )
    for column in ("tenant_id", "deal_id", "contact_id", "assignee_id"):
        op.create_index(f"ix_crm_tasks_{column}", "crm_tasks", [column])
    op.create_index(
        "ix_crm_tasks_due", "crm_tasks", ["due_at"], postgresql_where=sa.text("done_at IS NULL AND notified_at IS NULL")
    )
    op.create_table(
        "deal_follow_ups",
        tenant_id_column(),
        foreign_key_column("move_id", "deal_moves", "CASCADE", primary_key=True),
        sa.Column("message_id", postgresql.UUID(as_uuid=True)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_deal_follow_ups_tenant_id", "deal_follow_ups", ["tenant_id"])
    for table in TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)

    op.execute(_SEED_FUNNEL)
    op.execute(_DEAL_STAGE_RULES)
    op.execute(_RECORD_DEAL_MOVE)
    op.execute(_CONVERSATION_EVENTS)
    op.execute(
        "CREATE TRIGGER deal_stage_rules BEFORE INSERT OR UPDATE OF stage_id ON deals "
        "FOR EACH ROW EXECUTE FUNCTION easyflow_deal_stage_rules()"
    )
    op.execute(
        "CREATE TRIGGER record_deal_move AFTER INSERT OR UPDATE OF stage_id ON deals "
        "FOR EACH ROW EXECUTE FUNCTION easyflow_record_deal_move()"
    )
    op.execute(
        "CREATE TRIGGER crm_conversation_events AFTER INSERT OR UPDATE OF status ON conversations "
        "FOR EACH ROW EXECUTE FUNCTION easyflow_crm_conversation_events()"
    )
    # Row-level security is forced on the new tables even for their owner: the seeding writes system-wide.
    op.execute(f"SELECT set_config('{SCOPE_SETTING}', '{SYSTEM_SCOPE}', true)")
    op.execute("SELECT easyflow_seed_funnel(id, default_language) FROM tenants")
    # Assistants that search the knowledge base work the funnel too, as new ones do.
    op.execute(
        "UPDATE assistants SET enabled_tools = enabled_tools || '[\"crm\"]'::jsonb "
        "WHERE enabled_tools ? 'search_knowledge' AND NOT enabled_tools ? 'crm'"
    )
    op.execute(f"SELECT set_config('{SCOPE_SETTING}', '', true)")


def downgrade() -> None:
    op.execute("DROP TRIGGER crm_conversation_events ON conversations")
    op.execute("DROP FUNCTION easyflow_crm_conversation_events()")
    for table in reversed(TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION easyflow_record_deal_move()")
    op.execute("DROP FUNCTION easyflow_deal_stage_rules()")
    op.execute("DROP FUNCTION easyflow_seed_funnel(uuid, text)")
    op.execute("DROP TYPE move_actor")
    op.execute("DROP TYPE stage_kind")
