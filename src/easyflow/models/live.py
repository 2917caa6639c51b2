"""The staff event log: what staff clients (the dashboard, an integration) replay after a dropped connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, TenantOwned


def _tenant_key() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


class StaffEventCounter(TenantOwned, Base):
    """The tenant's last staff event number (written only by `easyflow_number_staff_events`)."""

    __tablename__ = "staff_event_counters"

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    last_id: Mapped[int] = mapped_column(BigInteger)


class StaffEvent(TenantOwned, Base):
    """Numbered per tenant without gaps, in commit order, after they commit (see migration
    20261204_staff_event_numbering); `id` is None until then, and readers see only numbered ones."""

    __tablename__ = "staff_events"
    __table_args__ = (
        Index("ix_staff_events_created_at", "created_at"),
        Index("ix_staff_events_tenant_id_id", "tenant_id", "id", unique=True),
        Index("ix_staff_events_unnumbered", "tenant_id", "seq", postgresql_where=text("id IS NULL")),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
