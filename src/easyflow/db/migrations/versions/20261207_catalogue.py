"""The catalogue's services: length, price (fixed or a range), buffer, online booking, archived instead of deleted.

Revision ID: 20261207_catalogue
Revises: 20261206_crm_partners
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easyflow.db.migration_columns import created_at_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261207_catalogue"
down_revision = "20261206_crm_partners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "services",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("category", sa.String(100), nullable=False, server_default=""),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price", sa.Numeric(16, 2)),
        sa.Column("price_from", sa.Numeric(16, 2)),
        sa.Column("price_to", sa.Numeric(16, 2)),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("online_bookable", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("duration_minutes BETWEEN 5 AND 1440", name="duration_in_range"),
        sa.CheckConstraint("buffer_after_minutes BETWEEN 0 AND 1440", name="buffer_in_range"),
        sa.CheckConstraint("price IS NULL OR (price_from IS NULL AND price_to IS NULL)", name="one_kind_of_price"),
        sa.CheckConstraint(
            "price_from IS NULL OR price_to IS NULL OR price_from <= price_to", name="price_range_ordered"
        ),
    )
    op.create_index("ix_services_tenant_id", "services", ["tenant_id"])
    for statement in enable_tenant_rls_sql("services"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("services")
