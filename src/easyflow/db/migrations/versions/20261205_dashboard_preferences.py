"""The dashboard's preferences: the language a member chose for it (none: the browser's), and the tenant's
policy that every member signs in with two factors.

Revision ID: 20261205_dashboard_preferences
Revises: 20261204_dashboard_sessions
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_dashboard_preferences"
down_revision = "20261204_dashboard_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(8), nullable=True))
    op.add_column(
        "tenants",
        sa.Column("two_factor_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("tenants", "two_factor_required")
    op.drop_column("users", "language")
