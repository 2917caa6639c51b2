"""HTTP routes of chat-history imports."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile, status

from easyflow.audit import service as audit
from easyflow.audit.service import Actor
from easyflow.config import Settings
from easyflow.crm.imports import schemas
from easyflow.crm.imports.service import ImportService
from easyflow.kit.errors import PayloadTooLarge
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.models.crm_imports import ChatImport
from easyflow.tenancy.auth import Admin, Session, Viewer

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
UPLOAD_PATHS = ("/api/v1/imports",)


def _read(chat_import: ChatImport) -> schemas.ImportRead:
    return schemas.ImportRead.model_validate(chat_import)


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def create_import(
    request: Request,
    principal: Admin,
    session: Session,
    file: Annotated[list[UploadFile], File(description="Chat exports: repeat the field for several files.")],
    business: Annotated[
        str | None, Form(description="The name or number that is the business's own side in the chats.")
    ] = None,
) -> schemas.ImportQueued:
    """Import chat history: WhatsApp exports (`.txt`, or the `.zip` with its media), Telegram Desktop's
    `result.json`, a CSV of contacts, or a zip of many of them (multipart field `file`, repeatable). It runs in
    the background: follow `GET /api/v1/imports/{id}` until `status` is done (or failed, with `error`)."""
    settings: Settings = request.app.state.settings
    limit = settings.import_max_upload_bytes
    uploads: list[tuple[str, bytes]] = []
    remaining = limit
    for upload in file:
        data = await upload.read(remaining + 1)
        if len(data) > remaining:
            raise PayloadTooLarge(f"The files are larger than the import limit of {limit:,} bytes.")
        remaining -= len(data)
        uploads.append((upload.filename or "export", data))
    chat_import = await ImportService(session, principal.tenant_id).create(
        uploads, business=business, created_by=principal.user_id, max_bytes=limit
    )
    details = {"files": [file["name"] for file in chat_import.files], "business": chat_import.business}
    actor = Actor.of(principal)
    await audit.record(
        session, principal.tenant_id, actor, "import.created", target=("import", chat_import.id), details=details
    )
    return schemas.ImportQueued(id=chat_import.id, status=chat_import.status)


@router.get("")
async def list_imports(
    principal: Viewer, session: Session, limit: Limit = 100, offset: Offset = 0
) -> Page[schemas.ImportRead]:
    """The tenant's imports, newest first."""
    imports, total = await ImportService(session, principal.tenant_id).page(limit=limit, offset=offset)
    return Page(items=[_read(i) for i in imports], total=total)


@router.get("/{import_id}")
async def read_import(import_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.ImportRead:
    """An import's `status` (queued, running, done, failed), progress (`chats_done` of `chats_total`) and
    `report`."""
    return _read(await ImportService(session, principal.tenant_id).get(import_id))
