"""The conversation pipeline: accept a customer's message (stored with its job in one transaction),
answer it with the assistant, deliver the answer. Services only flush; callers commit."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import AssistantProfile, Picture, ReplyRequest, Turn
from easyflow.agents.language import reply_language
from easyflow.agents.llm import MAX_PICTURES, summarize
from easyflow.agents.repository import AssistantRepository
from easyflow.agents.runtime import AgentRuntime
from easyflow.agents.service import assistant_profile
from easyflow.channels.base import CHANNELS, LiveChannel, Outgoing, TypingChannel
from easyflow.channels.repository import ChannelRepository
from easyflow.conversations import schemas
from easyflow.conversations.repository import (
    CONVERSATION_SLOT,
    MESSAGE_SLOT,
    ContactRepository,
    ConversationFileRepository,
    ConversationRepository,
    InboundRepository,
    MessageRepository,
)
from easyflow.db.session import scope_to_tenant
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.kit.jobs import defer, deferral
from easyflow.knowledge.retrieval import Passage
from easyflow.live.events import LIVE_CHANNEL, LiveEvent, message_payload_template, watch_key
from easyflow.live.publisher import DraftPublisher, publish
from easyflow.live.repository import LiveRepository
from easyflow.models.agents import Assistant, ModelProvider
from easyflow.models.conversations import (
    Contact,
    Conversation,
    ConversationFile,
    ConversationStatus,
    DeliveryStatus,
    Message,
    MessageRole,
)
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)
T = TypeVar("T")

REPLY_JOB = "conversations.reply"
DELIVER_JOB = "conversations.deliver"
SUMMARIZE_JOB = "conversations.summarize"
HISTORY_MAX_MESSAGES = 40
# Once this many messages lie beyond the summary, all but the newest HISTORY_MAX_MESSAGES are folded into it.
SUMMARIZE_AFTER_MESSAGES = 2 * HISTORY_MAX_MESSAGES
# A channel marks an attachment with this while its file is still being fetched (see `_ready`).
AWAITING_FILE = "awaiting_file"
# Larger pictures are named to the model but not shown (providers refuse or charge heavily for them).
MAX_PICTURE_BYTES = 5 * 1024 * 1024
# Telegram shows "typing…" for five seconds (or until the message arrives): renew it a little sooner.
TYPING_REFRESH_SECONDS = 4.0
TYPING_TIMEOUT_SECONDS = 2.0
# Without a tokenizer per provider, ~3.5 characters per token is a fair average for Russian and English.
CHARS_PER_TOKEN = 3.5


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChannelRef:
    type: str
    key: str  # "api", or a connected channel's id


@dataclass(frozen=True)
class Inbound:
    identity_kind: str
    contact_external_id: str
    text: str
    external_message_id: str
    contact_name: str | None = None
    contact_phone: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    assistant_id: uuid.UUID | None = None


class InboundService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def accept(
        self, channel: ChannelRef, inbound: Inbound, *, jobs_first: Sequence[str] = ()
    ) -> schemas.AcceptedMessage:
        """Store the message and the job that will answer it; a redelivered message is acknowledged again.
        `jobs_first` names jobs the reply must wait for (each given the tenant, conversation and message
        ids): they are queued before it under the conversation's lock, and such jobs run in queue order."""
        ids = {"tenant_id": str(self.tenant_id), "conversation_id": CONVERSATION_SLOT}
        jobs = [deferral(name, **ids, message_id=MESSAGE_SLOT) for name in jobs_first]
        watcher = watch_key(self.tenant_id, inbound.identity_kind, inbound.contact_external_id)
        accepted = await InboundRepository(self.session, self.tenant_id).accept(
            channel_type=channel.type,
            channel_key=channel.key,
            identity_kind=inbound.identity_kind,
            contact_external_id=inbound.contact_external_id,
            contact_name=inbound.contact_name,
            contact_phone=inbound.contact_phone,
            text=inbound.text,
            external_message_id=inbound.external_message_id,
            attachments=inbound.attachments,
            assistant_id=inbound.assistant_id,
            live_channel=LIVE_CHANNEL,
            live_payload=message_payload_template(CONVERSATION_SLOT, watcher),
            jobs=[*jobs, deferral(REPLY_JOB, **ids)],
        )
        if accepted.conversation_id is None or accepted.message_id is None:
            raise Unprocessable("assistant_id: no such assistant in this tenant.")
        return schemas.AcceptedMessage(
            conversation_id=accepted.conversation_id,
            message_id=accepted.message_id,
            duplicate=accepted.outcome == "duplicate",
        )


class ConversationQueries:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.conversations = ConversationRepository(session, tenant_id)
        self.messages = MessageRepository(session, tenant_id)

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
        stored = await ConversationFileRepository(self.conversations.session, self.conversations.tenant_id).content_of(
            conversation_id, file_id
        )
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


def _ready(pending: list[Message]) -> list[Message]:
    """The unanswered messages a reply may answer now: up to the first whose file is still being fetched
    (its own fetch and reply jobs are queued behind this one, so the model will see it then). The oldest
    message is always ready, so a fetch that never finished cannot hold the conversation up."""
    for index, message in enumerate(pending):
        if index > 0 and any(a.get(AWAITING_FILE) for a in message.attachments):
            return pending[:index]
    return pending


def _turn(message: Message, pictures: list[Picture] | None = None) -> Turn:
    return Turn(role=message.role.value, text=message.text, attachments=message.attachments, pictures=pictures or [])


def _within_budget(messages: list[Message], token_budget: int) -> list[Message]:
    """The newest messages whose text fits the budget, oldest first."""
    kept: list[Message] = []
    spent = 0.0
    for message in reversed(messages):
        spent += len(message.text) / CHARS_PER_TOKEN
        if spent > token_budget:
            break
        kept.append(message)
    return list(reversed(kept))


async def _while_typing(show_typing: Callable[[], Awaitable[None]], work: Awaitable[T]) -> T:
    """Await `work`, showing "typing…" now and again every TYPING_REFRESH_SECONDS until it is done (messengers
    drop the indicator after about five seconds, and a model may think for thirty)."""

    async def show() -> None:
        try:
            async with asyncio.timeout(TYPING_TIMEOUT_SECONDS):
                await show_typing()
        except Exception as error:  # cosmetic: never let it cost (or delay) the reply
            log.info("conversation.typing_failed", error_type=type(error).__name__)

    async def keep_showing() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH_SECONDS)
            await show()

    await show()  # before the work starts; renewals only come with slow answers
    indicator = asyncio.create_task(keep_showing())
    try:
        return await work
    finally:
        indicator.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await indicator


class ReplyPipeline:
    """Answers every customer message of a conversation not yet answered, in one reply.

    Jobs of one conversation run one at a time (a procrastinate lock), so messages that arrive while a
    reply is being written are all answered by the next job together; the jobs they brought find nothing
    left and end. The reply and the answered marks are written in one transaction at the end, so a crash
    in between only means the retried job writes the reply once.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def reply(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> uuid.UUID | None:
        request, pending_ids, pushes, channel_type = await self._gather(tenant_id, conversation_id)
        if request is None:
            return None
        watched_live = isinstance(CHANNELS[channel_type], LiveChannel)
        typing = await self._typing_indicator(tenant_id, conversation_id, watched_live=watched_live, pushes=pushes)
        agent = AgentRuntime(
            lambda query, limit: self._search(tenant_id, query, limit),
            timeout_seconds=self.runtime.settings.agent_timeout_seconds,
            min_offline_score=self.runtime.settings.offline_min_score,
            allow_private_urls=self.runtime.settings.allow_private_model_urls,
        )
        answering = agent.answer(request, DraftPublisher(self.database, conversation_id) if watched_live else None)
        reply = await _while_typing(typing, answering) if typing else await answering
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            conversation = await ConversationRepository(session, tenant_id).get_for_update(conversation_id)
            messages = MessageRepository(session, tenant_id)
            still_pending = [m.id for m in await messages.unanswered(conversation_id) if m.id in pending_ids]
            if conversation is None or not still_pending:
                return None
            now = _now()
            answer = await messages.add(
                Message(
                    conversation_id=conversation_id,
                    role=MessageRole.assistant,
                    text=reply.text,
                    attachments=[],
                    buttons=reply.buttons,
                    citations=[c.as_dict() for c in reply.citations],
                    usage=reply.usage.as_dict() if reply.usage else None,
                    delivery_status=DeliveryStatus.pending if pushes else DeliveryStatus.stored,
                    reply_to=[str(i) for i in still_pending],
                    created_at=now,
                )
            )
            await messages.mark_answered(still_pending, now)
            await LiveRepository(session).notify(LiveEvent(conversation_id, "message"))
            conversation.last_activity_at = now
            conversation.language = request.language
            if reply.needs_human and not conversation.needs_human:
                conversation.needs_human = True
                conversation.flag_reason = reply.flag_reason
            if pushes:
                await defer(session, DELIVER_JOB, tenant_id=str(tenant_id), message_id=str(answer.id))
            if request.assistant.provider != ModelProvider.none and (
                await messages.count_after(conversation_id, conversation.summarized_up_to) > SUMMARIZE_AFTER_MESSAGES
            ):
                await defer(session, SUMMARIZE_JOB, tenant_id=str(tenant_id), conversation_id=str(conversation_id))
            return answer.id

    async def summarize(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """Fold all but the newest turns into the conversation's rolling summary (LLM assistants only)."""
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            conversation = await ConversationRepository(session, tenant_id).get(conversation_id)
            if conversation is None:
                return
            unsummarized = list(
                await MessageRepository(session, tenant_id).after(conversation_id, conversation.summarized_up_to)
            )
            to_fold = unsummarized[:-HISTORY_MAX_MESSAGES]
            assistant = await self._assistant_of(session, tenant_id, conversation)
            if not to_fold or assistant.provider == ModelProvider.none:
                return
            previous, language, profile = (
                conversation.summary,
                conversation.language or assistant.language,
                self._profile(assistant),
            )
        summary = await summarize(
            profile,
            previous,
            [_turn(m) for m in to_fold],
            language,
            allow_private_urls=self.runtime.settings.allow_private_model_urls,
        )
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            conversation = await ConversationRepository(session, tenant_id).get_for_update(conversation_id)
            if conversation is not None and conversation.summarized_up_to < to_fold[-1].position:
                conversation.summary = summary
                conversation.summarized_up_to = to_fold[-1].position

    async def _assistant_of(self, session: AsyncSession, tenant_id: uuid.UUID, conversation: Conversation) -> Assistant:
        assistants = AssistantRepository(session, tenant_id)
        assistant = (
            await assistants.get(conversation.assistant_id) if conversation.assistant_id else None
        ) or await assistants.default()
        if assistant is None:
            raise LookupError(f"tenant {tenant_id} has no assistant")
        return assistant

    async def _typing_indicator(
        self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *, watched_live: bool, pushes: bool
    ) -> Callable[[], Awaitable[None]] | None:
        """How to show the customer that the assistant is writing, on channels that can (None elsewhere)."""
        if watched_live:
            return lambda: publish(self.database, LiveEvent(conversation_id, "typing"))
        if not pushes:
            return None
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            row = await ConversationRepository(session, tenant_id).with_contact(conversation_id)
            if row is None or row[0].channel_key == row[0].channel_type:
                return None
            conversation, contact = row
            channel = await ChannelRepository(session, tenant_id).get(uuid.UUID(conversation.channel_key))
            recipient = await ContactRepository(session, tenant_id).identity_of(contact.id, conversation.channel_type)
        handler = CHANNELS.get(conversation.channel_type)
        if channel is None or recipient is None or not isinstance(handler, TypingChannel):
            return None
        return lambda: handler.show_typing(self.runtime, channel, recipient)

    async def _gather(
        self, tenant_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> tuple[ReplyRequest | None, set[uuid.UUID], bool, str]:
        """What the answerer needs, the messages it answers, whether the reply must be pushed out, and the
        conversation's channel type."""
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            conversation = await ConversationRepository(session, tenant_id).get(conversation_id)
            messages = MessageRepository(session, tenant_id)
            pending = _ready(list(await messages.unanswered(conversation_id))) if conversation else []
            if conversation is None or not pending:
                return None, set(), False, ""
            assistant = await self._assistant_of(session, tenant_id, conversation)
            tenant = await TenantRepository(session).get(tenant_id)
            earlier = await messages.recent(
                conversation_id, before_position=pending[0].position, limit=HISTORY_MAX_MESSAGES
            )
            unsummarized = [m for m in earlier if m.position > conversation.summarized_up_to]
            history = _within_budget(unsummarized, self.runtime.settings.history_token_budget)
            language = reply_language(" ".join(m.text for m in pending), conversation.language, assistant.language)
            pictures = (
                await self._pictures(session, tenant_id, conversation_id, pending) if assistant.sees_pictures else {}
            )
            request = ReplyRequest(
                tenant_id=tenant_id,
                conversation_id=conversation_id,
                assistant=self._profile(assistant),
                tenant_facts=tenant.facts if tenant else "",
                language=language,
                summary=conversation.summary,
                history=[_turn(m) for m in history],
                new_messages=[_turn(m, pictures.get(m.id, [])) for m in pending],
            )
            pushes = CHANNELS[conversation.channel_type].pushes(tenant.webhook_url if tenant else None)
            return request, {m.id for m in pending}, pushes, conversation.channel_type

    async def _pictures(
        self, session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, messages: list[Message]
    ) -> dict[uuid.UUID, list[Picture]]:
        """The stored pictures each message carries (its attachments' `stored_file_id`), for models that see."""
        wanted = {
            message.id: [uuid.UUID(a["stored_file_id"]) for a in message.attachments if a.get("stored_file_id")]
            for message in messages
        }
        every_id = [file_id for ids in wanted.values() for file_id in ids]
        if not every_id:
            return {}
        stored = await ConversationFileRepository(session, tenant_id).pictures(
            conversation_id, every_id, max_bytes=MAX_PICTURE_BYTES, newest=MAX_PICTURES
        )
        by_id = {f.id: Picture(f.content, f.content_type) for f in stored}
        return {message_id: [by_id[i] for i in ids if i in by_id] for message_id, ids in wanted.items()}

    def _profile(self, assistant: Assistant) -> AssistantProfile:
        return assistant_profile(assistant, self.runtime.secrets)

    async def _search(self, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            return await self.runtime.retriever.search(session, tenant_id, query, limit)

    async def flag(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, reason: str) -> None:
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            conversation = await ConversationRepository(session, tenant_id).get_for_update(conversation_id)
            if conversation is not None:
                conversation.needs_human = True
                conversation.flag_reason = reason


class DeliveryService:
    """Send a stored reply through its conversation's channel; safe to run again (at-least-once)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def deliver(self, tenant_id: uuid.UUID, message_id: uuid.UUID) -> None:
        outgoing = await self._load(tenant_id, message_id)
        if outgoing is None:
            return
        channel = CHANNELS[outgoing.conversation.channel_type]
        delivery = await channel.deliver(self.runtime, outgoing)
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            await MessageRepository(session, tenant_id).set_delivery(message_id, delivery.status)
            if delivery.recipient_gone:
                await ContactRepository(session, tenant_id).mark_unreachable(outgoing.contact.id)

    async def fail(self, tenant_id: uuid.UUID, message_id: uuid.UUID, reason: str) -> None:
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            await MessageRepository(session, tenant_id).set_delivery(message_id, DeliveryStatus.failed, reason)

    async def _load(self, tenant_id: uuid.UUID, message_id: uuid.UUID) -> Outgoing | None:
        async with self.database.session() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            message = await MessageRepository(session, tenant_id).get(message_id)
            if message is None or message.delivery_status != DeliveryStatus.pending:
                return None
            row = await ConversationRepository(session, tenant_id).with_contact(message.conversation_id)
            tenant = await TenantRepository(session).get(tenant_id)
            assert row is not None and tenant is not None
            conversation, contact = row
            identity = await ContactRepository(session, tenant_id).identity_of(contact.id, conversation.channel_type)
            secret = tenant.webhook_secret_encrypted
            channel = None
            if conversation.channel_key != conversation.channel_type:
                channel = await ChannelRepository(session, tenant_id).get(uuid.UUID(conversation.channel_key))
            return Outgoing(
                message=message,
                conversation=conversation,
                contact=contact,
                contact_external_id=identity,
                tenant_webhook_url=tenant.webhook_url,
                tenant_webhook_secret=self.runtime.secrets.decrypt(secret) if secret else None,
                channel=channel,
            )
