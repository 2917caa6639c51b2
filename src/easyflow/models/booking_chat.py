"""Booking in the chat: where each conversation is in the booking dialogue, the guided flow's step (the
options its buttons offered), and the one write waiting for the customer's Confirm."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class DialogueState(enum.StrEnum):
    greeting = "greeting"
    collecting_info = "collecting_info"
    consulting = "consulting"
    booking = "booking"
    confirming = "confirming"
    completed = "completed"


class BookingDialogue(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "booking_dialogues"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    # The guided flow: its step, what it chose so far, and the options its last buttons offered (label -> value).
    flow: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The client this conversation books for, once known (an id in the booking backend).
    client: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The write the customer was asked to confirm; it runs only when they press Confirm before it expires.
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    pending_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
