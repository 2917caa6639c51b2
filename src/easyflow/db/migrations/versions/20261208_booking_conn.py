"""External booking systems: a tenant's connection (YCLIENTS' company id, its encrypted user token, the hash of
the webhook secret) and the record changes its webhooks reported (a repeated delivery kept once).

Revision ID: 20261208_booking_conn
Revises: 20261208_catalogue_tools
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261208_booking_conn"
down_revision = "20261208_catalogue_tools"
branch_labels = None
depends_on = None

TABLES = ("booking_connections", "booking_sync_events")


def upgrade() -> None:
    op.create_table(
        "booking_connections",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("credentials_encrypted", sa.Text(), nullable=False),
        sa.Column("webhook_secret_hash", sa.String(64), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", name="uq_booking_connections_tenant_id"),
    )
    op.create_table(
        "booking_sync_events",
        id_column(),
        tenant_id_column(),
        foreign_key_column("connection_id", "booking_connections", "CASCADE"),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("payload", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint(
            "connection_id", "resource", "resource_id", "status", "payload_hash", name="uq_booking_sync_events_delivery"
        ),
    )
    op.create_index("ix_booking_sync_events_tenant_id", "booking_sync_events", ["tenant_id"])
    op.create_index("ix_booking_sync_events_connection_id", "booking_sync_events", ["connection_id"])
    for table in TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
