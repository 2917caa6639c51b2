"""Contacts, their channel identities, conversations and messages."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow

# The contact's name, phone as written, e-mail and every number in E.164, lower-cased (`easyflow_joined` is
# array_to_string declared immutable, as a generated column needs).
CONTACT_SEARCH_TEXT = (
    "lower(name || ' ' || coalesce(phone, '') || ' ' || coalesce(email, '') || ' ' || easyflow_joined(phones))"
)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


def _user_fk() -> ForeignKey:
    return ForeignKey("users.id", ondelete="SET NULL")


def _tenant_fk(*, index: bool = True) -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=index)


class MessageRole(enum.StrEnum):
    contact = "contact"
    assistant = "assistant"
    operator = "operator"
    system = "system"


class ConversationStatus(enum.StrEnum):
    """Who has the conversation: the assistant (`bot`), nobody yet (`pending`: waiting for a person), a person
    (`open`), nobody for now (`snoozed` until a time or the customer's next message), or it is over."""

    bot = "bot"
    pending = "pending"
    open = "open"
    snoozed = "snoozed"
    resolved = "resolved"


class ActorKind(enum.StrEnum):
    """Who made a conversation change state."""

    customer = "customer"
    assistant = "assistant"
    operator = "operator"
    rule = "rule"
    system = "system"


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
    __table_args__ = (
        Index("ix_contacts_labels", "labels", postgresql_using="gin"),
        Index("ix_contacts_phones", "phones", postgresql_using="gin"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    # The contact's tags (`tags` in the CRM's API).
    labels: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    # Every number of the contact in E.164; `phone` (the primary one, as a channel or a person wrote it) is kept
    # among them by a trigger (migration 20261206_crm_contacts), whoever writes it.
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    email: Mapped[str | None] = mapped_column(String(320))
    # Where the customer came from, in the business's words ("Instagram", "сарафанное радио").
    source: Mapped[str | None] = mapped_column(String(100))
    # Values of the tenant's contact fields (`ContactFieldDefinition`), by key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # What the free-text search matches (kept by PostgreSQL; trigram-indexed where pg_trgm is).
    search_text: Mapped[str] = mapped_column(Text, Computed(CONTACT_SEARCH_TEXT))


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
        # One unresolved conversation per contact and channel; a new one may start after it is resolved.
        Index(
            "uq_conversations_unresolved_per_contact_channel",
            "tenant_id",
            "contact_id",
            "channel_key",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_conversations_tenant_id_last_activity_at_id", "tenant_id", "last_activity_at", "id"),
        Index("ix_conversations_labels", "labels", postgresql_using="gin"),
        Index("ix_conversations_tenant_id_assignee_id_status", "tenant_id", "assignee_id", "status"),
        # The queue: waiting for a person, nobody assigned, oldest first.
        Index(
            "ix_conversations_queue",
            "tenant_id",
            "status_changed_at",
            postgresql_where=text("status = 'pending' AND assignee_id IS NULL"),
        ),
        CheckConstraint("status <> 'open' OR assignee_id IS NOT NULL", name="open_has_assignee"),
        Index("ix_conversations_sla_next_check_at", "sla_next_check_at", postgresql_where=text("sla_running")),
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
        _enum(ConversationStatus, "conversation_status"), default=ConversationStatus.bot
    )
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Why it was handed to a person (the latest handoff).
    handoff_reason: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _user_fk())
    # Only this team's members are assigned it (None: anyone).
    team_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("teams.id", ondelete="SET NULL"))
    # Who held it last: a reopened conversation goes back to them when they are there.
    last_assignee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _user_fk())
    # When the assignee first answered since it was assigned to them (None: still waiting for them).
    assignee_replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The assistant's replies in a row that had no answer (a trigger hands over after N of them).
    unanswered_turns: Mapped[int] = mapped_column(Integer, default=0)
    labels: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    language: Mapped[str | None] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text, default="")
    # Where the booking dialogue stands (models.booking_chat.DialogueState); selects the assistant's instructions.
    dialogue_state: Mapped[str] = mapped_column(String(32), default="greeting", server_default="greeting")
    summarized_up_to: Mapped[int] = mapped_column(BigInteger, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The SLA of the current (or last) time people held it: see inbox/sla.py.
    sla_policy_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    sla_status: Mapped[str | None] = mapped_column(String(16))
    sla_running: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_first_response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_next_response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_resolution_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_breaches: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    # The nearest deadline not yet passed or met: the minute sweep finds what is due by it.
    sla_next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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
    author_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _user_fk())
    # A note among staff: never sent to the customer, never shown to the assistant.
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    # What an assistant message announces (`handoff`): sent even after the assistant let the conversation go.
    notice: Mapped[str | None] = mapped_column(String(32))


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


class ConversationEvent(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """One change of a conversation's state or assignee: who, what, why, when."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conversation_id_created_at", "conversation_id", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _user_fk())
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _user_fk())
    reason: Mapped[str | None] = mapped_column(Text)


class ConversationRating(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A rating request sent when a person resolved the conversation, and the customer's answer to it (CSAT):
    one row per resolution; `rating` stays empty until the customer answers."""

    __tablename__ = "conversation_ratings"
    __table_args__ = (
        Index("ix_conversation_ratings_conversation_id_requested_at", "conversation_id", "requested_at"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # Who held the conversation when it was resolved: the person the rating is theirs.
    operator_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _user_fk())
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    commented_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
