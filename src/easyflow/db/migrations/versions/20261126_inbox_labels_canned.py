"""The inbox's working tools: labels on conversations and contacts, canned responses, and what the
conversation list shows fast (the newest messages' preview comes from an index already there).

- `conversations.labels`, `contacts.labels`: short tags, text arrays with GIN indexes (filter by a label);
  empty by default, so SQL that writes those rows without naming them (`easyflow_accept_message`) stays valid.
- `canned_responses`: a short code unique per tenant (found by prefix) and its text.
- `ix_conversations_tenant_id_last_activity_at_id`: the list's keyset order (newest activity first, id to
  break ties), replacing the index without the id.

Revision ID: 20261126_inbox_labels_canned
Revises: 20261126_conversation_lifecycle
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261126_inbox_labels_canned"
down_revision = "20261126_conversation_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("conversations", "contacts"):
        op.add_column(
            table,
            sa.Column(
                "labels", postgresql.ARRAY(sa.String(64)), nullable=False, server_default=sa.text("'{}'::varchar[]")
            ),
        )
        op.create_index(f"ix_{table}_labels", table, ["labels"], postgresql_using="gin")
    op.drop_index("ix_conversations_tenant_id_last_activity_at", "conversations")
    op.create_index(
        "ix_conversations_tenant_id_last_activity_at_id", "conversations", ["tenant_id", "last_activity_at", "id"]
    )
    op.create_table(
        "canned_responses",
        id_column(),
        tenant_id_column(),
        sa.Column("short_code", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        created_at_column(),
        sa.UniqueConstraint("tenant_id", "short_code"),
    )
    for statement in enable_tenant_rls_sql("canned_responses"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("canned_responses")
    op.drop_index("ix_conversations_tenant_id_last_activity_at_id", "conversations")
    op.create_index("ix_conversations_tenant_id_last_activity_at", "conversations", ["tenant_id", "last_activity_at"])
    for table in ("conversations", "contacts"):
        op.drop_index(f"ix_{table}_labels", table)
        op.drop_column(table, "labels")
