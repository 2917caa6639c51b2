"""Reading conversations, their messages, files and event logs."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations import schemas
from easyflow.conversations.repository import (
    ConversationEventRepository,
    ConversationFileRepository,
    ConversationRepository,
    MessageRepository,
)
from easyflow.kit.errors import NotFound
from easyflow.models.conversations import Contact, Conversation, ConversationFile, ConversationStatus


class ConversationQueries:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.conversations = ConversationRepository(session, tenant_id)
        self.messages = MessageRepository(session, tenant_id)
        self.files = ConversationFileRepository(session, tenant_id)
        self.events = ConversationEventRepository(session, tenant_id)

    async def page(
        self,
        *,
        limit: int,
        offset: int,
        status: ConversationStatus | None,
        assignee: uuid.UUID | Literal["none"] | None,
        contact_id: uuid.UUID | None,
    ) -> tuple[list[schemas.ConversationRead], int]:
        rows, total = await self.conversations.page(
            limit=limit, offset=offset, status=status, assignee=assignee, contact_id=contact_id
        )
        return [read_conversation(c, contact) for c, contact in rows], total

    async def get(self, conversation_id: uuid.UUID) -> schemas.ConversationRead:
        row = await self.conversations.with_contact(conversation_id)
        if row is None:
            raise NotFound("No such conversation in this tenant.")
        return read_conversation(*row)

    async def messages_of(
        self, conversation_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> list[schemas.MessageRead]:
        await self.get(conversation_id)
        messages = await self.messages.of_conversation(conversation_id, after=after, limit=limit)
        return [schemas.MessageRead.model_validate(m) for m in messages]

    async def events_of(
        self, conversation_id: uuid.UUID, *, limit: int, offset: int
    ) -> list[schemas.ConversationEventRead]:
        await self.get(conversation_id)
        events = await self.events.of_conversation(conversation_id, limit=limit, offset=offset)
        return [schemas.ConversationEventRead.model_validate(e) for e in events]

    async def file(self, conversation_id: uuid.UUID, file_id: uuid.UUID) -> ConversationFile:
        stored = await self.files.content_of(conversation_id, file_id)
        if stored is None:
            raise NotFound("No such file in this conversation.")
        return stored


def read_conversation(conversation: Conversation, contact: Contact) -> schemas.ConversationRead:
    return schemas.ConversationRead(
        id=conversation.id,
        contact=schemas.ContactRead.model_validate(contact),
        channel_type=conversation.channel_type,
        assistant_id=conversation.assistant_id,
        status=conversation.status,
        assignee_id=conversation.assignee_id,
        last_assignee_id=conversation.last_assignee_id,
        handoff_reason=conversation.handoff_reason,
        snoozed_until=conversation.snoozed_until,
        resolved_at=conversation.resolved_at,
        status_changed_at=conversation.status_changed_at,
        language=conversation.language,
        last_activity_at=conversation.last_activity_at,
        created_at=conversation.created_at,
    )
