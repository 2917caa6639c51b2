"""Imports of the chat history a business already has: one row per import (its state and report), and the
uploaded files, kept until the import has read them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class ChatImportStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ChatImport(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "chat_imports"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ChatImportStatus] = mapped_column(
        Enum(ChatImportStatus, name="chat_import_status", values_callable=lambda ms: [m.value for m in ms]),
        default=ChatImportStatus.queued,
    )
    # The name or number that is the business's own side in the chats (None: told from each chat's name).
    business: Mapped[str | None] = mapped_column(String(200))
    # The uploaded files' names and sizes (the bytes are in chat_import_files until the import has run).
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # What it did (see crm/imports/schemas.py `ImportReport`), updated after each chat while it runs.
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    chats_total: Mapped[int] = mapped_column(Integer, default=0)
    chats_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChatImportFile(IdMixin, TenantOwned, Base):
    """One uploaded file's bytes, deleted once its import has read them."""

    __tablename__ = "chat_import_files"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    import_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("chat_imports.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # the order it was uploaded in
    name: Mapped[str] = mapped_column(String(300))
    data: Mapped[bytes] = mapped_column(LargeBinary)
