"""Use cases of the knowledge base: upload, ingest (extract, chunk, embed), re-index, delete, Q&A pairs,
search. Services only flush; callers and jobs commit."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import uuid
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.kit.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia
from easyflow.kit.jobs import defer
from easyflow.kit.schemas import NUL, without_nul
from easyflow.knowledge import schemas
from easyflow.knowledge.chunking import chunk_sections
from easyflow.knowledge.embeddings import BATCH, Embedder
from easyflow.knowledge.extract import ExtractionFailed, UnsupportedFile, extract, sniff
from easyflow.knowledge.repository import ChunkRepository, DocumentRepository, QaRepository
from easyflow.models.knowledge import Document, DocumentStatus, QaPair

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

INGEST_JOB = "knowledge.ingest_document"
EMBED_QA_JOB = "knowledge.embed_qa"
FULL_TEXT_NOTICE = "No embedding model is available: search uses full text only."
MAX_CSV_ROWS = 10_000


async def knowledge_status_of(
    session: AsyncSession, tenant_id: uuid.UUID, embedder: Embedder | None
) -> schemas.KnowledgeStatus:
    return schemas.KnowledgeStatus(
        mode="hybrid" if embedder else "full-text",
        embedding_model=embedder.model_id if embedder else None,
        notice=None if embedder else FULL_TEXT_NOTICE,
        documents=await DocumentRepository(session, tenant_id).status_counts(),
        qa_pairs=await QaRepository(session, tenant_id).count(),
    )


class DocumentService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.documents = DocumentRepository(session, tenant_id)

    async def upload(self, filename: str, data: bytes, *, max_bytes: int, queue: bool = True) -> Document:
        """Store the file and (unless the caller ingests it itself) queue its ingestion; refuse what is too
        big or not a document."""
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"The file is {len(data):,} bytes; the limit is {max_bytes:,}.")
        if not data:
            raise InvalidInput("The file is empty.")
        try:
            kind = sniff(data)
        except UnsupportedFile as error:
            raise UnsupportedMedia(str(error)) from error
        document = await self.documents.add(
            Document(
                filename=without_nul(filename).replace("\\", "/").rsplit("/", 1)[-1][:300] or "document",
                kind=kind,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                status=DocumentStatus.queued,
                progress=0,
                pages=0,
                chunk_count=0,
            )
        )
        await self.documents.add_file(document.id, data)
        if queue:
            await self._queue(document.id)
        return document

    async def _queue(self, document_id: uuid.UUID) -> None:
        await defer(self.session, INGEST_JOB, tenant_id=str(self.tenant_id), document_id=str(document_id))

    async def get(self, document_id: uuid.UUID) -> Document:
        document = await self.documents.get(document_id)
        if document is None:
            raise NotFound("No such document in this tenant.")
        return document

    async def page(self, *, limit: int, offset: int, status: DocumentStatus | None) -> tuple[list[Document], int]:
        documents, total = await self.documents.page(limit=limit, offset=offset, status=status)
        return list(documents), total

    async def reindex(self, document_id: uuid.UUID) -> Document:
        document = await self.get(document_id)
        document.status, document.progress, document.error = DocumentStatus.queued, 0, None
        await self.session.flush()
        await self._queue(document_id)
        return document

    async def delete(self, document_id: uuid.UUID) -> None:
        """The document, its file and its chunks (the foreign keys cascade)."""
        await self.documents.delete(await self.get(document_id))


class IngestionPipeline:
    """extract → chunk → store (status `parsing`) → embed in batches (status `embedding`, progress) → ready.
    A failure leaves no chunks behind and the reason on the document."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def ingest(self, tenant_id: uuid.UUID, document_id: uuid.UUID) -> None:
        async with self.database.tenant_transaction(tenant_id) as session:
            documents = DocumentRepository(session, tenant_id)
            document = await documents.get(document_id)
            data = await documents.file(document_id) if document else None
            if document is None or data is None:
                return
            await documents.set_state(document_id, status=DocumentStatus.parsing, progress=0, error=None)
            kind, filename = document.kind, document.filename
        try:
            extracted = await asyncio.to_thread(extract, data, kind, filename)
            chunks = chunk_sections(extracted.sections)
        except ExtractionFailed as error:
            await self.fail(tenant_id, document_id, str(error))
            return
        embedder = self.runtime.embedder
        async with self.database.tenant_transaction(tenant_id) as session:
            ids = await ChunkRepository(session, tenant_id).replace(document_id, chunks)
            await DocumentRepository(session, tenant_id).set_state(
                document_id,
                status=DocumentStatus.embedding if embedder else DocumentStatus.ready,
                pages=extracted.pages,
                chunk_count=len(ids),
                progress=0 if embedder else 100,
                embedding_model=None,
            )
        if embedder is not None:
            await self.embed_document(tenant_id, document_id)

    async def embed_document(self, tenant_id: uuid.UUID, document_id: uuid.UUID) -> None:
        embedder = self.runtime.embedder
        assert embedder is not None
        async with self.database.tenant_transaction(tenant_id) as session:
            rows = await ChunkRepository(session, tenant_id).texts(document_id)
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            vectors = await embedder.embed_passages([f"{section}\n{body}".strip() for _, section, body in batch])
            async with self.database.tenant_transaction(tenant_id) as session:
                await ChunkRepository(session, tenant_id).set_embeddings(
                    "chunks", [row[0] for row in batch], vectors, embedder.model_id
                )
                done = min(100, round(100 * (start + len(batch)) / len(rows)))
                await DocumentRepository(session, tenant_id).set_state(document_id, progress=done)
        async with self.database.tenant_transaction(tenant_id) as session:
            await DocumentRepository(session, tenant_id).set_state(
                document_id, status=DocumentStatus.ready, progress=100, embedding_model=embedder.model_id
            )

    async def fail(self, tenant_id: uuid.UUID, document_id: uuid.UUID, reason: str) -> None:
        log.warning("knowledge.ingest_failed", document_id=str(document_id), reason=reason)
        async with self.database.tenant_transaction(tenant_id) as session:
            await ChunkRepository(session, tenant_id).delete_for(document_id)
            await DocumentRepository(session, tenant_id).set_state(
                document_id, status=DocumentStatus.failed, error=reason[:1000], chunk_count=0, progress=0
            )

    async def embed_qa(self, tenant_id: uuid.UUID) -> None:
        embedder = self.runtime.embedder
        if embedder is None:
            return
        async with self.database.tenant_transaction(tenant_id) as session:
            pending = await QaRepository(session, tenant_id).without_embedding(embedder.model_id)
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            vectors = await embedder.embed_passages([question for _, question in batch])
            async with self.database.tenant_transaction(tenant_id) as session:
                await ChunkRepository(session, tenant_id).set_embeddings(
                    "qa_pairs", [pair_id for pair_id, _ in batch], vectors, embedder.model_id
                )

    async def reembed_stale(self, tenant_id: uuid.UUID) -> int:
        """Re-embed the tenant's ready documents whose chunks carry another model; search keeps working
        meanwhile (full text for them until they are done)."""
        embedder = self.runtime.embedder
        if embedder is None:
            return 0
        async with self.database.tenant_transaction(tenant_id) as session:
            stale = await DocumentRepository(session, tenant_id).ids_needing_embeddings(embedder.model_id)
        for document_id in stale:
            await self.embed_document(tenant_id, document_id)
        await self.embed_qa(tenant_id)
        return len(stale)


class QaService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.pairs = QaRepository(session, tenant_id)

    async def create(self, request: schemas.QaCreate) -> QaPair:
        pair = await self.pairs.add(QaPair(question=request.question, answer=request.answer))
        await self._queue_embedding()
        return pair

    async def get(self, pair_id: uuid.UUID) -> QaPair:
        pair = await self.pairs.get(pair_id)
        if pair is None:
            raise NotFound("No such question-answer pair in this tenant.")
        return pair

    async def list(self, *, limit: int, offset: int) -> tuple[list[QaPair], int]:
        return list(await self.pairs.list(limit=limit, offset=offset)), await self.pairs.count()

    async def update(self, pair_id: uuid.UUID, changes: schemas.QaUpdate) -> QaPair:
        pair = await self.get(pair_id)
        if changes.question is not None and changes.question != pair.question:
            pair.question, pair.embedding_model = changes.question, None
            await self._queue_embedding()
        if changes.answer is not None:
            pair.answer = changes.answer
        await self.session.flush()
        return pair

    async def delete(self, pair_id: uuid.UUID) -> None:
        await self.pairs.delete(await self.get(pair_id))

    async def import_csv(self, data: bytes) -> int:
        """Rows of `question,answer` (a header row with those names is optional; `;` works too)."""
        pairs = parse_qa_csv(data)
        await self.pairs.add_many(pairs)
        await self._queue_embedding()
        return len(pairs)

    async def _queue_embedding(self) -> None:
        await defer(self.session, EMBED_QA_JOB, tenant_id=str(self.tenant_id))


def parse_qa_csv(data: bytes) -> list[tuple[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput("The CSV must be UTF-8 encoded.") from error
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    except csv.Error as error:  # e.g. a quote never closed, running into the reader's field size limit
        raise InvalidInput(f"The CSV could not be read: {error}.") from error
    if rows and [cell.strip().lower() for cell in rows[0][:2]] in (["question", "answer"], ["вопрос", "ответ"]):
        rows = rows[1:]
    if not rows:
        raise InvalidInput("The CSV has no rows; expected `question,answer` per line.")
    if len(rows) > MAX_CSV_ROWS:
        raise InvalidInput(f"The CSV has {len(rows)} rows; import at most {MAX_CSV_ROWS} at a time.")
    pairs = []
    for number, row in enumerate(rows, start=1):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise InvalidInput(f"Row {number} needs a question and an answer.")
        if len(row[0]) > 2000 or len(row[1]) > 8000:
            raise InvalidInput(f"Row {number} is too long (question ≤ 2000, answer ≤ 8000 characters).")
        if NUL in row[0] or NUL in row[1]:
            raise InvalidInput(f"Row {number} contains the character U+0000, which text cannot hold.")
        pairs.append((row[0].strip(), row[1].strip()))
    return pairs
