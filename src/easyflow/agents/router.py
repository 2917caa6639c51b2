"""HTTP routes of assistants."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from easyflow.agents import schemas
from easyflow.agents.service import AssistantService
from easyflow.audit import service as audit
from easyflow.audit.service import Actor
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.tenancy.auth import Admin, Session, Viewer

router = APIRouter(prefix="/api/v1/assistants", tags=["assistants"])


def _service(request: Request, session: Session, tenant_id: uuid.UUID) -> AssistantService:
    allow_private = request.app.state.settings.allow_private_model_urls
    return AssistantService(session, tenant_id, request.app.state.runtime.secrets, allow_private_urls=allow_private)


@router.get("")
async def list_assistants(
    request: Request,
    principal: Viewer,
    session: Session,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[schemas.AssistantRead]:
    service = _service(request, session, principal.tenant_id)
    assistants, total = await service.list(limit=limit, offset=offset)
    return Page(items=await service.read_all(assistants), total=total)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_assistant(
    body: schemas.AssistantCreate, request: Request, principal: Admin, session: Session
) -> schemas.AssistantRead:
    """Create an assistant. Without a model (`provider: none`) it answers from the knowledge base only. A
    `base_url` must be a public address (422 for loopback and private networks, unless the operator allows
    them)."""
    service = _service(request, session, principal.tenant_id)
    assistant = await service.create(body)
    target = ("assistant", assistant.id)
    details = {"name": assistant.name}
    await audit.record(
        session, principal.tenant_id, Actor.of(principal), "assistant.created", target=target, details=details
    )
    return await service.read(assistant)


@router.get("/{assistant_id}")
async def read_one(
    assistant_id: uuid.UUID, request: Request, principal: Viewer, session: Session
) -> schemas.AssistantRead:
    service = _service(request, session, principal.tenant_id)
    return await service.read(await service.get(assistant_id))


@router.patch("/{assistant_id}")
async def update_assistant(
    assistant_id: uuid.UUID, body: schemas.AssistantUpdate, request: Request, principal: Admin, session: Session
) -> schemas.AssistantRead:
    """Change an assistant. A `model` without `api_key` keeps the stored key while the provider and `base_url`
    stay the same; changing either requires the key again (422), so the key never goes anywhere new."""
    service = _service(request, session, principal.tenant_id)
    assistant = await service.update(assistant_id, body)
    # Which settings changed, never their values: a key or instructions do not belong in a log.
    details = {"changed": sorted(body.model_fields_set)}
    actor = Actor.of(principal)
    await audit.record(
        session, principal.tenant_id, actor, "assistant.changed", target=("assistant", assistant_id), details=details
    )
    return await service.read(assistant)


@router.delete("/{assistant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_assistant(assistant_id: uuid.UUID, request: Request, principal: Admin, session: Session) -> Response:
    await _service(request, session, principal.tenant_id).delete(assistant_id)
    actor = Actor.of(principal)
    await audit.record(session, principal.tenant_id, actor, "assistant.removed", target=("assistant", assistant_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
