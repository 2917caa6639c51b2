"""Request and response bodies of the knowledge routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.knowledge import DocumentStatus


class DocumentRead(Output):
    id: uuid.UUID
    filename: str
    kind: str
    size_bytes: int
    status: DocumentStatus
    error: str | None
    progress: int
    pages: int
    chunk_count: int
    embedding_model: str | None
    created_at: datetime
    updated_at: datetime


class SearchRequest(StrictInput):
    query: Annotated[str, Field(min_length=1, max_length=2000)]
    limit: Annotated[int, Field(ge=1, le=50)] = 5


class SearchResult(Output):
    document: str
    section: str
    chunk_id: str
    score: float
    text: str


class SearchResponse(Output):
    items: list[SearchResult]
    mode: str = Field(description="hybrid (full text and vectors) or full-text (no embeddings available)")
    notice: str | None = None


class QaCreate(StrictInput):
    question: Annotated[str, Field(min_length=1, max_length=2000)]
    answer: Annotated[str, Field(min_length=1, max_length=8000)]


class QaUpdate(StrictInput):
    question: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    answer: Annotated[str, Field(min_length=1, max_length=8000)] | None = None


class QaRead(Output):
    id: uuid.UUID
    question: str
    answer: str
    created_at: datetime


class QaImported(Output):
    imported: int


class KnowledgeStatus(Output):
    mode: str
    embedding_model: str | None
    notice: str | None
    documents: dict[str, int]
    qa_pairs: int
