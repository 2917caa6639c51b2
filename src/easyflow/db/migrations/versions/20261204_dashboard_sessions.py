"""Dashboard sign-in sessions: the token's hash (never the token), whose session it is, when it was last
seen, when it expires and whether it was revoked; behind the tenant policy like every tenant's table.

Revision ID: 20261204_dashboard_sessions
Revises: 20261204_two_factor
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261204_dashboard_sessions"
down_revision = "20261204_two_factor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        id_column(),
        tenant_id_column(),
        sa.Column(
            "user_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        created_at_column(),
        sa.UniqueConstraint("token_hash", name="uq_dashboard_sessions_token_hash"),
    )
    op.create_index("ix_dashboard_sessions_tenant_id", "dashboard_sessions", ["tenant_id"])
    op.create_index("ix_dashboard_sessions_user_id", "dashboard_sessions", ["user_id"])
    for statement in enable_tenant_rls_sql("dashboard_sessions"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
