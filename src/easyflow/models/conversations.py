"""Contacts, their channel identities, conversations and messages."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


def _tenant_fk(*, index: bool = True) -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=index)


class MessageRole(enum.StrEnum):
    contact = "contact"
    assistant = "assistant"
    operator = "operator"
    system = "system"


class ConversationStatus(enum.StrEnum):
    open = "open"
    closed = "closed"


class DeliveryStatus(enum.StrEnum):
    """Where an outgoing message is on its way to the customer (contact messages are `received`)."""

    received = "received"
    pending = "pending"
    sent = "sent"
    stored = "stored"  # nothing to push to: the API client reads it back
    failed = "failed"


class Contact(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A customer of a tenant, known through one or more channel identities."""

    __tablename__ = "contacts"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)


class ContactIdentity(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """How a channel names a contact: an API client's id, a Telegram user id, a widget visitor id, a phone."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "external_id"),)

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    contact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))


class Conversation(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # One open conversation per contact and channel; a new one starts after it is closed.
        Index(
            "uq_conversations_open_per_contact_channel",
            "tenant_id",
            "contact_id",
            "channel_key",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_conversations_tenant_id_last_activity_at", "tenant_id", "last_activity_at"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    contact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    channel_type: Mapped[str] = mapped_column(String(32))
    # "api", or the id of a connected channel: what dedupe keys and the open-conversation rule are per.
    channel_key: Mapped[str] = mapped_column(String(64))
    assistant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assistants.id", ondelete="SET NULL")
    )
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus, "conversation_status"), default=ConversationStatus.open
    )
    needs_human: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text, default="")
    summarized_up_to: Mapped[int] = mapped_column(BigInteger, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedupe_key"),
        Index("ix_messages_conversation_id_position", "conversation_id", "position"),
        Index(
            "ix_messages_unanswered",
            "conversation_id",
            "position",
            postgresql_where=text("role = 'contact' AND answered_at IS NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_fk(index=False)  # the (tenant_id, dedupe_key) key leads with it
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # Arrival order across the whole table; orders a conversation's messages without clock ties.
    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    role: Mapped[MessageRole] = mapped_column(_enum(MessageRole, "message_role"))
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    buttons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    delivery_status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    # "<channel key>:<external id>" for inbound messages: a repeat of it is the same message.
    dedupe_key: Mapped[str | None] = mapped_column(String(300))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply_to: Mapped[list[str]] = mapped_column(JSONB, default=list)


class ConversationFile(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A file a customer sent (bytes kept here: widget uploads are small and must outlive the browser)."""

    __tablename__ = "conversation_files"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
