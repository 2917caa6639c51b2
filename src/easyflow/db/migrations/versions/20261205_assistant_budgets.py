"""A monthly budget per assistant: what its language model may cost in a calendar month (UTC), and what it
has cost so far (`assistant_spending`, one row per assistant and month, added to with each reply).

Revision ID: 20261205_assistant_budgets
Revises: 20261205_assistant_tone
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easyflow.db.migration_columns import foreign_key_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261205_assistant_budgets"
down_revision = "20261205_assistant_tone"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assistants", sa.Column("monthly_budget", sa.Float(), nullable=True))
    op.create_table(
        "assistant_spending",
        tenant_id_column(),
        foreign_key_column("assistant_id", "assistants", "CASCADE", primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
    )
    op.create_index("ix_assistant_spending_tenant_id", "assistant_spending", ["tenant_id"])
    for statement in enable_tenant_rls_sql("assistant_spending"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("assistant_spending")
    op.drop_column("assistants", "monthly_budget")
