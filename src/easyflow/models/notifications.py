"""How staff are told about their conversations outside the dashboard: a member's Telegram chat linked through
the tenant's bot, the one-time tokens of the deep links that link it, and which kinds of notice go where."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class StaffTelegramLink(TenantOwned, Base):
    """The member's own Telegram chat with one of the tenant's bots, where notices go (one per member)."""

    __tablename__ = "staff_telegram_links"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The bot that heard `/start <token>`: only it can write to this chat.
    channel_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("channels.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffLinkToken(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A one-time token of a deep link `t.me/<bot>?start=notify_<public_id>_<secret>`; only its hash is kept."""

    __tablename__ = "staff_link_tokens"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffNotificationPreferences(TenantOwned, Base):
    """Which kinds of notice (`inbox.notifications.Kind`) a member wants where; a member without a row has the
    defaults (every kind in Telegram once linked, no e-mail until they ask for it)."""

    __tablename__ = "staff_notification_preferences"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    telegram_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text))
    email_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text))
