"""Booking in the chat: each conversation's dialogue state (shown to operators), the assistant's instructions per
state, and the booking dialogue (the guided flow's step, the client, the write awaiting the customer's Confirm).

Revision ID: 20261208_booking_chat
Revises: 20261209_booking_notify
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261208_booking_chat"
down_revision = "20261209_booking_notify"
branch_labels = None
depends_on = None

STATES = "'greeting', 'collecting_info', 'consulting', 'booking', 'confirming', 'completed'"


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("dialogue_state", sa.String(32), nullable=False, server_default="greeting")
    )
    op.create_check_constraint(
        "ck_conversations_dialogue_state_known", "conversations", f"dialogue_state IN ({STATES})"
    )
    op.add_column(
        "assistants", sa.Column("state_instructions", postgresql.JSONB(), nullable=False, server_default="{}")
    )
    op.create_table(
        "booking_dialogues",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        foreign_key_column("conversation_id", "conversations", "CASCADE"),
        sa.Column("flow", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("client", postgresql.JSONB()),
        sa.Column("pending", postgresql.JSONB()),
        sa.Column("pending_expires_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("conversation_id", name="uq_booking_dialogues_conversation_id"),
    )
    op.create_index("ix_booking_dialogues_tenant_id", "booking_dialogues", ["tenant_id"])
    for statement in enable_tenant_rls_sql("booking_dialogues"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("booking_dialogues")
    op.drop_column("assistants", "state_instructions")
    op.drop_constraint("ck_conversations_dialogue_state_known", "conversations", type_="check")
    op.drop_column("conversations", "dialogue_state")
