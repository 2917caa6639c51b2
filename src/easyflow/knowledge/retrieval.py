"""The small interface through which assistants read the tenant's knowledge.

The knowledge base fills it in; until a tenant has knowledge, search finds nothing and the offline answerer
says honestly that it does not know.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Passage:
    text: str
    document: str
    section: str
    chunk_id: str
    # 0..1, comparable across queries: how sure the retriever is that this passage answers the query.
    score: float


class KnowledgeRetriever(Protocol):
    async def search(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]: ...
