"""An assistant's tone of voice (neutral, friendly, formal or brief), told to the language model.

Revision ID: 20261205_assistant_tone
Revises: 20261205_dashboard_preferences
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_assistant_tone"
down_revision = "20261205_dashboard_preferences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assistants", sa.Column("tone", sa.String(16), nullable=False, server_default="neutral"))
    op.create_check_constraint("ck_assistants_tone", "assistants", "tone IN ('neutral', 'friendly', 'formal', 'brief')")


def downgrade() -> None:
    op.drop_constraint("ck_assistants_tone", "assistants", type_="check")
    op.drop_column("assistants", "tone")
