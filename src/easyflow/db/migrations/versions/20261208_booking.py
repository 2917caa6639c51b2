"""Booking: each tenant's booking settings and the appointments, with two exclusion constraints that make a
double booking of a staff member or a resource impossible whatever the code above does.

The range an appointment blocks (`blocked`) runs from its start to its end plus the service's buffer, so the
clean-up after one appointment cannot be booked by another. Holds block like bookings until they expire; an
expired hold is swept (deleted) by the booking code in the same transaction, just before its insert or move,
so it never blocks anyone (a constraint's predicate cannot call now()).

Revision ID: 20261208_booking
Revises: 20261207_catalogue
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261208_booking"
down_revision = "20261207_catalogue"
branch_labels = None
depends_on = None

TABLES = ("booking_settings", "appointments")
LIVE_STATUSES = "status IN ('held', 'pending', 'confirmed', 'arrived')"

# Through UTC wall time, because `timestamptz + interval` is only declared stable and a generated column needs
# immutable functions (user-defined ones are refused too); adding minutes in UTC is the same instant either way.
BLOCKED_RANGE = (
    "tstzrange(starts_at, ((ends_at AT TIME ZONE 'UTC') + make_interval(mins => buffer_after_minutes))"
    " AT TIME ZONE 'UTC', '[)')"
)

# An external server without contrib would fail with "could not open extension control file"; say what to do.
REQUIRE_BTREE_GIST = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist') THEN
        RAISE EXCEPTION 'PostgreSQL extension btree_gist is not available on this server'
            USING HINT = 'Install the PostgreSQL contrib package (btree_gist); booking needs it for its '
                         'no-double-booking exclusion constraints.';
    END IF;
END
$$
"""


def upgrade() -> None:
    op.execute(REQUIRE_BTREE_GIST)
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "booking_settings",
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("lead_time_minutes", sa.Integer(), nullable=False, server_default="60"),
        sa.Column("horizon_days", sa.Integer(), nullable=False, server_default="60"),
        sa.Column("hold_minutes", sa.Integer(), nullable=False, server_default="5"),
        sa.Column("slot_step_minutes", sa.Integer(), nullable=False, server_default="15"),
        sa.Column("backend", sa.String(32), nullable=False, server_default="native"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("lead_time_minutes BETWEEN 0 AND 43200", name="lead_time_in_range"),
        sa.CheckConstraint("horizon_days BETWEEN 1 AND 730", name="horizon_in_range"),
        sa.CheckConstraint("hold_minutes BETWEEN 1 AND 1440", name="hold_in_range"),
        sa.CheckConstraint("slot_step_minutes BETWEEN 5 AND 240", name="slot_step_in_range"),
    )
    op.create_table(
        "appointments",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("booking_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False, server_default="0"),
        foreign_key_column("service_id", "services", "RESTRICT"),
        foreign_key_column("staff_id", "staff_members", "RESTRICT"),
        foreign_key_column("resource_id", "resources", "RESTRICT", nullable=True),
        foreign_key_column("contact_id", "contacts", "SET NULL", nullable=True),
        sa.Column("customer_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("customer_phone", sa.String(32)),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "blocked",
            postgresql.TSTZRANGE(),
            sa.Computed(BLOCKED_RANGE, persisted=True),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True)),
        foreign_key_column("conversation_id", "conversations", "SET NULL", nullable=True),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("request_digest", sa.String(64)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        foreign_key_column("created_by", "users", "SET NULL", nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("buffer_after_minutes BETWEEN 0 AND 1440", name="buffer_in_range"),
        sa.CheckConstraint(
            "status IN ('held', 'pending', 'confirmed', 'arrived', 'no_show', 'cancelled')", name="status_known"
        ),
        sa.CheckConstraint("(status = 'held') = (hold_expires_at IS NOT NULL)", name="held_until"),
        sa.CheckConstraint("source IN ('api', 'chat', 'dashboard', 'yclients')", name="source_known"),
        # The key names the whole booking, so only its first appointment carries it.
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_appointments_tenant_id_idempotency_key"),
        postgresql.ExcludeConstraint(
            ("tenant_id", "="),
            ("staff_id", "="),
            ("blocked", "&&"),
            name="appointments_staff_not_double_booked",
            using="gist",
            where=sa.text(LIVE_STATUSES),
        ),
        postgresql.ExcludeConstraint(
            ("tenant_id", "="),
            ("resource_id", "="),
            ("blocked", "&&"),
            name="appointments_resource_not_double_booked",
            using="gist",
            where=sa.text(f"resource_id IS NOT NULL AND {LIVE_STATUSES}"),
        ),
    )
    op.create_index("ix_appointments_tenant_id_starts_at", "appointments", ["tenant_id", "starts_at"])
    op.create_index("ix_appointments_booking_id", "appointments", ["booking_id"])
    op.create_index("ix_appointments_contact_id", "appointments", ["contact_id"])
    op.create_index("ix_appointments_conversation_id", "appointments", ["conversation_id"])
    for table in TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    # btree_gist stays: other objects may use it, and dropping an extension needs more rights than creating.
