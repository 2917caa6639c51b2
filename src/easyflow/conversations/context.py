"""What an assistant is given of a conversation: the messages a reply answers, the turns before them within
the token budget, and the assistant that answers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import AttachedFile, Picture, Turn
from easyflow.agents.repository import AssistantRepository
from easyflow.conversations.schemas import attachments_of
from easyflow.models.agents import Assistant
from easyflow.models.conversations import Conversation, Message

HISTORY_MAX_MESSAGES = 40
# Without a tokenizer per provider, ~3.5 characters per token is a fair average for Russian and English.
CHARS_PER_TOKEN = 3.5


async def assistant_of(session: AsyncSession, conversation: Conversation) -> Assistant:
    """The conversation's assistant, or the tenant's default one."""
    assistants = AssistantRepository(session)
    assistant = (
        await assistants.get(conversation.assistant_id) if conversation.assistant_id else None
    ) or await assistants.default()
    if assistant is None:
        raise LookupError(f"tenant {conversation.tenant_id} has no assistant")
    return assistant


def ready(pending: list[Message]) -> list[Message]:
    """The unanswered messages a reply may answer now: up to the first whose file is still being fetched
    (its own fetch and reply jobs are queued behind this one, so the model will see it then). The oldest
    message is always ready, so a fetch that never finished cannot hold the conversation up."""
    for index, message in enumerate(pending):
        if index > 0 and any(a.awaiting_file for a in attachments_of(message.attachments)):
            return pending[:index]
    return pending


def turn_of(message: Message, pictures: list[Picture] | None = None) -> Turn:
    files = [AttachedFile(kind=a.kind, name=a.name) for a in attachments_of(message.attachments)]
    return Turn(role=message.role.value, text=message.text, attachments=files, pictures=pictures or [])


def within_budget(messages: list[Message], token_budget: int) -> list[Message]:
    """The newest messages whose text fits the budget, oldest first."""
    kept: list[Message] = []
    spent = 0.0
    for message in reversed(messages):
        spent += len(message.text) / CHARS_PER_TOKEN
        if spent > token_budget:
            break
        kept.append(message)
    return list(reversed(kept))
