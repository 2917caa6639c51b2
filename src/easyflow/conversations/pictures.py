"""The pictures customers sent, for assistants whose model can look at them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import Picture
from easyflow.agents.llm import MAX_PICTURES
from easyflow.conversations.repository import ConversationFileRepository
from easyflow.conversations.schemas import attachments_of
from easyflow.models.conversations import Message

# Larger pictures are named to the model but not shown (providers refuse or charge heavily for them).
MAX_PICTURE_BYTES = 5 * 1024 * 1024


async def pictures_of(
    session: AsyncSession, conversation_id: uuid.UUID, messages: list[Message]
) -> dict[uuid.UUID, list[Picture]]:
    """The stored pictures each message carries (its attachments' `stored_file_id`), the newest
    MAX_PICTURES of the conversation's at most."""
    wanted = {
        message.id: [a.stored_file_id for a in attachments_of(message.attachments) if a.stored_file_id]
        for message in messages
    }
    every_id = [file_id for ids in wanted.values() for file_id in ids]
    if not every_id:
        return {}
    stored = await ConversationFileRepository(session).pictures(
        conversation_id, every_id, max_bytes=MAX_PICTURE_BYTES, newest=MAX_PICTURES
    )
    by_id = {f.id: Picture(f.content, f.content_type) for f in stored}
    return {message_id: [by_id[i] for i in ids if i in by_id] for message_id, ids in wanted.items()}
