"""The catalogue: services (length, price fixed or a range, buffer, online booking, archived instead of deleted),
staff with their services and weekly hours (validated JSON), and resources (a chair, a room) with theirs.

Revision ID: 20261207_catalogue
Revises: 20261206_crm_partners
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261207_catalogue"
down_revision = "20261206_crm_partners"
branch_labels = None
depends_on = None

TABLES = ("services", "staff_members", "staff_services", "resources", "resource_services", "products")


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
    op.create_table(
        "staff_members",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("working_hours", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("days_off", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("exceptions", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_staff_members_tenant_id", "staff_members", ["tenant_id"])
    op.create_table(
        "staff_services",
        id_column(),
        tenant_id_column(),
        foreign_key_column("staff_id", "staff_members", "CASCADE"),
        foreign_key_column("service_id", "services", "CASCADE"),
        sa.Column("duration_minutes", sa.Integer()),
        sa.Column("price", sa.Numeric(16, 2)),
        sa.UniqueConstraint("staff_id", "service_id", name="uq_staff_services_staff_service"),
    )
    op.create_table(
        "resources",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_resources_tenant_id", "resources", ["tenant_id"])
    op.create_table(
        "resource_services",
        id_column(),
        tenant_id_column(),
        foreign_key_column("resource_id", "resources", "CASCADE"),
        foreign_key_column("service_id", "services", "CASCADE"),
        sa.UniqueConstraint("resource_id", "service_id", name="uq_resource_services_resource_service"),
    )
    op.create_table(
        "products",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("price", sa.Numeric(16, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stock", sa.Integer()),
        sa.Column("attributes", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("pictures", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("variants", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("dates", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("price >= 0", name="price_not_negative"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )
    op.create_index("ix_products_tenant_id", "products", ["tenant_id"])
    for table, columns in (
        ("staff_services", ("tenant_id", "staff_id", "service_id")),
        ("resource_services", ("tenant_id", "resource_id", "service_id")),
    ):
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column])
    for table in TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
