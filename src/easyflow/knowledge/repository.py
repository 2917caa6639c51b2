"""Every SQL statement of the knowledge domain. Vector statements name the model and its dimensions as
literals so PostgreSQL can use the per-model partial HNSW index (see `vector_index_sql`)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.kit.repository import TenantScopedRepository
from easyflow.knowledge.chunking import ChunkText
from easyflow.knowledge.embeddings import safe_model_literal, vector_literal
from easyflow.knowledge.query import FullTextQuery, Word
from easyflow.models.knowledge import Chunk, Document, DocumentFile, DocumentStatus, QaPair

CANDIDATES = 20
# The HNSW search beam: pgvector's default of 40 found only 0.70 of the exact 10 nearest chunks at 100k
# chunks (bench/retrieval.py); a wider beam costs a few milliseconds.
HNSW_EF_SEARCH = 100
# Every tenant's vectors of a model share one HNSW index, and the tenant filter is applied to what the index
# returns: the beam's 100 candidates held fewer than 10 chunks of a tenant with 0.2 % of the index in two
# thirds of its searches (bench/tenant_vectors.py). pgvector >= 0.8 then goes on scanning the index, up to
# HNSW_MAX_SCAN_TUPLES tuples. Relaxed order found more than strict for the same work; the nearest queries
# sort what it found again, as pgvector's documentation advises.
HNSW_ITERATIVE_SCAN = "relaxed_order"
HNSW_MAX_SCAN_TUPLES = 20_000
# Chunks ranked at most per full-text search, gathered strictest level first (see FullTextQuery.levels):
# ranking reads each candidate's tsvector (~20 µs a row with the scoring), so this bounds the search's cost.
MAX_RANKED = 200
# Document words sharing a misspelt word's first letters, read as correction candidates.
NEIGHBOURS = 200


@dataclass(frozen=True)
class Hit:
    kind: str  # "chunk" or "qa"
    id: uuid.UUID
    document: str
    section: str
    text: str
    lexemes: list[str]
    similarity: float | None = None  # cosine similarity, for vector hits


def vector_index_sql(table: str, model_id: str, dimensions: int) -> str:
    digest = hashlib.sha1(f"{model_id}:{dimensions}".encode(), usedforsecurity=False).hexdigest()[:10]
    return (
        f"CREATE INDEX IF NOT EXISTS ix_{table}_embedding_{digest} ON {table} USING hnsw "
        f"((embedding::vector({int(dimensions)})) vector_cosine_ops) "
        f"WHERE embedding_model = {safe_model_literal(model_id)}"
    )


async def tune_vector_search(session: AsyncSession, iterative_scan: str | None) -> None:
    """This transaction's vector search settings, in one round trip: the wider beam, a plan for the tenant
    at hand, and, when `iterative_scan` is given, iterative scans (None on a pgvector older than 0.8.0,
    which rejects settings it does not know).

    The plan: the nearest queries are prepared statements, and after a few runs PostgreSQL may keep one
    generic plan for every tenant, which walks the HNSW index; for a small tenant a plan made with its own
    id sorts its few rows exactly instead (the tenant_id index), faster and with nothing missed."""
    settings = {"hnsw.ef_search": str(HNSW_EF_SEARCH), "plan_cache_mode": "force_custom_plan"}
    if iterative_scan is not None:
        settings |= {"hnsw.iterative_scan": iterative_scan, "hnsw.max_scan_tuples": str(HNSW_MAX_SCAN_TUPLES)}
    await session.execute(
        text(
            "SELECT set_config(name, value, true) "
            "FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS s(name, value)"
        ),
        {"names": list(settings), "values": list(settings.values())},
    )


async def knowledge_exists(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    result = await session.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM chunks WHERE tenant_id = :tenant) "
            "OR EXISTS (SELECT 1 FROM qa_pairs WHERE tenant_id = :tenant)"
        ),
        {"tenant": tenant_id},
    )
    return bool(result.scalar_one())


async def analyse_words(
    session: AsyncSession, tenant_id: uuid.UUID, words: list[str], alternatives: list[str]
) -> tuple[list[Word], int]:
    """Each word's lexemes and its alternative wording's (colloquial, transliterated), with the number of the
    tenant's chunks containing each; for a word none of whose lexemes the chunks contain, the tenant's words
    sharing its first three letters (correction candidates). Also the tenant's number of chunks."""
    rows = await session.execute(
        text(
            """
WITH input AS (
    SELECT n, word, alternative
    FROM unnest(CAST(:words AS text[]), CAST(:alternatives AS text[])) WITH ORDINALITY AS i(word, alternative, n)
), lexemes AS (
    SELECT i.n, false AS alternative, l.lexeme
    FROM input i, unnest(tsvector_to_array(to_tsvector('russian', i.word))) AS l(lexeme)
    UNION ALL
    SELECT i.n, true, l.lexeme
    FROM input i, unnest(tsvector_to_array(to_tsvector('russian', i.alternative))) AS l(lexeme)
), counted AS (
    SELECT l.n, l.alternative, l.lexeme, coalesce(t.chunks, 0) AS chunks,
           bool_or(NOT l.alternative AND t.chunks > 0) OVER (PARTITION BY l.n) AS known
    FROM lexemes l LEFT JOIN knowledge_terms t ON t.tenant_id = :tenant AND t.lexeme = l.lexeme
)
SELECT c.n, c.alternative, c.lexeme, c.chunks, near.lexemes AS near_lexemes, near.chunks AS near_chunks
FROM counted c
LEFT JOIN LATERAL (
    SELECT array_agg(v.lexeme) AS lexemes, array_agg(v.chunks) AS chunks
    FROM (
        SELECT k.lexeme, k.chunks FROM knowledge_terms k
        WHERE NOT c.alternative AND NOT coalesce(c.known, false) AND length(c.lexeme) >= 4
          AND k.tenant_id = :tenant AND k.chunks > 0
          AND k.lexeme >= left(c.lexeme, 3) COLLATE "C" AND k.lexeme < (left(c.lexeme, 3) || chr(1114111)) COLLATE "C"
          AND (length(k.lexeme) <= length(c.lexeme) + 2 OR starts_with(k.lexeme, c.lexeme))
        ORDER BY k.chunks DESC, k.lexeme
        LIMIT :neighbours
    ) v
) near ON true
UNION ALL
SELECT 0, false, '', chunks, NULL, NULL FROM knowledge_terms WHERE tenant_id = :tenant AND lexeme = ''"""
        ),
        {"words": words, "alternatives": alternatives, "tenant": tenant_id, "neighbours": NEIGHBOURS},
    )
    lexemes: list[dict[str, int]] = [{} for _ in words]
    others: list[dict[str, int]] = [{} for _ in words]
    neighbours: list[dict[str, int]] = [{} for _ in words]
    total = 0
    for n, alternative, lexeme, chunks, near_lexemes, near_chunks in rows:
        if n == 0:
            total = chunks
            continue
        (others if alternative else lexemes)[n - 1][lexeme] = chunks
        neighbours[n - 1].update(zip(near_lexemes or [], near_chunks or [], strict=True))
    found = [
        Word(word, lexemes[i], others[i], neighbours[i]) for i, word in enumerate(words) if lexemes[i] or others[i]
    ]
    return found, total


class DocumentRepository(TenantScopedRepository[Document]):
    model = Document

    async def page(self, *, limit: int, offset: int, status: DocumentStatus | None) -> tuple[Sequence[Document], int]:
        conditions = [Document.tenant_id == self.tenant_id]
        if status is not None:
            conditions.append(Document.status == status)
        rows = await self.session.execute(
            select(Document).where(*conditions).order_by(Document.created_at.desc()).limit(limit).offset(offset)
        )
        total = await self.session.execute(select(func.count()).select_from(Document).where(*conditions))
        return rows.scalars().all(), total.scalar_one()

    async def add_file(self, document_id: uuid.UUID, data: bytes) -> None:
        self.session.add(DocumentFile(document_id=document_id, tenant_id=self.tenant_id, data=data))
        await self.session.flush()

    async def file(self, document_id: uuid.UUID) -> bytes | None:
        result = await self.session.execute(
            select(DocumentFile.data).where(
                DocumentFile.tenant_id == self.tenant_id, DocumentFile.document_id == document_id
            )
        )
        return result.scalar_one_or_none()

    async def set_state(self, document_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(Document)
            .where(Document.tenant_id == self.tenant_id, Document.id == document_id)
            .values(updated_at=func.now(), **values)
        )

    async def ids_needing_embeddings(self, model_id: str) -> list[uuid.UUID]:
        statement = select(Document.id).where(
            Document.tenant_id == self.tenant_id,
            Document.status == DocumentStatus.ready,
            Document.embedding_model.is_distinct_from(model_id),
        )
        return list((await self.session.execute(statement)).scalars())

    async def status_counts(self) -> dict[str, int]:
        statement = (
            select(Document.status, func.count()).where(Document.tenant_id == self.tenant_id).group_by(Document.status)
        )
        return {status.value: count for status, count in (await self.session.execute(statement)).all()}


class ChunkRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def replace(self, document_id: uuid.UUID, chunks: list[ChunkText]) -> list[uuid.UUID]:
        await self.delete_for(document_id)
        rows: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "tenant_id": self.tenant_id,
                "document_id": document_id,
                "position": position,
                "section": chunk.section,
                "text": chunk.text,
            }
            for position, chunk in enumerate(chunks)
        ]
        if rows:
            await self.session.execute(insert(Chunk), rows)
        return [row["id"] for row in rows]

    async def delete_for(self, document_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(Chunk).where(Chunk.tenant_id == self.tenant_id, Chunk.document_id == document_id)
        )

    async def texts(self, document_id: uuid.UUID) -> list[tuple[uuid.UUID, str, str]]:
        statement = (
            select(Chunk.id, Chunk.section, Chunk.text)
            .where(Chunk.tenant_id == self.tenant_id, Chunk.document_id == document_id)
            .order_by(Chunk.position)
        )
        return [(row.id, row.section, row.text) for row in await self.session.execute(statement)]

    async def set_embeddings(self, table: str, ids: list[uuid.UUID], vectors: list[list[float]], model_id: str) -> None:
        assert table in ("chunks", "qa_pairs")
        await self.session.execute(
            text(
                f"UPDATE {table} SET embedding = CAST(:vector AS vector), embedding_model = :model "  # noqa: S608
                "WHERE id = :id AND tenant_id = :tenant"
            ),
            [
                {"vector": vector_literal(v), "model": model_id, "id": i, "tenant": self.tenant_id}
                for i, v in zip(ids, vectors, strict=True)
            ],
        )

    async def fulltext(self, query: FullTextQuery, limit: int = CANDIDATES) -> list[Hit]:
        """Chunks sharing words with the query, best first; through easyflow_search_chunks, which ranks at
        most MAX_RANKED candidates and keeps to the transaction's tenant itself so the full-text index can
        be used (see its migration)."""
        if query.empty:
            return []
        rows = await self.session.execute(
            text(
                "SELECT * FROM easyflow_search_chunks(CAST(:levels AS tsquery[]), CAST(:terms AS tsquery[]), "
                "CAST(:weights AS float8[]), :limit, :candidates)"
            ),
            {
                "levels": query.levels(),
                "terms": [term.tsquery() for term in query.terms],
                "weights": [term.weight for term in query.terms],
                "limit": limit,
                "candidates": MAX_RANKED,
            },
        )
        return [Hit("chunk", r.id, r.filename, r.section, r.body, list(r.lexemes)) for r in rows]

    async def nearest(self, vector: list[float], model_id: str, dimensions: int, limit: int = CANDIDATES) -> list[Hit]:
        """The chunks nearest to `vector`, through the model's HNSW index with the transaction's scan
        settings (see `tune_vector_search`)."""
        cast = f"vector({int(dimensions)})"
        rows = await self.session.execute(
            text(
                f"""
WITH nearest AS MATERIALIZED (
    SELECT c.id, c.document_id, c.section, c.text, tsvector_to_array(c.tsv) AS lexemes,
           (c.embedding::{cast}) <=> CAST(:vector AS {cast}) AS distance
    FROM chunks c
    WHERE c.tenant_id = :tenant AND c.embedding_model = {safe_model_literal(model_id)}
    ORDER BY (c.embedding::{cast}) <=> CAST(:vector AS {cast})
    LIMIT :limit
)
SELECT n.id, d.filename, n.section, n.text, n.lexemes, 1 - n.distance AS similarity
FROM nearest n JOIN documents d ON d.id = n.document_id
ORDER BY n.distance, n.id"""  # noqa: S608  (literals validated: safe_model_literal, int)
            ),
            {"vector": vector_literal(vector), "tenant": self.tenant_id, "limit": limit},
        )
        return [Hit("chunk", r.id, r.filename, r.section, r.text, list(r.lexemes), float(r.similarity)) for r in rows]


QA_DOCUMENT = "Вопросы и ответы"


class QaRepository(TenantScopedRepository[QaPair]):
    model = QaPair

    async def count(self) -> int:
        statement = select(func.count()).select_from(QaPair).where(QaPair.tenant_id == self.tenant_id)
        return (await self.session.execute(statement)).scalar_one()

    async def add_many(self, pairs: list[tuple[str, str]]) -> list[uuid.UUID]:
        rows: list[dict[str, Any]] = [
            {"id": uuid.uuid4(), "tenant_id": self.tenant_id, "question": q, "answer": a} for q, a in pairs
        ]
        if rows:
            await self.session.execute(insert(QaPair), rows)
        return [row["id"] for row in rows]

    async def without_embedding(self, model_id: str) -> list[tuple[uuid.UUID, str]]:
        statement = select(QaPair.id, QaPair.question).where(
            QaPair.tenant_id == self.tenant_id, QaPair.embedding_model.is_distinct_from(model_id)
        )
        return [(row.id, row.question) for row in await self.session.execute(statement)]

    async def fulltext(self, query: FullTextQuery, limit: int = CANDIDATES) -> list[Hit]:
        """Pairs whose question or answer shares words with the query, ranked as chunks are but by every word
        (the vocabulary counts chunks, not pairs); a tenant has few pairs, so all matches are ranked."""
        if not query.words:
            return []
        rows = await self.session.execute(
            text(
                """
SELECT p.id, p.question, p.answer, tsvector_to_array(to_tsvector('russian', p.question)) AS lexemes
FROM qa_pairs p
WHERE p.tenant_id = :tenant AND p.tsv @@ CAST(:any AS tsquery)
ORDER BY (
    SELECT coalesce(sum(t.weight), 0)
    FROM unnest(CAST(:terms AS tsquery[]), CAST(:weights AS float8[])) AS t(term, weight)
    WHERE p.tsv @@ t.term
) DESC, ts_rank(p.tsv, CAST(:any AS tsquery)) DESC, p.id
LIMIT :limit"""
            ),
            {
                "any": query.any_word(),
                "terms": [term.tsquery() for term in query.words],
                "weights": [term.weight for term in query.words],
                "tenant": self.tenant_id,
                "limit": limit,
            },
        )
        return [Hit("qa", r.id, QA_DOCUMENT, r.question, r.answer, list(r.lexemes)) for r in rows]

    async def nearest(self, vector: list[float], model_id: str, dimensions: int, limit: int = CANDIDATES) -> list[Hit]:
        """As `ChunkRepository.nearest`, over the pairs' questions."""
        cast = f"vector({int(dimensions)})"
        rows = await self.session.execute(
            text(
                f"""
WITH nearest AS MATERIALIZED (
    SELECT p.id, p.question, p.answer, (p.embedding::{cast}) <=> CAST(:vector AS {cast}) AS distance
    FROM qa_pairs p
    WHERE p.tenant_id = :tenant AND p.embedding_model = {safe_model_literal(model_id)}
    ORDER BY (p.embedding::{cast}) <=> CAST(:vector AS {cast})
    LIMIT :limit
)
SELECT n.id, n.question, n.answer, tsvector_to_array(to_tsvector('russian', n.question)) AS lexemes,
       1 - n.distance AS similarity
FROM nearest n
ORDER BY n.distance, n.id"""  # noqa: S608  (literals validated: safe_model_literal, int)
            ),
            {"vector": vector_literal(vector), "tenant": self.tenant_id, "limit": limit},
        )
        return [Hit("qa", r.id, QA_DOCUMENT, r.question, r.answer, list(r.lexemes), float(r.similarity)) for r in rows]


async def tenants_with_stale_embeddings(session: AsyncSession, model_id: str) -> list[uuid.UUID]:
    """Tenants (in system scope) with ready documents or Q&A pairs embedded by another model or none."""
    statement = text(
        "SELECT tenant_id FROM documents WHERE status = 'ready' AND embedding_model IS DISTINCT FROM :model "
        "UNION SELECT tenant_id FROM qa_pairs WHERE embedding_model IS DISTINCT FROM :model"
    )
    return list((await session.execute(statement, {"model": model_id})).scalars())
