"""Invitations: an existing user joins another tenant only by accepting, under the tenant policy.

Revision ID: 20261126_invitations
Revises: 20261126_job_queue_version
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261126_invitations"
down_revision = "20261126_job_queue_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        id_column(),
        tenant_id_column(),
        foreign_key_column("user_id", "users", "CASCADE"),
        sa.Column("role", postgresql.ENUM(name="member_role", create_type=False), nullable=False),
        sa.Column("joins_on_sign_in", sa.Boolean(), nullable=False),
        foreign_key_column("invited_by", "users", "SET NULL", nullable=True),
        created_at_column(),
        sa.UniqueConstraint("tenant_id", "user_id"),
    )
    op.create_index("ix_invitations_tenant_id", "invitations", ["tenant_id"])
    op.create_index("ix_invitations_user_id", "invitations", ["user_id"])
    for statement in enable_tenant_rls_sql("invitations"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("invitations")
