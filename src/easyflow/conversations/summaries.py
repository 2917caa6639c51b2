"""The rolling summary of a long conversation: older turns folded into it, so the model sees them briefly
(assistants with a model only; the offline answerer reads no history)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.agents.llm import summarize
from easyflow.agents.service import assistant_profile
from easyflow.conversations.context import HISTORY_MAX_MESSAGES, assistant_of, turn_of
from easyflow.conversations.repository import ConversationRepository, MessageRepository
from easyflow.models.agents import ModelProvider

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

SUMMARIZE_JOB = "conversations.summarize"
# Once this many messages lie beyond the summary, all but the newest HISTORY_MAX_MESSAGES are folded into it.
SUMMARIZE_AFTER_MESSAGES = 2 * HISTORY_MAX_MESSAGES


async def fold_into_summary(runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """Fold all but the newest turns into the conversation's summary; the model is asked outside any
    transaction, and a summary written meanwhile by another job wins."""
    async with runtime.database.tenant_transaction(tenant_id) as session:
        conversation = await ConversationRepository(session).get(conversation_id)
        if conversation is None:
            return
        unsummarized = list(await MessageRepository(session).after(conversation_id, conversation.summarized_up_to))
        to_fold = unsummarized[:-HISTORY_MAX_MESSAGES]
        assistant = await assistant_of(session, conversation)
        if not to_fold or assistant.provider == ModelProvider.none:
            return
        previous, language = conversation.summary, conversation.language or assistant.language
        profile = assistant_profile(assistant, runtime.secrets)
    summary = await summarize(
        profile,
        previous,
        [turn_of(m) for m in to_fold if not m.private],  # staff notes never reach the model
        language,
        allow_private_urls=runtime.settings.allow_private_model_urls,
    )
    async with runtime.database.tenant_transaction(tenant_id) as session:
        conversation = await ConversationRepository(session).get_for_update(conversation_id)
        if conversation is not None and conversation.summarized_up_to < to_fold[-1].position:
            conversation.summary = summary
            conversation.summarized_up_to = to_fold[-1].position
