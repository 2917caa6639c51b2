"""The catalogue: services the business sells by the appointment (a haircut, a consultation), with their length
and price. A removed service is archived, not deleted, so the appointments that name it keep their meaning."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class Service(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 5 AND 1440", name="duration_in_range"),
        CheckConstraint("buffer_after_minutes BETWEEN 0 AND 1440", name="buffer_in_range"),
        # A fixed price, or a range ("from 1500 to 3000"), or none (priced on the spot).
        CheckConstraint("price IS NULL OR (price_from IS NULL AND price_to IS NULL)", name="one_kind_of_price"),
        CheckConstraint("price_from IS NULL OR price_to IS NULL OR price_from <= price_to", name="price_range_ordered"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    price_from: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    price_to: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    online_bookable: Mapped[bool] = mapped_column(Boolean, default=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class StaffMember(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """Someone who performs services. The week's hours, days off and one-day exceptions are validated JSON
    (local wall-clock times in the tenant's time zone): they are always read and written whole, with the
    member, and the slot search reads the whole week at once, so rows per interval would only add joins."""

    __tablename__ = "staff_members"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    working_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    days_off: Mapped[list[str]] = mapped_column(JSONB, default=list)
    exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # The dashboard member this person is, if any: their notices tell them of bookings with them.
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class StaffService(IdMixin, TenantOwned, Base):
    """A service a member performs, with their own length or price when it differs from the service's."""

    __tablename__ = "staff_services"
    __table_args__ = (UniqueConstraint("staff_id", "service_id", name="uq_staff_services_staff_service"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))


class Resource(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A chair, a room: something a service needs that only one appointment can hold at a time."""

    __tablename__ = "resources"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ResourceService(IdMixin, TenantOwned, Base):
    __tablename__ = "resource_services"
    __table_args__ = (UniqueConstraint("resource_id", "service_id", name="uq_resource_services_resource_service"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("services.id", ondelete="CASCADE"), index=True
    )


class Product(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """Something sold as a thing rather than by the appointment; a tour is a product with `dates`. Attributes,
    pictures, variants and dates are validated JSON read and written whole with the product."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int | None] = mapped_column(Integer)  # none: not tracked
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    pictures: Mapped[list[str]] = mapped_column(JSONB, default=list)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    dates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
