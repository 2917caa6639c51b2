"""What the CRM keeps about contacts besides what channels tell: the tenant's own contact fields and notes."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class ContactFieldKind(enum.StrEnum):
    text = "text"
    number = "number"
    date = "date"  # an ISO date, "2026-12-06"
    choice = "choice"  # one of the definition's `choices`


class ContactFieldDefinition(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A field the business keeps on every contact ("Бюджет", "Дата рождения"); values live in
    `contacts.custom_fields` under `key`."""

    __tablename__ = "contact_field_definitions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("kind IN ('text', 'number', 'date', 'choice')", name="kind"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # Where the field is shown among the others, smallest first.
    position: Mapped[int] = mapped_column(Integer, default=0)


class ContactNote(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """Something a member wrote down about a contact."""

    __tablename__ = "contact_notes"
    __table_args__ = (Index("ix_contact_notes_contact_id_created_at", "contact_id", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
