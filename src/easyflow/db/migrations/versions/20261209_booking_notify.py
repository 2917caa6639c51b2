"""Booking notices: when customers are reminded of their appointments (`booking_settings.reminder_offsets_minutes`,
24 h and 2 h before by default), one row per reminder sent (`appointment_reminders`, keyed by the start it was
for, so a moved appointment is reminded again of its new time and never twice of one), and which dashboard
member a staff member is (`staff_members.user_id`), whose notices tell them of their new, moved and cancelled
bookings.

Revision ID: 20261209_booking_notify
Revises: 20261208_booking
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import foreign_key_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261209_booking_notify"
down_revision = "20261208_booking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "booking_settings",
        sa.Column(
            "reminder_offsets_minutes",
            postgresql.ARRAY(sa.Integer()),
            nullable=False,
            server_default="{1440,120}",
        ),
    )
    op.create_check_constraint(
        "reminder_offsets_in_range",
        "booking_settings",
        "cardinality(reminder_offsets_minutes) <= 5 AND 5 <= ALL(reminder_offsets_minutes) "
        "AND 20160 >= ALL(reminder_offsets_minutes)",
    )
    op.create_table(
        "appointment_reminders",
        tenant_id_column(),
        foreign_key_column("appointment_id", "appointments", "CASCADE"),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        foreign_key_column("conversation_id", "conversations", "SET NULL", nullable=True),
        sa.Column("message_id", postgresql.UUID(as_uuid=True)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "appointment_id", "offset_minutes", "starts_at"),
        sa.CheckConstraint("outcome IN ('sent', 'unreachable')", name="outcome_known"),
    )
    op.create_index("ix_appointment_reminders_conversation_id", "appointment_reminders", ["conversation_id", "sent_at"])
    for statement in enable_tenant_rls_sql("appointment_reminders"):
        op.execute(statement)
    op.add_column("staff_members", foreign_key_column("user_id", "users", "SET NULL", nullable=True))


def downgrade() -> None:
    op.drop_column("staff_members", "user_id")
    op.drop_table("appointment_reminders")
    op.drop_constraint("reminder_offsets_in_range", "booking_settings", type_="check")
    op.drop_column("booking_settings", "reminder_offsets_minutes")
