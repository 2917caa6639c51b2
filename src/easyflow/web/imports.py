"""The import page: upload the chats a business already has (WhatsApp and Telegram Desktop exports, a CSV of
contacts) and follow each import, its progress polled while it runs, then its report. Admins only, as the
API's upload; the page calls the same import service as `POST /api/v1/imports`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from easyflow.audit import service as audit
from easyflow.crm.imports.service import MAX_FILES, ImportService
from easyflow.kit.errors import InvalidInput, NotFound, PayloadTooLarge, Unprocessable
from easyflow.models.crm_imports import ChatImport, ChatImportStatus
from easyflow.runtime import Runtime
from easyflow.tenancy.auth import Session
from easyflow.web.knowledge import Problem
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, render, see_other

router = APIRouter()

PAGE = "/app/imports"
# The upload may be as large as the API's: app.py gives this path the import's body limit.
UPLOAD_PATHS = (PAGE,)
FINAL = frozenset({ChatImportStatus.done, ChatImportStatus.failed})
LISTED = 50
# The report keeps up to a thousand unreadable lines of 200 characters; the page shows the first of them, each
# cut shorter to keep the table readable (the API has them whole).
UNREADABLE_SHOWN = 100
UNREADABLE_CHARS = 120

NO_FILES = N_("Choose one or more chat exports or contact lists to import.")
TOO_MANY_FILES = N_("Upload at most 100 files at a time: zip them together.")
TOO_LARGE = N_("The files are too large: together they may be at most %(limit)s.")
REFUSED = N_("Nothing was imported: %(reason)s")
NO_IMPORT = N_("There is no such import in this workspace.")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _shown(chat_import: ChatImport, creator: str | None, zone: ZoneInfo) -> dict[str, Any]:
    """What the page shows of an import: the report's unreadable lines limited and cut short."""
    report = chat_import.report or {}
    unreadable = report.get("unreadable") or []
    lines = [
        {
            "file": str(line.get("file") or ""),
            "line": line.get("line"),
            "text": _cut(str(line.get("text") or "")),
        }
        for line in unreadable[:UNREADABLE_SHOWN]
    ]
    return {
        "id": chat_import.id,
        "status": chat_import.status.value,
        "final": chat_import.status in FINAL,
        "when": _local(chat_import.created_at, zone),
        "when_iso": chat_import.created_at.isoformat(),
        "creator": creator,
        "business": chat_import.business,
        "files": chat_import.files,
        "chats_done": chat_import.chats_done,
        "chats_total": chat_import.chats_total,
        "report": report,
        "unreadable": lines,
        "unreadable_hidden": max(0, len(unreadable) - UNREADABLE_SHOWN),
        "error": chat_import.error,
    }


def _cut(text: str) -> str:
    return text if len(text) <= UNREADABLE_CHARS else text[: UNREADABLE_CHARS - 1] + "…"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


async def _page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    status_code: int = status.HTTP_200_OK,
    problem: Problem | None = None,
    business: str = "",
) -> HTMLResponse:
    listed, total = await ImportService(session, page.tenant_id).recent_with_creators(limit=LISTED)
    zone = ZoneInfo(page.tenant.timezone)
    context = {
        "imports": [_shown(chat_import, creator, zone) for chat_import, creator in listed],
        "total": total,
        "limit": _runtime(request).settings.import_max_upload_bytes,
        "max_files": MAX_FILES,
        "problem": problem,
        "business": business,
    }
    return render(request, "imports.html", context, status_code, page=page)


@router.get("/imports", response_class=HTMLResponse)
async def imports_page(request: Request, session: Session, page: AdminPage) -> Response:
    return await _page(request, session, page)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
async def import_fragment(import_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    """One import alone, which the page polls while it is queued or running."""
    try:
        chat_import, creator = await ImportService(session, page.tenant_id).get_with_creator(import_id)
    except NotFound as error:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_IMPORT) from error
    item = _shown(chat_import, creator, ZoneInfo(page.tenant.timezone))
    return render(request, "imports_item.html", {"item": item}, page=page)


@router.post("/imports", response_class=HTMLResponse)
async def upload_exports(request: Request, session: Session, page: AdminPage) -> Response:
    """The files go through the same checks as the API's upload; a refused upload stores nothing and the page
    says why."""
    form = await request.form(max_files=MAX_FILES + 1, max_fields=20)
    raw_business = form.get("business")
    business = raw_business if isinstance(raw_business, str) else ""
    files = [item for item in form.getlist("file") if isinstance(item, UploadFile) and item.filename]

    async def refused(problem: Problem, status_code: int) -> HTMLResponse:
        shown = business.replace("\x00", "")[:200]
        return await _page(request, session, page, status_code=status_code, problem=problem, business=shown)

    if not files:
        return await refused(Problem(NO_FILES, {}), status.HTTP_400_BAD_REQUEST)
    if len(files) > MAX_FILES:
        return await refused(Problem(TOO_MANY_FILES, {}), status.HTTP_400_BAD_REQUEST)
    limit = _runtime(request).settings.import_max_upload_bytes
    uploads: list[tuple[str, bytes]] = []
    remaining = limit
    for upload in files:
        data = await upload.read(remaining + 1)
        if len(data) > remaining:
            return await refused(Problem(TOO_LARGE, {}), status.HTTP_413_CONTENT_TOO_LARGE)
        remaining -= len(data)
        uploads.append((upload.filename or "export", data))
    try:
        chat_import = await ImportService(session, page.tenant_id).create(
            uploads, business=business, created_by=page.user.id, max_bytes=limit
        )
    except PayloadTooLarge:
        return await refused(Problem(TOO_LARGE, {}), status.HTTP_413_CONTENT_TOO_LARGE)
    except (InvalidInput, Unprocessable) as error:
        return await refused(Problem(REFUSED, {"reason": error.detail}), error.status)
    details = {"files": [file["name"] for file in chat_import.files], "business": chat_import.business}
    await audit.record(
        session, page.tenant_id, page.actor(), "import.created", target=("import", chat_import.id), details=details
    )
    return see_other(PAGE)
