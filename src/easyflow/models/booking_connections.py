"""A tenant's connection to an external booking system (YCLIENTS/Altegio now; Bitrix24, amoCRM, 1C, EasyWeek
later), and the record changes that system reported to us by webhook."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class BookingConnection(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """One per tenant: the assistant books through one system. `account` is the system's id of the business
    (YCLIENTS' company_id); `credentials_encrypted` holds its user token (never returned by the API);
    `webhook_secret_hash` is the SHA-256 of the secret in the webhook URL we handed out once."""

    __tablename__ = "booking_connections"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_booking_connections_tenant_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    webhook_secret_hash: Mapped[str] = mapped_column(String(64))
    # Public facts read from the system when connecting (the business's name, its time zone offset).
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class BookingSyncEvent(IdMixin, TenantOwned, Base):
    """A record created, changed or deleted in the external system, as its webhook told us; the latest
    payload of each record is what we know of it. A delivery repeated word for word is kept once."""

    __tablename__ = "booking_sync_events"
    __table_args__ = (
        UniqueConstraint(
            "connection_id", "resource", "resource_id", "status", "payload_hash", name="uq_booking_sync_events_delivery"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("booking_connections.id", ondelete="CASCADE"), index=True
    )
    resource: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    payload_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
