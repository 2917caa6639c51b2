"""Index conversation_files.tenant_id like every other tenant table's (the model declared it; the migration
that made the table did not, which the ORM-versus-migrations test found). Deleting a tenant cascades through it.

Revision ID: 20261126_files_tenant_index
Revises: 20261126_accept_message
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_files_tenant_index"
down_revision = "20261126_accept_message"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversation_files_tenant_id", "conversation_files", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_conversation_files_tenant_id", table_name="conversation_files")
