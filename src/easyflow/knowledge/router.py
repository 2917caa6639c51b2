"""HTTP routes of the knowledge base: documents, search, question-answer pairs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status

from easyflow.kit.errors import PayloadTooLarge
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.knowledge import schemas
from easyflow.knowledge.search import KnowledgeSearch
from easyflow.knowledge.service import FULL_TEXT_NOTICE, DocumentService, QaService, knowledge_status_of
from easyflow.models.knowledge import DocumentStatus
from easyflow.runtime import Runtime
from easyflow.tenancy.auth import Admin, Session, Viewer

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])
UPLOAD_PATHS = ("/api/v1/knowledge/documents", "/api/v1/knowledge/qa/import")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The file is larger than the limit of {max_bytes:,} bytes.")
    return data


@router.post("/documents", status_code=status.HTTP_202_ACCEPTED)
async def upload_document(
    request: Request, principal: Admin, session: Session, file: Annotated[UploadFile, File()]
) -> schemas.DocumentRead:
    """Upload a PDF, DOCX, TXT, Markdown or HTML file (multipart field `file`). It is indexed in the
    background: follow `status` (queued, parsing, embedding, ready, failed with `error`) and `progress`."""
    limit = _runtime(request).settings.max_upload_bytes
    data = await _read_upload(file, limit)
    document = await DocumentService(session, principal.tenant_id).upload(
        file.filename or "document", data, max_bytes=limit
    )
    return schemas.DocumentRead.model_validate(document)


@router.get("/documents")
async def list_documents(
    principal: Viewer,
    session: Session,
    status_filter: Annotated[DocumentStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[schemas.DocumentRead]:
    documents, total = await DocumentService(session, principal.tenant_id).page(
        limit=limit, offset=offset, status=status_filter
    )
    return Page(items=[schemas.DocumentRead.model_validate(d) for d in documents], total=total)


@router.get("/documents/{document_id}")
async def read_document(document_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.DocumentRead:
    return schemas.DocumentRead.model_validate(await DocumentService(session, principal.tenant_id).get(document_id))


@router.post("/documents/{document_id}/reindex", status_code=status.HTTP_202_ACCEPTED)
async def reindex_document(document_id: uuid.UUID, principal: Admin, session: Session) -> schemas.DocumentRead:
    """Extract, chunk and embed the stored file again (after a change of model or chunking)."""
    document = await DocumentService(session, principal.tenant_id).reindex(document_id)
    return schemas.DocumentRead.model_validate(document)


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: uuid.UUID, principal: Admin, session: Session) -> Response:
    """Delete the document with its file and all its chunks."""
    await DocumentService(session, principal.tenant_id).delete(document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/search")
async def search(
    body: schemas.SearchRequest, request: Request, principal: Viewer, session: Session
) -> schemas.SearchResponse:
    """Hybrid search over the tenant's documents and Q&A pairs, best first."""
    retriever = _runtime(request).retriever
    assert isinstance(retriever, KnowledgeSearch)
    outcome = await retriever.run(session, principal.tenant_id, body.query, body.limit)
    return schemas.SearchResponse(
        items=[schemas.SearchResult(**p.__dict__) for p in outcome.passages],
        mode=outcome.mode,
        notice=FULL_TEXT_NOTICE if outcome.mode == "full-text" else None,
    )


@router.get("/status")
async def knowledge_status(request: Request, principal: Viewer, session: Session) -> schemas.KnowledgeStatus:
    """How search works right now and how many documents are in each state."""
    return await knowledge_status_of(session, principal.tenant_id, _runtime(request).embedder)


@router.get("/qa")
async def list_qa(principal: Viewer, session: Session, limit: Limit = 100, offset: Offset = 0) -> Page[schemas.QaRead]:
    pairs, total = await QaService(session, principal.tenant_id).list(limit=limit, offset=offset)
    return Page(items=[schemas.QaRead.model_validate(p) for p in pairs], total=total)


@router.post("/qa", status_code=status.HTTP_201_CREATED)
async def create_qa(body: schemas.QaCreate, principal: Admin, session: Session) -> schemas.QaRead:
    """A curated answer to a question customers ask; matched on the question."""
    return schemas.QaRead.model_validate(await QaService(session, principal.tenant_id).create(body))


@router.post("/qa/import", status_code=status.HTTP_201_CREATED)
async def import_qa(
    request: Request, principal: Admin, session: Session, file: Annotated[UploadFile, File()]
) -> schemas.QaImported:
    """Import pairs from a UTF-8 CSV of `question,answer` rows (header optional, `;` or `,`)."""
    data = await _read_upload(file, _runtime(request).settings.max_upload_bytes)
    return schemas.QaImported(imported=await QaService(session, principal.tenant_id).import_csv(data))


@router.get("/qa/{pair_id}")
async def read_qa(pair_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.QaRead:
    return schemas.QaRead.model_validate(await QaService(session, principal.tenant_id).get(pair_id))


@router.patch("/qa/{pair_id}")
async def update_qa(pair_id: uuid.UUID, body: schemas.QaUpdate, principal: Admin, session: Session) -> schemas.QaRead:
    return schemas.QaRead.model_validate(await QaService(session, principal.tenant_id).update(pair_id, body))


@router.delete("/qa/{pair_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_qa(pair_id: uuid.UUID, principal: Admin, session: Session) -> Response:
    await QaService(session, principal.tenant_id).delete(pair_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
