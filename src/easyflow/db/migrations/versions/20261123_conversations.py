"""Assistants, contacts and their identities, conversations and messages; tenant facts and webhook.

Revision ID: 20261123_conversations
Revises: 20261123_job_queue
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261123_conversations"
down_revision = "20261123_job_queue"
branch_labels = None
depends_on = None

TABLES = ("assistants", "contacts", "contact_identities", "conversations", "messages")
ENUMS = {
    "model_provider": ("none", "openai", "openai_compatible", "anthropic", "gemini"),
    "conversation_status": ("open", "closed"),
    "message_role": ("contact", "assistant", "operator", "system"),
    "delivery_status": ("received", "pending", "sent", "stored", "failed"),
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*ENUMS[name], name=name)


def upgrade() -> None:
    op.add_column("tenants", sa.Column("facts", sa.Text(), nullable=False, server_default=""))
    op.add_column("tenants", sa.Column("webhook_url", sa.String(500)))
    op.add_column("tenants", sa.Column("webhook_secret_encrypted", sa.Text()))

    op.create_table(
        "assistants",
        id_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("greeting", sa.Text(), nullable=False),
        sa.Column("provider", _enum("model_provider"), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("base_url", sa.String(500)),
        sa.Column("api_key_encrypted", sa.Text()),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("max_tokens", sa.Integer(), nullable=False),
        sa.Column("input_price_per_million", sa.Float(), nullable=False),
        sa.Column("output_price_per_million", sa.Float(), nullable=False),
        sa.Column("enabled_tools", postgresql.JSONB(), nullable=False),
        sa.Column("knowledge_scope", postgresql.JSONB(), nullable=False),
        created_at_column(),
    )
    op.create_index(
        "uq_assistants_one_default", "assistants", ["tenant_id"], unique=True, postgresql_where=sa.text("is_default")
    )
    op.create_table(
        "contacts",
        id_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("language", sa.String(8)),
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        created_at_column(),
    )
    op.create_table(
        "contact_identities",
        id_column(),
        tenant_id_column(),
        foreign_key_column("contact_id", "contacts", "CASCADE"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        created_at_column(),
        sa.UniqueConstraint("tenant_id", "kind", "external_id"),
    )
    op.create_table(
        "conversations",
        id_column(),
        tenant_id_column(),
        foreign_key_column("contact_id", "contacts", "CASCADE"),
        sa.Column("channel_type", sa.String(32), nullable=False),
        sa.Column("channel_key", sa.String(64), nullable=False),
        foreign_key_column("assistant_id", "assistants", "SET NULL", nullable=True),
        sa.Column("status", _enum("conversation_status"), nullable=False),
        sa.Column("needs_human", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", sa.Text()),
        sa.Column("language", sa.String(8)),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("summarized_up_to", sa.BigInteger(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        created_at_column(),
    )
    op.create_index(
        "uq_conversations_open_per_contact_channel",
        "conversations",
        ["tenant_id", "contact_id", "channel_key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_conversations_tenant_id_last_activity_at", "conversations", ["tenant_id", "last_activity_at"])
    op.create_table(
        "messages",
        id_column(),
        tenant_id_column(),
        foreign_key_column("conversation_id", "conversations", "CASCADE"),
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False, unique=True),
        sa.Column("role", _enum("message_role"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", postgresql.JSONB(), nullable=False),
        sa.Column("buttons", postgresql.JSONB(), nullable=False),
        sa.Column("citations", postgresql.JSONB(), nullable=False),
        sa.Column("usage", postgresql.JSONB()),
        sa.Column("delivery_status", _enum("delivery_status"), nullable=False),
        sa.Column("delivery_error", sa.Text()),
        sa.Column("external_id", sa.String(200)),
        sa.Column("dedupe_key", sa.String(300)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("reply_to", postgresql.JSONB(), nullable=False),
        created_at_column(),
        sa.UniqueConstraint("tenant_id", "dedupe_key"),
    )
    op.create_index("ix_messages_conversation_id_position", "messages", ["conversation_id", "position"])
    op.create_index(
        "ix_messages_unanswered",
        "messages",
        ["conversation_id", "position"],
        postgresql_where=sa.text("role = 'contact' AND answered_at IS NULL"),
    )
    for table in TABLES:
        if table != "messages":
            op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)
    op.create_index("ix_contact_identities_contact_id", "contact_identities", ["contact_id"])
    op.create_index("ix_conversations_contact_id", "conversations", ["contact_id"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    for name in ENUMS:
        postgresql.ENUM(name=name).drop(op.get_bind())
    op.drop_column("tenants", "webhook_secret_encrypted")
    op.drop_column("tenants", "webhook_url")
    op.drop_column("tenants", "facts")
