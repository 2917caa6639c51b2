"""Imports of chat history (WhatsApp, Telegram exports; CSV of contacts): `chat_imports`, one row per
import with its state and report, and `chat_import_files`, the uploaded bytes kept until the import ran.

Revision ID: 20261206_chat_imports
Revises: 20261206_crm_funnel
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261206_chat_imports"
down_revision = "20261206_crm_funnel"
branch_labels = None
depends_on = None

STATUSES = ("queued", "running", "done", "failed")


def upgrade() -> None:
    op.create_table(
        "chat_imports",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("status", postgresql.ENUM(*STATUSES, name="chat_import_status"), nullable=False),
        sa.Column("business", sa.String(200), nullable=True),
        sa.Column("files", postgresql.JSONB(), nullable=False),
        sa.Column("report", postgresql.JSONB(), nullable=False),
        sa.Column("chats_total", sa.Integer(), nullable=False),
        sa.Column("chats_done", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        foreign_key_column("created_by", "users", "SET NULL", nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_chat_imports_tenant_id", "chat_imports", ["tenant_id"])
    op.create_table(
        "chat_import_files",
        id_column(),
        tenant_id_column(),
        foreign_key_column("import_id", "chat_imports", "CASCADE"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_chat_import_files_tenant_id", "chat_import_files", ["tenant_id"])
    op.create_index("ix_chat_import_files_import_id", "chat_import_files", ["import_id"])
    for table in ("chat_imports", "chat_import_files"):
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("chat_import_files")
    op.drop_table("chat_imports")
    postgresql.ENUM(name="chat_import_status").drop(op.get_bind())
