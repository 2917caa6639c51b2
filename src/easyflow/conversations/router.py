"""HTTP routes: reading conversations, their messages and files."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from easyflow.conversations import schemas
from easyflow.conversations.queries import ConversationQueries
from easyflow.conversations.repository import ConversationFilters
from easyflow.kit.downloads import download
from easyflow.kit.errors import Unprocessable
from easyflow.kit.schemas import Limit, Offset, QueryText
from easyflow.models.conversations import ConversationStatus
from easyflow.tenancy.auth import Session, Viewer
from easyflow.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1")


@router.get("/conversations", tags=["conversations"])
async def list_conversations(
    principal: Viewer,
    session: Session,
    status_filter: Annotated[ConversationStatus | None, Query(alias="status")] = None,
    assignee: Annotated[
        str | None, Query(description="`me`, `none` (nobody holds it), or a member's user id.", max_length=36)
    ] = None,
    contact_id: uuid.UUID | None = None,
    label: Annotated[QueryText | None, Query(max_length=64)] = None,
    team: uuid.UUID | None = None,
    q: Annotated[QueryText | None, Query(max_length=200, description="Part of the contact's name or phone.")] = None,
    cursor: Annotated[
        QueryText | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> schemas.ConversationPage:
    """The inbox: conversations, most recently active first, each with its unread count (the customer's
    messages nobody answered yet) and last message. Filter by `status`, `assignee`, `team`, `contact_id`,
    `label` or `q`; page with `cursor` (stable while new messages arrive) or `offset`."""
    filters = ConversationFilters(
        status=status_filter,
        assignee=_assignee_filter(assignee, principal),
        contact_id=contact_id,
        label=label,
        team=team,
        q=q.strip() if q and q.strip() else None,
    )
    return await ConversationQueries(session, principal.tenant_id).page(
        filters, limit=limit, offset=offset, cursor=cursor
    )


def _assignee_filter(value: str | None, principal: Principal) -> uuid.UUID | Literal["none"] | None:
    if value is None:
        return None
    if value == "none":
        return "none"
    if value == "me":
        if principal.user_id is None:
            raise Unprocessable("assignee=me needs a signed-in person; an API key is nobody's.")
        return principal.user_id
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Unprocessable("assignee: `me`, `none` or a user id.") from None


@router.get("/conversations/{conversation_id}", tags=["conversations"])
async def read_conversation(
    conversation_id: uuid.UUID, principal: Viewer, session: Session
) -> schemas.ConversationDetail:
    """The conversation, with the customer's latest rating of it (`latest_rating`, CSAT)."""
    return await ConversationQueries(session, principal.tenant_id).detail(conversation_id)


@router.get("/conversations/{conversation_id}/ratings", tags=["conversations"])
async def conversation_ratings(
    conversation_id: uuid.UUID, principal: Viewer, session: Session
) -> list[schemas.RatingRead]:
    """Every rating request of the conversation (one each time a person resolved it), oldest first, with the
    customer's rating and comment when they answered."""
    return await ConversationQueries(session, principal.tenant_id).ratings_of(conversation_id)


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


@router.get("/conversations/{conversation_id}/events", tags=["conversations"])
async def conversation_events(
    conversation_id: uuid.UUID, principal: Viewer, session: Session, limit: Limit = 200, offset: Offset = 0
) -> list[schemas.ConversationEventRead]:
    """The conversation's event log, oldest first: every handoff, assignment, snooze, resolution and reopening,
    with who did it (customer, assistant, operator, rule, system) and why."""
    return await ConversationQueries(session, principal.tenant_id).events_of(
        conversation_id, limit=limit, offset=offset
    )


@router.get("/conversations/{conversation_id}/files/{file_id}", tags=["conversations"])
async def conversation_file(
    conversation_id: uuid.UUID, file_id: uuid.UUID, principal: Viewer, session: Session
) -> Response:
    """A file of the conversation (its id is a message's `attachments[].stored_file_id`), as a download."""
    stored = await ConversationQueries(session, principal.tenant_id).file(conversation_id, file_id)
    return download(stored.name, stored.content_type, stored.content)
