"""Tenants, users, memberships, API keys and refresh tokens, with row-level security.

Revision ID: 20261123_tenancy
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261123_tenancy"
down_revision = None
branch_labels = None
depends_on = None

ROLES = ("owner", "admin", "operator", "viewer")
TENANT_TABLES = ("memberships", "api_keys", "refresh_tokens")


def upgrade() -> None:
    role = postgresql.ENUM(*ROLES, name="member_role")
    op.create_table(
        "tenants",
        id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("default_language", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        created_at_column(),
    )
    op.create_table(
        "users",
        id_column(),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        created_at_column(),
    )
    op.create_table(
        "memberships",
        id_column(),
        tenant_id_column(),
        sa.Column(
            "user_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", role, nullable=False),
        created_at_column(),
        sa.UniqueConstraint("tenant_id", "user_id"),
    )
    op.create_table(
        "api_keys",
        id_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", role, nullable=False),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        created_at_column(),
    )
    op.create_table(
        "refresh_tokens",
        id_column(),
        tenant_id_column(),
        sa.Column(
            "user_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("family_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        created_at_column(),
    )
    for table in TENANT_TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    for statement in enable_tenant_rls_sql("tenants", column="id"):
        op.execute(statement)
    for table in TENANT_TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in ("refresh_tokens", "api_keys", "memberships", "users", "tenants"):
        op.drop_table(table)
    postgresql.ENUM(name="member_role").drop(op.get_bind())
