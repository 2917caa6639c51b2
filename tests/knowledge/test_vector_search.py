"""Vector search when every tenant's vectors share one HNSW index: a small tenant still gets its k nearest
chunks (pgvector's iterative index scans), not the few of its rows that happened to be in the first beam."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Capabilities, Database
from easyflow.db.session import scope_to_tenant
from easyflow.knowledge.repository import tune_vector_search, vector_index_sql
from easyflow.knowledge.search import KnowledgeSearch
from tests.conftest import TenantFixture

MODEL = "test:shared-index"
DIMENSIONS = 8
K = 10
QUERY = [1.0] + [0.0] * (DIMENSIONS - 1)


class FixedQuery:
    """An embedder whose every question is QUERY."""

    model_id = MODEL
    dimensions = DIMENSIONS
    similarity_floor = 0.0
    similarity_ceiling = 1.0

    async def embed_passages(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    async def embed_query(self, text: str) -> list[float]:
        return QUERY


@pytest.fixture(scope="module")
def shared_index(database_url: str) -> Iterator[None]:
    """The model's HNSW index, as `serve` creates it (as the owner: the app role may not)."""
    statement = vector_index_sql("chunks", MODEL, DIMENSIONS)
    name = statement.split()[5]
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(statement.encode())
    yield
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"DROP INDEX IF EXISTS {name}".encode())


async def add_chunks(session: AsyncSession, tenant: TenantFixture, vectors: np.ndarray) -> list[uuid.UUID]:
    await scope_to_tenant(session, tenant.id)
    document = uuid.uuid4()
    await session.execute(
        text(
            "INSERT INTO documents (id, tenant_id, filename, kind, size_bytes, sha256, status, progress, pages, "
            "chunk_count, embedding_model, updated_at) "
            "VALUES (:id, :tenant, 'vectors.md', 'markdown', 0, '', 'ready', 100, 1, :count, :model, now())"
        ),
        {"id": document, "tenant": tenant.id, "count": len(vectors), "model": MODEL},
    )
    ids = [uuid.uuid4() for _ in vectors]
    await session.execute(
        text(
            "INSERT INTO chunks (id, tenant_id, document_id, position, section, text, embedding_model, embedding) "
            "VALUES (:id, :tenant, :document, :position, '', :text, :model, CAST(:vector AS vector))"
        ),
        [
            {
                "id": chunk,
                "tenant": tenant.id,
                "document": document,
                "position": position,
                "text": f"passage {position}",
                "model": MODEL,
                "vector": "[" + ",".join(f"{x:.6f}" for x in vector) + "]",
            }
            for position, (chunk, vector) in enumerate(zip(ids, vectors, strict=True))
        ],
    )
    return ids


def around(rng: np.random.Generator, count: int, spread: float) -> np.ndarray:
    points = np.asarray(QUERY) + spread * rng.standard_normal((count, DIMENSIONS))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


async def test_a_small_tenant_in_a_shared_index_finds_its_k_nearest_chunks(
    shared_index: None, session: AsyncSession, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    rng = np.random.default_rng(9)
    # Tenant A's 1,500 chunks are all nearer the question than most of tenant B's 30: the index's first
    # beam of 100 candidates holds almost none of B's.
    await add_chunks(session, tenant_a, around(rng, 1500, 0.3))
    small = around(rng, 30, 1.0)
    ids = await add_chunks(session, tenant_b, small)
    exact = {f"chunk:{ids[i]}" for i in np.argsort(-(small @ np.asarray(QUERY)))[:K]}
    # At this size the planner would rather sort the tenant's rows exactly; make it use the index, as it
    # does on a large table (checked below).
    await session.execute(
        text("SELECT set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)")
    )
    await scope_to_tenant(session, tenant_b.id)

    async def found(search: KnowledgeSearch) -> set[str]:
        passages = await search.search(session, tenant_b.id, "zzzz", K)
        return {passage.chunk_id for passage in passages}

    # Without iterative scans (an older pgvector) the search comes back short: what this test guards against.
    # First, as the settings last to the end of the transaction.
    assert len(await found(KnowledgeSearch(FixedQuery(), vectors_available=True))) < K
    assert database.capabilities.pgvector_iterative_scan  # the embedded server's pgvector 0.8.6
    assert await found(KnowledgeSearch.for_server(FixedQuery(), database.capabilities)) == exact
    plan = "\n".join(
        row[0]
        for row in await session.execute(
            text(
                f"EXPLAIN SELECT id FROM chunks WHERE tenant_id = :tenant AND embedding_model = '{MODEL}' "
                f"ORDER BY (embedding::vector({DIMENSIONS})) <=> CAST(:vector AS vector({DIMENSIONS})) LIMIT {K}"
            ),
            {"tenant": tenant_b.id, "vector": str(QUERY)},
        )
    )
    assert "ix_chunks_embedding_" in plan  # the HNSW index, not an exact sort


def test_iterative_scans_only_from_pgvector_0_8() -> None:
    assert Capabilities(pgvector_version="0.8.6").pgvector_iterative_scan
    assert Capabilities(pgvector_version="0.8.0").pgvector_iterative_scan
    assert not Capabilities(pgvector_version="0.7.4").pgvector_iterative_scan
    assert not Capabilities(pgvector_version=None).pgvector_iterative_scan


async def test_the_vector_settings_hold_for_the_transaction_and_spare_an_older_pgvector(session: AsyncSession) -> None:
    names = ["hnsw.ef_search", "plan_cache_mode", "hnsw.iterative_scan", "hnsw.max_scan_tuples"]

    async def current() -> list[str]:
        row = (await session.execute(text("SELECT " + ", ".join(f"current_setting('{n}', true)" for n in names)))).one()
        return list(row)

    before = await current()
    await tune_vector_search(session, None)  # pgvector < 0.8.0: no iterative setting is sent
    assert await current() == ["100", "force_custom_plan", before[2], before[3]]
    await tune_vector_search(session, "relaxed_order")
    assert await current() == ["100", "force_custom_plan", "relaxed_order", "20000"]
