"""The tenant's knowledge: uploaded documents, their chunks, and curated question-answer pairs.

The `embedding` columns exist only when the server has pgvector; they are mapped here as deferred,
untyped columns and written and read with SQL (see knowledge/repository.py), so the same models serve a
server without pgvector.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow


class DocumentStatus(enum.StrEnum):
    queued = "queued"
    parsing = "parsing"
    embedding = "embedding"
    ready = "ready"
    failed = "failed"


def _tenant_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class Document(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "documents"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))  # pdf, docx, html, markdown, text: sniffed from the bytes
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[DocumentStatus] = mapped_column(
        Enum(DocumentStatus, name="document_status", values_callable=lambda ms: [m.value for m in ms]),
        default=DocumentStatus.queued,
    )
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent of the current stage
    pages: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DocumentFile(TenantOwned, Base):
    """The uploaded bytes, kept so a document can be re-indexed (new chunking, new embedding model)."""

    __tablename__ = "document_files"

    document_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Chunk(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_document_id_position", "document_id", "position"),)

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("documents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text, default="")  # heading path: "Стрижки › Женские"
    text: Mapped[str] = mapped_column(Text)
    embedding_model: Mapped[str | None] = mapped_column(String(200))


class QaPair(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A curated question and its answer; matched on the question, answered with the answer."""

    __tablename__ = "qa_pairs"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
