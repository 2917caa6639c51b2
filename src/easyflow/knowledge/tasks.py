"""Background jobs of the knowledge base. One tenant's ingestion runs one document at a time (a lock per
tenant) on its own queue, so a big upload never starves another tenant's chat replies."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.kit.jobs import job
from easyflow.knowledge.service import EMBED_QA_JOB, INGEST_JOB, IngestionPipeline

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

REEMBED_JOB = "knowledge.reembed"
KNOWLEDGE_QUEUE = "knowledge"


async def _ingest_gave_up(runtime: Runtime, error: Exception, *, tenant_id: str, document_id: str) -> None:
    reason = f"indexing failed after retries: {type(error).__name__}: {error}"
    await IngestionPipeline(runtime).fail(uuid.UUID(tenant_id), uuid.UUID(document_id), reason)


@job(INGEST_JOB, lock="knowledge:{tenant_id}", max_attempts=4, on_give_up=_ingest_gave_up, queue=KNOWLEDGE_QUEUE)
async def ingest_document(runtime: Runtime, *, tenant_id: str, document_id: str) -> None:
    await IngestionPipeline(runtime).ingest(uuid.UUID(tenant_id), uuid.UUID(document_id))


@job(EMBED_QA_JOB, lock="knowledge:{tenant_id}", max_attempts=4, queue=KNOWLEDGE_QUEUE)
async def embed_qa(runtime: Runtime, *, tenant_id: str) -> None:
    await IngestionPipeline(runtime).embed_qa(uuid.UUID(tenant_id))


@job(REEMBED_JOB, lock="knowledge:{tenant_id}", max_attempts=4, queue=KNOWLEDGE_QUEUE)
async def reembed(runtime: Runtime, *, tenant_id: str) -> None:
    await IngestionPipeline(runtime).reembed_stale(uuid.UUID(tenant_id))
