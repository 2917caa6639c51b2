"""The knowledge page: the tenant's documents with their indexing state (polled while any is still being
indexed), an upload of several files at once, the question-answer pairs with a CSV import, and a search
tester. Every action calls the knowledge services the JSON API calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from easyflow.kit.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia
from easyflow.knowledge import schemas
from easyflow.knowledge.search import KnowledgeSearch
from easyflow.knowledge.service import DocumentService, QaService, knowledge_status_of
from easyflow.models.knowledge import Document, DocumentStatus
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.tenancy.auth import Session
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, SignedInPage, render, see_other, text_field

router = APIRouter()

PAGE = "/app/knowledge"
# Uploads from the dashboard may be as large as the API's (see app.py's body limits).
UPLOAD_PATHS = (PAGE + "/documents", PAGE + "/qa/import")
FINAL = frozenset({DocumentStatus.ready, DocumentStatus.failed})
MAX_FILES = 20
LISTED = 200
MAX_QUERY_CHARS = 2000
SEARCH_LIMIT = 5

NO_FILES = N_("Choose one or more files to upload.")
TOO_MANY_FILES = N_("Upload at most 20 files at a time.")
FILE_TOO_LARGE = N_("%(name)s is larger than the upload limit.")
FILE_EMPTY = N_("%(name)s is empty.")
FILE_NOT_A_DOCUMENT = N_("%(name)s is not a document that can be read: upload PDF, DOCX, TXT, Markdown or HTML.")
QA_INVALID = N_("Enter a question (up to 2000 characters) and its answer (up to 8000 characters).")
CSV_MISSING = N_("Choose a CSV file with question and answer columns.")
CSV_REFUSED = N_("The CSV was not imported: %(reason)s")
QUERY_MISSING = N_("Enter a question to search for (up to 2000 characters).")
NO_DOCUMENT = N_("There is no such document in this workspace.")
NO_PAIR = N_("There is no such question-answer pair in this workspace.")


@dataclass(frozen=True)
class Problem:
    """A message to show, translated in the template, with its parameters."""

    message: str
    params: dict[str, Any]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _documents(session: Session, page: SignedIn) -> tuple[list[Document], int]:
    return await DocumentService(session, page.tenant_id).page(limit=LISTED, offset=0, status=None)


def _pending(documents: list[Document]) -> bool:
    return any(document.status not in FINAL for document in documents)


async def _page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    status_code: int = status.HTTP_200_OK,
    **extra: Any,
) -> HTMLResponse:
    documents, total = await _documents(session, page)
    pairs, pair_total = await QaService(session, page.tenant_id).list(limit=LISTED, offset=0)
    overview = await knowledge_status_of(session, page.tenant_id, _runtime(request).embedder)
    context: dict[str, Any] = {
        "documents": documents,
        "total": total,
        "pending": _pending(documents),
        "pairs": pairs,
        "pair_total": pair_total,
        "overview": overview,
        "may_edit": page.role.at_least(Role.admin),
        "upload_problems": [],
        "qa_problem": None,
        "search": None,
        **extra,
    }
    return render(request, "knowledge.html", context, status_code, page=page)


@router.get("/knowledge", response_class=HTMLResponse)
async def knowledge_page(request: Request, session: Session, page: SignedInPage) -> Response:
    return await _page(request, session, page)


@router.get("/knowledge/documents", response_class=HTMLResponse)
async def documents_fragment(request: Request, session: Session, page: SignedInPage) -> Response:
    """The list alone, which the page polls while a document is still being indexed."""
    documents, total = await _documents(session, page)
    context = {
        "documents": documents,
        "total": total,
        "pending": _pending(documents),
        "may_edit": page.role.at_least(Role.admin),
    }
    return render(request, "knowledge_documents.html", context, page=page)


@router.post("/knowledge/documents", response_class=HTMLResponse)
async def upload_documents(request: Request, session: Session, page: AdminPage) -> Response:
    """Each file goes through the same upload as the API's; refused files are named with the reason, the
    others are stored and queued for indexing."""
    form = await request.form(max_files=MAX_FILES + 1, max_fields=20)
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile) and item.filename]
    if not files:
        return await _page(request, session, page, status_code=400, upload_problems=[Problem(NO_FILES, {})])
    if len(files) > MAX_FILES:
        return await _page(request, session, page, status_code=400, upload_problems=[Problem(TOO_MANY_FILES, {})])
    limit = _runtime(request).settings.max_upload_bytes
    service = DocumentService(session, page.tenant_id)
    problems: list[Problem] = []
    for upload in files:
        name = upload.filename or "document"
        data = await upload.read(limit + 1)
        try:
            await service.upload(name, data, max_bytes=limit)
        except PayloadTooLarge:
            problems.append(Problem(FILE_TOO_LARGE, {"name": name}))
        except UnsupportedMedia:
            problems.append(Problem(FILE_NOT_A_DOCUMENT, {"name": name}))
        except InvalidInput:
            problems.append(Problem(FILE_EMPTY, {"name": name}))
    if problems:
        return await _page(request, session, page, status_code=400, upload_problems=problems)
    return see_other(PAGE)


@router.post("/knowledge/documents/{document_id}/delete")
async def delete_document(document_id: uuid.UUID, session: Session, page: AdminPage) -> Response:
    try:
        await DocumentService(session, page.tenant_id).delete(document_id)
    except NotFound as error:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_DOCUMENT) from error
    return see_other(PAGE)


@router.post("/knowledge/qa", response_class=HTMLResponse)
async def add_pair(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=20)
    try:
        pair = schemas.QaCreate(
            question=(text_field(form, "question", 2000) or "").strip(),
            answer=(text_field(form, "answer", 8000) or "").strip(),
        )
    except ValidationError:
        return await _page(request, session, page, status_code=400, qa_problem=Problem(QA_INVALID, {}))
    await QaService(session, page.tenant_id).create(pair)
    return see_other(PAGE + "#qa")


@router.post("/knowledge/qa/import", response_class=HTMLResponse)
async def import_pairs(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_files=2, max_fields=20)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(request, session, page, status_code=400, qa_problem=Problem(CSV_MISSING, {}))
    limit = _runtime(request).settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        problem = Problem(FILE_TOO_LARGE, {"name": upload.filename})
        return await _page(request, session, page, status_code=413, qa_problem=problem)
    try:
        await QaService(session, page.tenant_id).import_csv(data)
    except InvalidInput as error:
        problem = Problem(CSV_REFUSED, {"reason": error.detail})
        return await _page(request, session, page, status_code=400, qa_problem=problem)
    return see_other(PAGE + "#qa")


@router.post("/knowledge/qa/{pair_id}/delete")
async def delete_pair(pair_id: uuid.UUID, session: Session, page: AdminPage) -> Response:
    try:
        await QaService(session, page.tenant_id).delete(pair_id)
    except NotFound as error:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_PAIR) from error
    return see_other(PAGE + "#qa")


@router.get("/knowledge/search", response_class=HTMLResponse)
async def search_tester(request: Request, session: Session, page: SignedInPage) -> Response:
    """The passages the assistants would find for a question, with their scores: a fragment for htmx, the
    whole page otherwise."""
    raw = request.query_params.get("q", "")
    query = raw.strip()
    search: dict[str, Any] = {"query": raw[:MAX_QUERY_CHARS], "passages": [], "mode": None, "problem": None}
    status_code = status.HTTP_200_OK
    if not query or len(raw) > MAX_QUERY_CHARS or "\x00" in raw:
        search["problem"] = Problem(QUERY_MISSING, {})
        status_code = status.HTTP_400_BAD_REQUEST
    else:
        retriever = _runtime(request).retriever
        assert isinstance(retriever, KnowledgeSearch)
        outcome = await retriever.run(session, page.tenant_id, query, SEARCH_LIMIT)
        search["passages"], search["mode"] = outcome.passages, outcome.mode
    if request.headers.get("HX-Request") == "true":
        return render(request, "knowledge_search.html", {"search": search}, status_code, page=page)
    return await _page(request, session, page, status_code=status_code, search=search)
