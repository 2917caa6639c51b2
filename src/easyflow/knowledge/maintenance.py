"""Start-up upkeep of the knowledge base, run by `serve` and `worker` after migrating: an HNSW index for
the configured embedding model, and background re-embedding of whatever another model embedded."""

from __future__ import annotations

import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.db.urls import sqlalchemy_url
from easyflow.kit.jobs import defer
from easyflow.knowledge.embeddings import embedding_identity
from easyflow.knowledge.repository import tenants_with_stale_embeddings, vector_index_sql
from easyflow.knowledge.tasks import REEMBED_JOB

log = structlog.get_logger(__name__)


def ensure_vector_indexes(url: str, settings: Settings) -> None:
    """Create the per-model HNSW indexes (as the database owner: the app role may not create indexes)."""
    identity = embedding_identity(settings)
    if identity is None:
        return
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            has_vectors = connection.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = 'chunks' AND column_name = 'embedding')"
                )
            ).scalar_one()
            if not has_vectors:
                log.warning("knowledge.no_vector_columns", detail="pgvector is missing: full-text search only")
                return
            for table in ("chunks", "qa_pairs"):
                connection.execute(text(vector_index_sql(table, *identity)))
    finally:
        engine.dispose()


async def queue_reembedding(database: Database, settings: Settings) -> int:
    identity = embedding_identity(settings)
    if identity is None or not database.capabilities.vector_columns:
        return 0
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        tenants = await tenants_with_stale_embeddings(session, identity[0])
        for tenant_id in tenants:
            await defer(session, REEMBED_JOB, tenant_id=str(tenant_id))
    if tenants:
        log.info("knowledge.reembedding_queued", tenants=len(tenants), model=identity[0])
    return len(tenants)
