"""Staff notifications outside the dashboard: a member's Telegram chat linked through the tenant's bot
(`staff_telegram_links`), the one-time tokens of the deep links that link it (`staff_link_tokens`, hashed,
found by their public part), and which kinds of notice go to Telegram and to e-mail
(`staff_notification_preferences`). Every table is a tenant's, behind the same policy as the others; the two
keyed by (tenant_id, user_id) are found by tenant through their primary key.

Revision ID: 20261204_staff_notifications
Revises: 20261204_csat
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261204_staff_notifications"
down_revision = "20261204_csat"
branch_labels = None
depends_on = None

_TABLES = ("staff_telegram_links", "staff_link_tokens", "staff_notification_preferences")


def _member_key() -> list[sa.Column]:
    return [
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        foreign_key_column("user_id", "users", "CASCADE", primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "staff_telegram_links",
        *_member_key(),
        foreign_key_column("channel_id", "channels", "CASCADE"),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff_link_tokens",
        id_column(),
        tenant_id_column(),
        foreign_key_column("user_id", "users", "CASCADE"),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        created_at_column(),
    )
    op.create_index("ix_staff_link_tokens_tenant_id", "staff_link_tokens", ["tenant_id"])
    op.create_table(
        "staff_notification_preferences",
        *_member_key(),
        sa.Column("telegram_kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("email_kinds", postgresql.ARRAY(sa.Text()), nullable=False),
    )
    for table in _TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
