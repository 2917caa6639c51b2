"""Trying an assistant out: its answer to one question, as a customer would get it, with the passages its
search found, without a conversation (nothing is stored, nobody is notified, no one is handed anything)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from easyflow.agents.answers import AssistantProfile, Reply, ReplyRequest, Turn
from easyflow.agents.language import reply_language
from easyflow.agents.offline import Search
from easyflow.agents.runtime import AgentRuntime
from easyflow.knowledge.retrieval import Passage

# The answerers name the conversation in their logs; a trial has none.
NO_CONVERSATION = uuid.UUID(int=0)


@dataclass(frozen=True)
class TrialAnswer:
    reply: Reply
    # Every passage the answer's searches found, in the order found (a passage found twice is listed once).
    passages: list[Passage]
    # What the answer searched the knowledge base for (the question itself, the model's tool calls), in order.
    searches: list[str]


async def try_assistant(
    search: Search,
    assistant: AssistantProfile,
    question: str,
    *,
    tenant_id: uuid.UUID,
    tenant_facts: str,
    timeout_seconds: float,
    min_offline_score: float,
    allow_private_urls: bool,
) -> TrialAnswer:
    """The reply the assistant gives to `question` as the first message of a conversation."""
    found: dict[str, Passage] = {}
    searches: list[str] = []

    async def recorded(query: str, limit: int) -> list[Passage]:
        searches.append(query)
        passages = await search(query, limit)
        for passage in passages:
            found.setdefault(passage.chunk_id, passage)
        return passages

    agent = AgentRuntime(
        recorded,
        timeout_seconds=timeout_seconds,
        min_offline_score=min_offline_score,
        allow_private_urls=allow_private_urls,
    )
    request = ReplyRequest(
        tenant_id=tenant_id,
        conversation_id=NO_CONVERSATION,
        assistant=assistant,
        tenant_facts=tenant_facts,
        language=reply_language(question, None, assistant.language),
        summary="",
        history=[],
        new_messages=[Turn(role="contact", text=question)],
    )
    reply = await agent.answer(request)
    return TrialAnswer(reply, list(found.values()), searches)
