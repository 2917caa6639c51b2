"""Hybrid search: full text (PostgreSQL, Russian and English stemming, spoken forms and typos mapped to the
tenant's own words, rare words weighing more: see query.py) and vectors (pgvector HNSW), fused by
reciprocal rank; question-answer pairs compete on their questions.

Each result's `score` (0..1) says how sure the match is, for the offline answerer's threshold: the share
of the query's words the passage contains (in any of their accepted forms), or, with embeddings, the
cosine similarity rescaled between the model's "unrelated" and "clearly related" levels, whichever is
higher. Order is by fused rank.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Capabilities
from easyflow.knowledge.embeddings import Embedder
from easyflow.knowledge.query import FullTextQuery, colloquial, plan, transliterate
from easyflow.knowledge.repository import (
    HNSW_ITERATIVE_SCAN,
    ChunkRepository,
    Hit,
    QaRepository,
    analyse_words,
    knowledge_exists,
    tune_vector_search,
)
from easyflow.knowledge.retrieval import Passage

# Reciprocal-rank fusion, tuned on bench/retrieval.py: a small k trusts the top ranks, and full text counts
# half as much as vectors when both exist (dense similarity handles paraphrase; words, exact terms).
RRF_K = 10
FULL_TEXT_WEIGHT = 0.5
MAX_WORDS = 32  # of a question, for full text


@dataclass(frozen=True)
class SearchOutcome:
    passages: list[Passage]
    mode: str  # "hybrid" or "full-text"


class KnowledgeSearch:
    def __init__(self, embedder: Embedder | None, *, vectors_available: bool, iterative_scan: bool = False) -> None:
        self.embedder = embedder if vectors_available else None
        self.iterative_scan = iterative_scan  # pgvector >= 0.8.0 (see HNSW_ITERATIVE_SCAN)

    @classmethod
    def for_server(cls, embedder: Embedder | None, capabilities: Capabilities) -> KnowledgeSearch:
        """The search using what the connected server offers."""
        return cls(
            embedder,
            vectors_available=capabilities.vector_columns,
            iterative_scan=capabilities.pgvector_iterative_scan,
        )

    @property
    def mode(self) -> str:
        return "hybrid" if self.embedder is not None else "full-text"

    async def search(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        return (await self.run(session, tenant_id, query, limit)).passages

    async def run(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> SearchOutcome:
        chunks, pairs = ChunkRepository(session, tenant_id), QaRepository(session, tenant_id)
        if not await knowledge_exists(session, tenant_id):
            return SearchOutcome([], self.mode)  # nothing to find: spare the query embedding (CPU-heavy locally)
        text_weight = FULL_TEXT_WEIGHT if self.embedder is not None else 1.0
        words = await self.understand(session, tenant_id, query)
        rankings = [(text_weight, await chunks.fulltext(words)), (text_weight, await pairs.fulltext(words))]
        if self.embedder is not None:
            vector = await self.embedder.embed_query(query)
            model, dimensions = self.embedder.model_id, self.embedder.dimensions
            await tune_vector_search(session, HNSW_ITERATIVE_SCAN if self.iterative_scan else None)
            rankings += [
                (1.0, await chunks.nearest(vector, model, dimensions)),
                (1.0, await pairs.nearest(vector, model, dimensions)),
            ]
        return SearchOutcome(self._fuse(rankings, words.wanted, limit), self.mode)

    @staticmethod
    async def understand(session: AsyncSession, tenant_id: uuid.UUID, query: str) -> FullTextQuery:
        """The question's words as full-text terms, in the forms the tenant's chunks use."""
        words = query.split()[:MAX_WORDS]
        alternatives = [" ".join(filter(None, (colloquial(word), transliterate(word)))) for word in words]
        analysed, total = await analyse_words(session, tenant_id, words, alternatives)
        return plan(analysed, total)

    def _fuse(self, rankings: list[tuple[float, list[Hit]]], wanted: list[frozenset[str]], limit: int) -> list[Passage]:
        fused: dict[tuple[str, uuid.UUID], float] = {}
        hits: dict[tuple[str, uuid.UUID], Hit] = {}
        similarity: dict[tuple[str, uuid.UUID], float] = {}
        for weight, ranking in rankings:
            for rank, hit in enumerate(ranking, start=1):
                key = (hit.kind, hit.id)
                fused[key] = fused.get(key, 0.0) + weight / (RRF_K + rank)
                hits.setdefault(key, hit)
                if hit.similarity is not None:
                    similarity[key] = hit.similarity
        best = sorted(fused, key=lambda key: fused[key], reverse=True)[:limit]
        return [self._passage(hits[key], wanted, similarity.get(key)) for key in best]

    def _passage(self, hit: Hit, wanted: list[frozenset[str]], similarity: float | None) -> Passage:
        lexemes = set(hit.lexemes)
        coverage = sum(1 for forms in wanted if forms & lexemes) / len(wanted) if wanted else 0.0
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
