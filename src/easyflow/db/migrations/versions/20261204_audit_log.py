"""The audit log: `audit_events`, one row per security-relevant act in a tenant (sign-ins and failed ones, API
keys created and revoked, members invited, changed and removed, channels and assistants created, changed and
removed), read by admins through `GET /api/v1/audit`.

Append-only where it matters: the application's database role may insert and read rows but is refused UPDATE
and DELETE (`db/rls.APPEND_ONLY_TABLES`: the grants given after every migration run take those back), so
neither a bug nor injected SQL in the app can rewrite history. The rows go when their tenant is
deleted (the foreign key's cascade runs as the table's owner).

Revision ID: 20261204_audit_log
Revises: 20261204_one_waiting_reply
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261204_audit_log"
down_revision = "20261204_one_waiting_reply"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        id_column(),
        tenant_id_column(),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_user_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor_api_key_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        created_at_column(),
    )
    op.create_index("ix_audit_events_tenant_id_created_at_id", "audit_events", ["tenant_id", "created_at", "id"])
    for statement in enable_tenant_rls_sql("audit_events"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_events")
