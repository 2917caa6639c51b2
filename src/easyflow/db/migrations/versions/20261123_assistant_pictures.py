"""Assistants whose model can look at pictures customers send.

Revision ID: 20261123_assistant_pictures
Revises: 20261123_conversation_files
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261123_assistant_pictures"
down_revision = "20261123_conversation_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assistants", sa.Column("sees_pictures", sa.Boolean(), nullable=False, server_default="false"))


def downgrade() -> None:
    op.drop_column("assistants", "sees_pictures")
