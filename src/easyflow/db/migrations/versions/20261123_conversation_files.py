"""Files customers send in a conversation (the website widget's uploads), kept in the database.

Revision ID: 20261123_conversation_files
Revises: 20261123_search_speed
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261123_conversation_files"
down_revision = "20261123_search_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_files",
        id_column(),
        tenant_id_column(),
        foreign_key_column("conversation_id", "conversations", "CASCADE", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        created_at_column(),
    )
    op.create_index("ix_conversation_files_conversation_id", "conversation_files", ["conversation_id"])
    for statement in enable_tenant_rls_sql("conversation_files"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("conversation_files")
