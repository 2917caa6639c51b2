"""The staff event log: what staff clients (the dashboard, an integration) replay after a dropped connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, TenantOwned


def _tenant_key() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


class StaffEventCounter(TenantOwned, Base):
    """The tenant's last staff event number (written only by `easyflow_staff_event`)."""

    __tablename__ = "staff_event_counters"

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    last_id: Mapped[int] = mapped_column(BigInteger)


class StaffEvent(TenantOwned, Base):
    """Numbered per tenant without gaps, in commit order (see migration 20261126_conversation_lifecycle)."""

    __tablename__ = "staff_events"
    __table_args__ = (Index("ix_staff_events_created_at", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
