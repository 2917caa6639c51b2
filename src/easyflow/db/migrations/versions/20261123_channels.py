"""Connected channels (Telegram bots, website widgets).

Revision ID: 20261123_channels
Revises: 20261123_knowledge
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261123_channels"
down_revision = "20261123_knowledge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        id_column(),
        tenant_id_column(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", postgresql.ENUM("active", "paused", name="channel_status"), nullable=False),
        foreign_key_column("assistant_id", "assistants", "SET NULL", nullable=True),
        sa.Column("credentials_encrypted", sa.Text()),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("public_key", sa.String(64), unique=True),
        created_at_column(),
    )
    op.create_index("ix_channels_tenant_id", "channels", ["tenant_id"])
    for statement in enable_tenant_rls_sql("channels"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("channels")
    postgresql.ENUM(name="channel_status").drop(op.get_bind())
