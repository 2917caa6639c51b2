"""Partners (guides, hotels, transport and other providers the business hands clients to) and the transfers
of deals to them, with how each was delivered and whether the partner acknowledged it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class ReachBy(enum.StrEnum):
    """How a partner is sent a transfer."""

    telegram = "telegram"  # a chat the tenant's Telegram bot writes to (the partner started the bot)
    email = "email"
    webhook = "webhook"  # a signed POST to the partner's system


class TransferStatus(enum.StrEnum):
    """Where the sending of a transfer is; whether the partner acknowledged it is `acknowledged_at`."""

    queued = "queued"
    sent = "sent"
    failed = "failed"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


class Partner(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "partners"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # guide, hotel, transport, restaurant, other, or the business's own word for it.
    kind: Mapped[str] = mapped_column(String(40), default="other")
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    notes: Mapped[str] = mapped_column(Text, default="")
    reach_by: Mapped[ReachBy | None] = mapped_column(_enum(ReachBy, "partner_reach_by"))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PartnerTransfer(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A deal handed to a partner: the summary sent, how, and the partner's acknowledgement. Kept when the
    partner is removed from the directory (its name stays)."""

    __tablename__ = "partner_transfers"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    deal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("deals.id", ondelete="CASCADE"), index=True
    )
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )
    partner_name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[TransferStatus] = mapped_column(
        _enum(TransferStatus, "partner_transfer_status"), default=TransferStatus.queued
    )
    sent_via: Mapped[ReachBy | None] = mapped_column(_enum(ReachBy, "partner_reach_by"))
    summary: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The acknowledgement link's token, hashed (SHA-256 hex): found by its hash, never stored in the clear.
    ack_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
