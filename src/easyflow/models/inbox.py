"""The inbox's own records: operators' presence (whether someone is there to take a conversation) and canned
responses."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class Presence(enum.StrEnum):
    online = "online"
    busy = "busy"  # connected, but takes no new conversations
    offline = "offline"


class OperatorPresence(TenantOwned, Base):
    """What the operator chose, and when their live connection was last heard (silent 60 s: offline)."""

    __tablename__ = "operator_presence"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    chosen: Mapped[str] = mapped_column(String(16), default=Presence.online.value)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CannedResponse(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A reply an operator inserts by its short code (`/price` …); codes are unique per tenant."""

    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "short_code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    short_code: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
