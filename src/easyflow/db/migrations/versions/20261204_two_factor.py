"""Two-factor sign-in: a TOTP secret per user (encrypted; in use once confirmed with a code; the last accepted
30-second step, so no code is accepted twice; failed codes counted for the wait after five) and ten
single-use recovery codes per user, kept hashed.

Users are not a tenant's (one person, several tenants), so neither table is behind the tenant policy, like
`users` itself.

Revision ID: 20261204_two_factor
Revises: 20261204_audit_log
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column

revision = "20261204_two_factor"
down_revision = "20261204_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "two_factor_credentials",
        foreign_key_column("user_id", "users", "CASCADE", primary_key=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("failed_since", sa.DateTime(timezone=True), nullable=True),
        created_at_column(),
    )
    op.create_table(
        "two_factor_recovery_codes",
        id_column(),
        foreign_key_column("user_id", "users", "CASCADE"),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        created_at_column(),
    )
    op.create_index("ix_two_factor_recovery_codes_user_id", "two_factor_recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_table("two_factor_recovery_codes")
    op.drop_table("two_factor_credentials")
