"""Hybrid search: full text (PostgreSQL, Russian and English stemming) and vectors (pgvector HNSW),
fused by reciprocal rank; question-answer pairs compete on their questions.

Each result's `score` (0..1) says how sure the match is, for the offline answerer's threshold: the share
of the query's words the passage contains, or, with embeddings, the cosine similarity rescaled between
the model's "unrelated" and "clearly related" levels, whichever is higher. Order is by fused rank.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.knowledge.embeddings import Embedder
from easyflow.knowledge.repository import ChunkRepository, Hit, QaRepository, knowledge_exists, query_lexemes
from easyflow.knowledge.retrieval import Passage

RRF_K = 60


@dataclass(frozen=True)
class SearchOutcome:
    passages: list[Passage]
    mode: str  # "hybrid" or "full-text"


class KnowledgeSearch:
    def __init__(self, embedder: Embedder | None, *, vectors_available: bool) -> None:
        self.embedder = embedder if vectors_available else None

    @property
    def mode(self) -> str:
        return "hybrid" if self.embedder is not None else "full-text"

    async def search(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        return (await self.run(session, tenant_id, query, limit)).passages

    async def run(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> SearchOutcome:
        chunks, pairs = ChunkRepository(session, tenant_id), QaRepository(session, tenant_id)
        if not await knowledge_exists(session, tenant_id):
            return SearchOutcome([], self.mode)  # nothing to find: spare the query embedding (CPU-heavy locally)
        rankings = [await chunks.fulltext(query), await pairs.fulltext(query)]
        if self.embedder is not None:
            vector = await self.embedder.embed_query(query)
            model, dimensions = self.embedder.model_id, self.embedder.dimensions
            rankings += [
                await chunks.nearest(vector, model, dimensions),
                await pairs.nearest(vector, model, dimensions),
            ]
        wanted = set(await query_lexemes(session, query))
        return SearchOutcome(self._fuse(rankings, wanted, limit), self.mode)

    def _fuse(self, rankings: list[list[Hit]], wanted: set[str], limit: int) -> list[Passage]:
        fused: dict[tuple[str, uuid.UUID], float] = {}
        hits: dict[tuple[str, uuid.UUID], Hit] = {}
        similarity: dict[tuple[str, uuid.UUID], float] = {}
        for ranking in rankings:
            for rank, hit in enumerate(ranking, start=1):
                key = (hit.kind, hit.id)
                fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
                hits.setdefault(key, hit)
                if hit.similarity is not None:
                    similarity[key] = hit.similarity
        best = sorted(fused, key=lambda key: fused[key], reverse=True)[:limit]
        return [self._passage(hits[key], wanted, similarity.get(key)) for key in best]

    def _passage(self, hit: Hit, wanted: set[str], similarity: float | None) -> Passage:
        coverage = len(wanted & set(hit.lexemes)) / len(wanted) if wanted else 0.0
        confidence = coverage
        if similarity is not None and self.embedder is not None:
            floor, ceiling = self.embedder.similarity_floor, self.embedder.similarity_ceiling
            confidence = max(confidence, min(1.0, max(0.0, (similarity - floor) / (ceiling - floor))))
        return Passage(
            text=hit.text,
            document=hit.document,
            section=hit.section,
            chunk_id=f"{hit.kind}:{hit.id}",
            score=round(confidence, 4),
        )
