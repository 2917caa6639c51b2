"""Reading conversations, their messages and files (and the few changes staff make to a conversation)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations import schemas
from easyflow.conversations.repository import ConversationFileRepository, ConversationRepository, MessageRepository
from easyflow.kit.errors import NotFound
from easyflow.models.conversations import Contact, Conversation, ConversationFile, ConversationStatus


class ConversationQueries:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.conversations = ConversationRepository(session, tenant_id)
        self.messages = MessageRepository(session, tenant_id)
        self.files = ConversationFileRepository(session, tenant_id)

    async def page(
        self, *, limit: int, offset: int, status: ConversationStatus | None, needs_human: bool | None
    ) -> tuple[list[schemas.ConversationRead], int]:
        rows, total = await self.conversations.page(limit=limit, offset=offset, status=status, needs_human=needs_human)
        return [_conversation(c, contact) for c, contact in rows], total

    async def get(self, conversation_id: uuid.UUID) -> schemas.ConversationRead:
        row = await self.conversations.with_contact(conversation_id)
        if row is None:
            raise NotFound("No such conversation in this tenant.")
        return _conversation(*row)

    async def update(self, conversation_id: uuid.UUID, changes: schemas.ConversationUpdate) -> schemas.ConversationRead:
        conversation = await self.conversations.get_for_update(conversation_id)
        if conversation is None:
            raise NotFound("No such conversation in this tenant.")
        if changes.status is not None:
            conversation.status = changes.status
        if changes.needs_human is False:
            conversation.needs_human = False
            conversation.flag_reason = None
        await self.conversations.session.flush()
        return await self.get(conversation_id)

    async def messages_of(
        self, conversation_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> list[schemas.MessageRead]:
        await self.get(conversation_id)
        messages = await self.messages.of_conversation(conversation_id, after=after, limit=limit)
        return [schemas.MessageRead.model_validate(m) for m in messages]

    async def file(self, conversation_id: uuid.UUID, file_id: uuid.UUID) -> ConversationFile:
        stored = await self.files.content_of(conversation_id, file_id)
        if stored is None:
            raise NotFound("No such file in this conversation.")
        return stored


def _conversation(conversation: Conversation, contact: Contact) -> schemas.ConversationRead:
    return schemas.ConversationRead(
        id=conversation.id,
        contact=schemas.ContactRead.model_validate(contact),
        channel_type=conversation.channel_type,
        assistant_id=conversation.assistant_id,
        status=conversation.status,
        needs_human=conversation.needs_human,
        flag_reason=conversation.flag_reason,
        language=conversation.language,
        last_activity_at=conversation.last_activity_at,
        created_at=conversation.created_at,
    )
