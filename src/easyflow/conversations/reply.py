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

from easyflow.agents.answers import Reply, ReplyRequest
from easyflow.agents.booking_port import booking
from easyflow.agents.catalogue_port import catalogue
from easyflow.agents.funnel_port import funnel
from easyflow.agents.handoff import Handoff, HandoffRules, handoff_before_answering, rules_of
from easyflow.agents.language import reply_language
from easyflow.agents.phrases import phrase, when_back
from easyflow.agents.repository import SpendingRepository
from easyflow.agents.runtime import AgentRuntime
from easyflow.agents.schemas import CATALOGUE_TOOLS, CRM_TOOLS
from easyflow.agents.service import assistant_profile, month_of
from easyflow.conversations.context import (
    HISTORY_MAX_MESSAGES,
    assistant_of,
    ready,
    turn_of,
    within_budget,
)
from easyflow.conversations.delivery import DELIVER_JOB
from easyflow.conversations.lifecycle import HUMAN_HELD, SYSTEM, Actor, ConversationLifecycle, assistant_may_send
from easyflow.conversations.pictures import pictures_of
from easyflow.conversations.ports import (
    CHANNELS,
    LiveChannel,
    anyone_on_duty,
    customer_waiting,
    next_opening,
    team_named,
)
from easyflow.conversations.repository import ConversationRepository, MessageRepository
from easyflow.conversations.summaries import SUMMARIZE_AFTER_MESSAGES, SUMMARIZE_JOB
from easyflow.conversations.typing_indicator import typing_indicator, while_typing
from easyflow.kit.jobs import defer
from easyflow.knowledge.retrieval import Passage
from easyflow.live.events import LiveEvent
from easyflow.live.publisher import DraftPublisher
from easyflow.live.repository import LiveRepository
from easyflow.live.staff import queue_staff_event
from easyflow.models.agents import ModelProvider
from easyflow.models.conversations import ActorKind, ConversationStatus, DeliveryStatus, Message, MessageRole
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


@dataclass(frozen=True)
class _Gathered:
    request: ReplyRequest
    answering: set[uuid.UUID]  # the messages this reply answers
    pushes: bool  # the reply is sent somewhere (a delivery job), not only stored
    channel_type: str
    rules: HandoffRules
    # The customer's messages call for a person before any answer (they asked, or wrote a keyword).
    handoff: Handoff | None


@dataclass(frozen=True)
class _Outcome:
    """What is written: the reply (changed when it announces a handoff), and the handoff, if any."""

    reply: Reply
    handoff: Handoff | None
    unanswered_turns: int


class ReplyPipeline:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def reply(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> uuid.UUID | None:
        gathered = await self._gather(tenant_id, conversation_id)
        if gathered is None:
            return None
        if gathered.handoff is not None:
            reply = Reply(text="")  # the handoff notice is the whole reply: no model is asked
        else:
            # A pressed Confirm runs the stored booking write here, in code, before (and instead of) any answerer.
            booking_port = booking()
            gated = (
                await booking_port.gate(
                    self.runtime,
                    tenant_id,
                    conversation_id,
                    [turn.text for turn in gathered.request.new_messages],
                    gathered.request.language,
                )
                if booking_port
                else None
            )
            reply = gated or await self._answer(tenant_id, conversation_id, gathered)
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get_for_update(conversation_id)
            messages = MessageRepository(session)
            still_pending = [m.id for m in await messages.unanswered(conversation_id) if m.id in gathered.answering]
            if conversation is None or not still_pending:
                return None
            if not assistant_may_send(conversation.status, answers_while_pending=gathered.rules.answers_while_pending):
                return None  # a person took it meanwhile: what the customer wrote is theirs to answer
            now = datetime.now(UTC)
            language = gathered.request.language
            outcome = self._decide(gathered, reply, conversation.unanswered_turns)
            if outcome.handoff is not None and conversation.status == ConversationStatus.bot:
                on_duty = await anyone_on_duty(session)
                opening = None if on_duty else await next_opening(session, now)
                text = _handoff_text(outcome.reply.text, on_duty, opening, now, language)
                notice: str | None = HANDOFF_NOTICE
                buttons: list[str] = []
            else:
                text, notice, buttons = outcome.reply.text, None, list(outcome.reply.buttons)
                if conversation.status == ConversationStatus.pending:
                    text = f"{phrase('while_waiting', language)}\n\n{text}"
                elif gathered.rules.offer_button and gathered.rules.on_request:
                    buttons = _with_person_button(buttons, language)
            answer = await messages.add(
                Message(
                    conversation_id=conversation_id,
                    role=MessageRole.assistant,
                    text=text,
                    attachments=[],
                    buttons=buttons,
                    citations=[c.as_dict() for c in outcome.reply.citations],
                    usage=outcome.reply.usage.as_dict() if outcome.reply.usage else None,
                    delivery_status=DeliveryStatus.pending if gathered.pushes else DeliveryStatus.stored,
                    reply_to=[str(i) for i in still_pending],
                    notice=notice,
                    created_at=now,
                )
            )
            await messages.mark_answered(still_pending, now)
            cost = outcome.reply.usage.cost if outcome.reply.usage else 0.0
            if cost > 0:
                await SpendingRepository(session, tenant_id).record(gathered.request.assistant.id, month_of(now), cost)
            await LiveRepository(session).notify(LiveEvent(conversation_id, "message"))
            queue_staff_event(session, tenant_id, "message.created", _message_event(answer))
            conversation.last_activity_at = now
            conversation.language = language
            conversation.unanswered_turns = outcome.unanswered_turns
            if outcome.handoff is not None:
                if outcome.handoff.team and conversation.team_id is None:
                    conversation.team_id = await team_named(session, outcome.handoff.team)
                await ConversationLifecycle(session, tenant_id).hand_off(
                    conversation,
                    actor=Actor(outcome.handoff.actor),
                    reason=outcome.handoff.reason,
                    now=now,
                )
            if gathered.pushes:
                await defer(session, DELIVER_JOB, tenant_id=str(tenant_id), message_id=str(answer.id))
            if gathered.request.assistant.provider != ModelProvider.none and (
                await messages.count_after(conversation_id, conversation.summarized_up_to) > SUMMARIZE_AFTER_MESSAGES
            ):
                await defer(session, SUMMARIZE_JOB, tenant_id=str(tenant_id), conversation_id=str(conversation_id))
            return answer.id

    async def _answer(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, gathered: _Gathered) -> Reply:
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
        return await while_typing(typing, answering) if typing else await answering

    @staticmethod
    def _decide(gathered: _Gathered, reply: Reply, unanswered_turns: int) -> _Outcome:
        """Whether this reply hands the conversation over, by the assistant's rules."""
        if gathered.handoff is not None:
            return _Outcome(reply, gathered.handoff, 0)
        asked = reply.handoff
        if asked is None:
            return _Outcome(reply, None, 0)
        rules = gathered.rules
        if (
            asked.trigger == "failure"
            or (asked.trigger == "no_answer" and rules.on_no_answer)
            or (asked.trigger == "model" and rules.on_model_request)
        ):
            return _Outcome(reply, Handoff(ActorKind.assistant, asked.reason, asked.team), 0)
        turns = unanswered_turns + 1
        if rules.after_unanswered_turns and turns >= rules.after_unanswered_turns:
            return _Outcome(reply, Handoff(ActorKind.rule, f"{turns} replies in a row without an answer"), 0)
        if asked.trigger == "no_answer":  # the apology alone would promise a person: say what can be done
            reply = Reply(text=phrase("dont_know_alone", gathered.request.language), usage=reply.usage)
        return _Outcome(reply, None, turns)

    async def flag(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, reason: str) -> None:
        """Ask for a person when the assistant could not reply at all: the conversation waits in the queue."""
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get_for_update(conversation_id)
            if conversation is not None:
                await ConversationLifecycle(session, tenant_id).hand_off(
                    conversation, actor=SYSTEM, reason=reason, now=datetime.now(UTC)
                )

    async def _gather(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> _Gathered | None:
        """What the answerer needs, or None when nothing is waiting for an answer."""
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get(conversation_id)
            messages = MessageRepository(session)
            pending = ready(list(await messages.unanswered(conversation_id))) if conversation else []
            if conversation is None or not pending:
                return None
            assistant = await assistant_of(session, conversation)
            rules = rules_of(assistant.handoff_rules)
            if conversation.status in HUMAN_HELD:
                await customer_waiting(session, conversation)
            if not assistant_may_send(conversation.status, answers_while_pending=rules.answers_while_pending):
                return None
            tenant = await TenantRepository(session).get(tenant_id)
            earlier = await messages.recent(
                conversation_id, before_position=pending[0].position, limit=HISTORY_MAX_MESSAGES
            )
            unsummarized = [m for m in earlier if m.position > conversation.summarized_up_to]
            history = within_budget(unsummarized, self.runtime.settings.history_token_budget)
            language = reply_language(" ".join(m.text for m in pending), conversation.language, assistant.language)
            pictures = await pictures_of(session, conversation_id, pending) if assistant.sees_pictures else {}
            port = funnel()
            deal = (
                await port.deal_context(session, tenant_id, conversation_id, conversation.contact_id) if port else None
            )
            tools = (
                port.tools(self.database, tenant_id, conversation_id, assistant.id)
                if port and CRM_TOOLS in assistant.enabled_tools
                else None
            )
            shop = catalogue()
            catalogue_tools = (
                shop.tools(self.database, tenant_id) if shop and CATALOGUE_TOOLS in assistant.enabled_tools else None
            )
            spent = (
                await SpendingRepository(session, tenant_id).spent(assistant.id, month_of(datetime.now(UTC)))
                if assistant.monthly_budget is not None
                else 0.0
            )
            profile = assistant_profile(assistant, self.runtime.secrets, spent=spent)
            booking_port = booking()
            booking_context = (
                await booking_port.context(session, self.runtime, tenant_id, conversation_id, profile, language)
                if booking_port
                else None
            )
            request = ReplyRequest(
                tenant_id=tenant_id,
                conversation_id=conversation_id,
                assistant=profile,
                tenant_facts=tenant.facts if tenant else "",
                language=language,
                summary=conversation.summary,
                history=[turn_of(m) for m in history],
                new_messages=[turn_of(m, pictures.get(m.id, [])) for m in pending],
                deal=deal,
                funnel=tools,
                catalogue=catalogue_tools,
                booking=booking_context.tools if booking_context else None,
                guided_booking=booking_context.guided if booking_context else None,
                dialogue_instructions=booking_context.dialogue_instructions if booking_context else "",
            )
            pushes = CHANNELS[conversation.channel_type].pushes(tenant.webhook_url if tenant else None)
            handoff = (
                handoff_before_answering([m.text for m in pending], rules)
                if conversation.status == ConversationStatus.bot
                else None
            )
            return _Gathered(request, {m.id for m in pending}, pushes, conversation.channel_type, rules, handoff)

    async def _search(self, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        async with self.database.tenant_transaction(tenant_id) as session:
            return await self.runtime.retriever.search(session, tenant_id, query, limit)


HANDOFF_NOTICE = "handoff"


def _handoff_text(said: str, on_duty: bool, opening: datetime | None, now: datetime, language: str) -> str:
    """What the customer reads when the conversation goes to a person: what the assistant had to say (an
    apology, the model's own words), then what happens next (after hours: when people are back)."""
    if on_duty:
        next_step = phrase("handoff", language)
    elif opening is not None:
        next_step = phrase("handoff_after_hours", language).format(when=when_back(opening, now, language))
    else:
        next_step = phrase("handoff_nobody_on_duty", language)
    return f"{said.strip()}\n\n{next_step}" if said.strip() else next_step


def _with_person_button(buttons: list[str], language: str) -> list[str]:
    label = phrase("human_button", language)
    return buttons if label in buttons else [*buttons, label]


def _message_event(message: Message) -> dict[str, str]:
    return {
        "conversation_id": str(message.conversation_id),
        "message_id": str(message.id),
        "role": message.role.value,
    }
