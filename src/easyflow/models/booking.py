"""Booking: a tenant's booking settings and its appointments (holds included). The database itself refuses a
double booking: see migration 20261208_booking for the exclusion constraints and how expired holds are swept."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSTZRANGE, UUID, Range
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class AppointmentStatus(enum.StrEnum):
    held = "held"  # offered in a chat, waiting for the customer's confirmation until `hold_expires_at`
    pending = "pending"  # booked, not yet confirmed by the business
    confirmed = "confirmed"
    arrived = "arrived"
    no_show = "no_show"
    cancelled = "cancelled"


# The statuses that occupy their time (the exclusion constraints' predicate).
LIVE_STATUSES = (
    AppointmentStatus.held,
    AppointmentStatus.pending,
    AppointmentStatus.confirmed,
    AppointmentStatus.arrived,
)


class AppointmentSource(enum.StrEnum):
    api = "api"
    chat = "chat"
    dashboard = "dashboard"
    yclients = "yclients"


DEFAULT_REMINDER_OFFSETS = (24 * 60, 2 * 60)


class BookingSettings(TenantOwned, Base):
    """How far ahead and how soon customers may book; a tenant without a row has the defaults. The time zone is
    the tenant's own (`tenants.timezone`)."""

    __tablename__ = "booking_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    lead_time_minutes: Mapped[int] = mapped_column(Integer, default=60)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    hold_minutes: Mapped[int] = mapped_column(Integer, default=5)
    slot_step_minutes: Mapped[int] = mapped_column(Integer, default=15)
    # Minutes before an appointment its customer is reminded (booking/reminders.py).
    reminder_offsets_minutes: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), default=lambda: list(DEFAULT_REMINDER_OFFSETS)
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Appointment(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """One service for one customer with one staff member. Services booked back to back share a `booking_id`
    (in `position` order); the customer's name and phone are kept as given, whatever becomes of the contact."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("buffer_after_minutes BETWEEN 0 AND 1440", name="buffer_in_range"),
        CheckConstraint(
            "status IN ('held', 'pending', 'confirmed', 'arrived', 'no_show', 'cancelled')", name="status_known"
        ),
        CheckConstraint("(status = 'held') = (hold_expires_at IS NOT NULL)", name="held_until"),
        CheckConstraint("source IN ('api', 'chat', 'dashboard', 'yclients')", name="source_known"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_appointments_tenant_id_starts_at", "tenant_id", "starts_at"),
        Index("ix_appointments_booking_id", "booking_id"),
        Index("ix_appointments_contact_id", "contact_id"),
        Index("ix_appointments_conversation_id", "conversation_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    booking_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("services.id", ondelete="RESTRICT"))
    staff_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("staff_members.id", ondelete="RESTRICT"))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("resources.id", ondelete="RESTRICT")
    )
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="SET NULL")
    )
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[Range[datetime]] = mapped_column(
        TSTZRANGE,
        Computed(
            "tstzrange(starts_at, ((ends_at AT TIME ZONE 'UTC') + make_interval(mins => buffer_after_minutes))"
            " AT TIME ZONE 'UTC', '[)')",
            persisted=True,
        ),
    )
    status: Mapped[str] = mapped_column(String(16))
    hold_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="SET NULL")
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the request the key was first used with: the same key with another request is refused.
    request_digest: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AppointmentReminder(TenantOwned, Base):
    """A reminder sent (or found impossible: no conversation to send it in) for one start of an appointment, so
    each offset reminds once per start: a moved appointment is reminded of its new time."""

    __tablename__ = "appointment_reminders"
    __table_args__ = (
        CheckConstraint("outcome IN ('sent', 'unreachable')", name="outcome_known"),
        Index("ix_appointment_reminders_conversation_id", "conversation_id", "sent_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    offset_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="SET NULL")
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    outcome: Mapped[str] = mapped_column(String(16))
