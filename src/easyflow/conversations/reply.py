"""Answering a conversation: every customer message not yet answered, in one reply.

Jobs of one conversation run one at a time (a procrastinate lock), so messages that arrive while a reply is
being written are all answered by the next job together; the jobs they brought find nothing left and end.
The model is asked outside any transaction; the reply and the answered marks are written in one transaction
at the end, so a crash in between only means the retried job writes the reply once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from easyflow.agents.answers import ReplyRequest
from easyflow.agents.language import reply_language
from easyflow.agents.runtime import AgentRuntime
from easyflow.agents.service import assistant_profile
from easyflow.conversations.context import (
    HISTORY_MAX_MESSAGES,
    assistant_of,
    ready,
    turn_of,
    within_budget,
)
from easyflow.conversations.delivery import DELIVER_JOB
from easyflow.conversations.pictures import pictures_of
from easyflow.conversations.ports import CHANNELS, LiveChannel
from easyflow.conversations.repository import ConversationRepository, MessageRepository
from easyflow.conversations.summaries import SUMMARIZE_AFTER_MESSAGES, SUMMARIZE_JOB
from easyflow.conversations.typing_indicator import typing_indicator, while_typing
from easyflow.kit.jobs import defer
from easyflow.knowledge.retrieval import Passage
from easyflow.live.events import LiveEvent
from easyflow.live.publisher import DraftPublisher
from easyflow.live.repository import LiveRepository
from easyflow.models.agents import ModelProvider
from easyflow.models.conversations import DeliveryStatus, Message, MessageRole
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


@dataclass(frozen=True)
class _Gathered:
    request: ReplyRequest
    answering: set[uuid.UUID]  # the messages this reply answers
    pushes: bool  # the reply is sent somewhere (a delivery job), not only stored
    channel_type: str


class ReplyPipeline:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def reply(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> uuid.UUID | None:
        gathered = await self._gather(tenant_id, conversation_id)
        if gathered is None:
            return None
        watched_live = isinstance(CHANNELS[gathered.channel_type], LiveChannel)
        typing = await typing_indicator(
            self.runtime, tenant_id, conversation_id, watched_live=watched_live, pushes=gathered.pushes
        )
        agent = AgentRuntime(
            lambda query, limit: self._search(tenant_id, query, limit),
            timeout_seconds=self.runtime.settings.agent_timeout_seconds,
            min_offline_score=self.runtime.settings.offline_min_score,
            allow_private_urls=self.runtime.settings.allow_private_model_urls,
        )
        drafts = DraftPublisher(self.database, conversation_id) if watched_live else None
        answering = agent.answer(gathered.request, drafts)
        reply = await while_typing(typing, answering) if typing else await answering
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get_for_update(conversation_id)
            messages = MessageRepository(session)
            still_pending = [m.id for m in await messages.unanswered(conversation_id) if m.id in gathered.answering]
            if conversation is None or not still_pending:
                return None
            now = datetime.now(UTC)
            answer = await messages.add(
                Message(
                    conversation_id=conversation_id,
                    role=MessageRole.assistant,
                    text=reply.text,
                    attachments=[],
                    buttons=reply.buttons,
                    citations=[c.as_dict() for c in reply.citations],
                    usage=reply.usage.as_dict() if reply.usage else None,
                    delivery_status=DeliveryStatus.pending if gathered.pushes else DeliveryStatus.stored,
                    reply_to=[str(i) for i in still_pending],
                    created_at=now,
                )
            )
            await messages.mark_answered(still_pending, now)
            await LiveRepository(session).notify(LiveEvent(conversation_id, "message"))
            conversation.last_activity_at = now
            conversation.language = gathered.request.language
            if reply.needs_human and not conversation.needs_human:
                conversation.needs_human = True
                conversation.flag_reason = reply.flag_reason
            if gathered.pushes:
                await defer(session, DELIVER_JOB, tenant_id=str(tenant_id), message_id=str(answer.id))
            if gathered.request.assistant.provider != ModelProvider.none and (
                await messages.count_after(conversation_id, conversation.summarized_up_to) > SUMMARIZE_AFTER_MESSAGES
            ):
                await defer(session, SUMMARIZE_JOB, tenant_id=str(tenant_id), conversation_id=str(conversation_id))
            return answer.id

    async def flag(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, reason: str) -> None:
        """Ask for a person: the conversation shows as needing one, with the reason."""
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get_for_update(conversation_id)
            if conversation is not None:
                conversation.needs_human = True
                conversation.flag_reason = reason

    async def _gather(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> _Gathered | None:
        """What the answerer needs, or None when nothing is waiting for an answer."""
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get(conversation_id)
            messages = MessageRepository(session)
            pending = ready(list(await messages.unanswered(conversation_id))) if conversation else []
            if conversation is None or not pending:
                return None
            assistant = await assistant_of(session, conversation)
            tenant = await TenantRepository(session).get(tenant_id)
            earlier = await messages.recent(
                conversation_id, before_position=pending[0].position, limit=HISTORY_MAX_MESSAGES
            )
            unsummarized = [m for m in earlier if m.position > conversation.summarized_up_to]
            history = within_budget(unsummarized, self.runtime.settings.history_token_budget)
            language = reply_language(" ".join(m.text for m in pending), conversation.language, assistant.language)
            pictures = await pictures_of(session, conversation_id, pending) if assistant.sees_pictures else {}
            request = ReplyRequest(
                tenant_id=tenant_id,
                conversation_id=conversation_id,
                assistant=assistant_profile(assistant, self.runtime.secrets),
                tenant_facts=tenant.facts if tenant else "",
                language=language,
                summary=conversation.summary,
                history=[turn_of(m) for m in history],
                new_messages=[turn_of(m, pictures.get(m.id, [])) for m in pending],
            )
            pushes = CHANNELS[conversation.channel_type].pushes(tenant.webhook_url if tenant else None)
            return _Gathered(request, {m.id for m in pending}, pushes, conversation.channel_type)

    async def _search(self, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        async with self.database.tenant_transaction(tenant_id) as session:
            return await self.runtime.retriever.search(session, tenant_id, query, limit)
