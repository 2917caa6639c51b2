"""Business hours on tenants, SLA policies, and each conversation's standing against its SLA.

Revision ID: 20261204_business_hours_sla
Revises: 20261126_rls_once_per_statement
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261204_business_hours_sla"
down_revision = "20261126_rls_once_per_statement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("business_hours", postgresql.JSONB(), nullable=True))
    op.create_table(
        "sla_policies",
        id_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("business_hours_only", sa.Boolean(), nullable=False),
        foreign_key_column("team_id", "teams", "CASCADE", nullable=True),
        sa.Column("label", sa.String(64), nullable=True),
        created_at_column(),
    )
    op.create_index("ix_sla_policies_tenant_id", "sla_policies", ["tenant_id"])
    op.create_index("ix_sla_policies_team_id", "sla_policies", ["team_id"])
    for statement in enable_tenant_rls_sql("sla_policies"):
        op.execute(statement)

    op.add_column("conversations", foreign_key_column("sla_policy_id", "sla_policies", "SET NULL", nullable=True))
    op.add_column("conversations", sa.Column("sla_status", sa.String(16), nullable=True))
    op.add_column("conversations", sa.Column("sla_running", sa.Boolean(), nullable=False, server_default=sa.false()))
    for name in (
        "sla_started_at",
        "sla_first_response_at",
        "sla_first_response_due_at",
        "sla_next_response_due_at",
        "sla_resolution_due_at",
        "sla_next_check_at",
    ):
        op.add_column("conversations", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "conversations",
        sa.Column("sla_breaches", postgresql.ARRAY(sa.String(32)), nullable=False, server_default="{}"),
    )
    op.create_index(
        "ix_conversations_sla_next_check_at",
        "conversations",
        ["sla_next_check_at"],
        postgresql_where=sa.text("sla_running"),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_sla_next_check_at", table_name="conversations")
    for name in (
        "sla_breaches",
        "sla_next_check_at",
        "sla_resolution_due_at",
        "sla_next_response_due_at",
        "sla_first_response_due_at",
        "sla_first_response_at",
        "sla_started_at",
        "sla_running",
        "sla_status",
        "sla_policy_id",
    ):
        op.drop_column("conversations", name)
    op.drop_table("sla_policies")
    op.drop_column("tenants", "business_hours")
