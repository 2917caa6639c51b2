"""Teams: operators grouped (sales, tours, the salon's administrators); a conversation can be for a team, and
is then assigned only to that team's members.

Revision ID: 20261126_teams
Revises: 20261126_inbox_labels_canned
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261126_teams"
down_revision = "20261126_inbox_labels_canned"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        id_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(100), nullable=False),
        created_at_column(),
    )
    op.create_index("uq_teams_tenant_id_lower_name", "teams", ["tenant_id", sa.text("lower(name)")], unique=True)
    op.create_table(
        "team_members",
        tenant_id_column(),
        foreign_key_column("team_id", "teams", "CASCADE", primary_key=True),
        foreign_key_column("user_id", "users", "CASCADE", primary_key=True),
    )
    op.create_index("ix_team_members_tenant_id_user_id", "team_members", ["tenant_id", "user_id"])
    op.add_column("conversations", foreign_key_column("team_id", "teams", "SET NULL", nullable=True))
    for table in ("teams", "team_members"):
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_column("conversations", "team_id")
    op.drop_table("team_members")
    op.drop_table("teams")
