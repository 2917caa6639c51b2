"""HTTP routes: reading conversations, their messages and files."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from easyflow.conversations import schemas
from easyflow.conversations.queries import ConversationQueries
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.models.conversations import ConversationStatus
from easyflow.tenancy.auth import Operator, Session, Viewer

router = APIRouter(prefix="/api/v1")


@router.get("/conversations", tags=["conversations"])
async def list_conversations(
    principal: Viewer,
    session: Session,
    status_filter: Annotated[ConversationStatus | None, Query(alias="status")] = None,
    needs_human: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.ConversationRead]:
    """Conversations, most recently active first; filter by `status` or `needs_human`."""
    items, total = await ConversationQueries(session, principal.tenant_id).page(
        limit=limit, offset=offset, status=status_filter, needs_human=needs_human
    )
    return Page(items=items, total=total)


@router.get("/conversations/{conversation_id}", tags=["conversations"])
async def read_conversation(
    conversation_id: uuid.UUID, principal: Viewer, session: Session
) -> schemas.ConversationRead:
    return await ConversationQueries(session, principal.tenant_id).get(conversation_id)


@router.patch("/conversations/{conversation_id}", tags=["conversations"])
async def update_conversation(
    conversation_id: uuid.UUID, body: schemas.ConversationUpdate, principal: Operator, session: Session
) -> schemas.ConversationRead:
    """Close a conversation, or clear its hand-over flag once a person has dealt with it."""
    return await ConversationQueries(session, principal.tenant_id).update(conversation_id, body)


@router.get("/conversations/{conversation_id}/messages", tags=["conversations"])
async def conversation_messages(
    conversation_id: uuid.UUID,
    principal: Viewer,
    session: Session,
    after: Annotated[uuid.UUID | None, Query(description="Only messages after this message id.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[schemas.MessageRead]:
    """The conversation's messages, oldest first."""
    return await ConversationQueries(session, principal.tenant_id).messages_of(
        conversation_id, after=after, limit=limit
    )


@router.get("/conversations/{conversation_id}/files/{file_id}", tags=["conversations"])
async def conversation_file(
    conversation_id: uuid.UUID, file_id: uuid.UUID, principal: Viewer, session: Session
) -> Response:
    """A file the customer sent (its id is in the message's `attachments[].file_id`), as a download."""
    stored = await ConversationQueries(session, principal.tenant_id).file(conversation_id, file_id)
    return Response(
        stored.content,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )
