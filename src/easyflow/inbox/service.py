"""What staff do with a conversation: take it, assign, transfer, snooze, resolve, reopen, give it back to the
assistant (`ConversationHandling`), and answer the customer or leave a note (`OperatorReplies`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations import schemas as conversation_schemas
from easyflow.conversations.delivery import DELIVER_JOB
from easyflow.conversations.files import ChatFile
from easyflow.conversations.lifecycle import Actor, ConversationLifecycle
from easyflow.conversations.ports import CHANNELS, LiveChannel
from easyflow.conversations.queries import ConversationQueries
from easyflow.conversations.repository import ConversationFileRepository, ConversationRepository, MessageRepository
from easyflow.conversations.schemas import Attachment
from easyflow.conversations.typing_indicator import ShowTyping, typing_indicator
from easyflow.inbox import schemas
from easyflow.inbox.csat import CsatRequests
from easyflow.inbox.notifications import notify_staff
from easyflow.inbox.repository import InboxRepository, TeamRepository
from easyflow.inbox.sla import SlaClock
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.kit.jobs import defer
from easyflow.live.events import LiveEvent
from easyflow.live.repository import LiveRepository
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import Conversation, ConversationStatus, DeliveryStatus, Message, MessageRole
from easyflow.models.tenancy import Role
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.repository import MembershipRepository, TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

# A person writing is told at most this often, however often their client says so.
TYPING_EVERY = parse("1 per 3 seconds")
_NOT_FOUND = "No such conversation in this tenant."
# `@anna` (the part of a colleague's e-mail before the @) or `@anna@example.com`, not inside an address.
_MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


class ConversationHandling:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.conversations = ConversationRepository(session, principal.tenant_id)
        self.lifecycle = ConversationLifecycle(session, principal.tenant_id)

    async def update(
        self, conversation_id: uuid.UUID, changes: conversation_schemas.ConversationUpdate
    ) -> conversation_schemas.ConversationRead:
        conversation = await self.conversations.get_for_update(conversation_id)
        if conversation is None:
            raise NotFound(_NOT_FOUND)
        assigning = "assignee_id" in changes.model_fields_set
        if assigning and changes.assignee_id is not None:
            await self._check_can_hold(changes.assignee_id)
        if "team_id" in changes.model_fields_set and changes.team_id != conversation.team_id:
            await self._move_to_team(conversation, changes.team_id, assigning=assigning)
        if changes.snoozed_until is not None and changes.status != ConversationStatus.snoozed:
            raise Unprocessable("snoozed_until: only with status `snoozed`.")
        status = changes.status or _status_after_assigning(conversation, changes.assignee_id, assigning=assigning)
        if assigning:
            assignee: uuid.UUID | None = changes.assignee_id
        elif status == ConversationStatus.open:
            # Taking it: it stays with whoever holds it, else it becomes the caller's.
            assignee = conversation.assignee_id or self.principal.user_id
            if conversation.status != ConversationStatus.open and self.principal.user_id is not None:
                assignee = self.principal.user_id
        elif status == ConversationStatus.pending and conversation.status in (
            ConversationStatus.resolved,
            ConversationStatus.bot,
        ):
            assignee = None  # into the queue
        else:
            assignee = conversation.assignee_id
        resolving = status == ConversationStatus.resolved and conversation.status != ConversationStatus.resolved
        held_by = conversation.assignee_id
        changed = await self.lifecycle.change(
            conversation,
            status,
            actor=Actor.person(self.principal.user_id),
            reason=changes.reason,
            assignee=assignee,
            snoozed_until=changes.snoozed_until,
        )
        if resolving and changed:
            await CsatRequests(self.session, self.principal.tenant_id).ask(conversation, datetime.now(UTC))
        if assignee is not None and assignee not in (held_by, self.principal.user_id):
            # Given to a colleague: it waits for them, who may not be looking at the dashboard.
            await notify_staff(self.session, self.principal.tenant_id, assignee, "waiting", conversation.id)
        if changes.labels is not None and list(dict.fromkeys(changes.labels)) != conversation.labels:
            conversation.labels = list(dict.fromkeys(changes.labels))
            await self.session.flush()
            if not changed:
                queue_staff_event(
                    self.session,
                    self.principal.tenant_id,
                    "conversation.updated",
                    {"conversation_id": str(conversation.id), "labels": conversation.labels},
                )
        return await ConversationQueries(self.session, self.principal.tenant_id).get(conversation_id)

    async def _move_to_team(self, conversation: Conversation, team_id: uuid.UUID | None, *, assigning: bool) -> None:
        """For another team: whoever held it, if not of that team, lets it go back to the queue (for the team)."""
        teams = TeamRepository(self.session, self.principal.tenant_id)
        if team_id is not None and await teams.get(team_id) is None:
            raise Unprocessable("team_id: no such team in this tenant.")
        conversation.team_id = team_id
        holder = conversation.assignee_id
        if team_id is None or holder is None or assigning or await teams.is_member(team_id, holder):
            await self.session.flush()
            return
        await self.lifecycle.change(
            conversation,
            ConversationStatus.pending,
            actor=Actor.person(self.principal.user_id),
            reason="transferred to a team",
            assignee=None,
        )

    async def _check_can_hold(self, user_id: uuid.UUID) -> None:
        membership = await MembershipRepository(self.session, self.principal.tenant_id).for_user(user_id)
        if membership is None or not membership.role.at_least(Role.operator):
            raise Unprocessable("assignee_id: not an operator (or above) of this tenant.")


def _status_after_assigning(
    conversation: Conversation, assignee: uuid.UUID | None, *, assigning: bool
) -> ConversationStatus:
    """The status an assignment alone leads to: a person assigned to a conversation nobody holds yet has it
    waiting for them (`pending`); one taken from a person who held it goes back to the queue."""
    current = conversation.status
    if not assigning:
        return current
    if assignee is None:
        return ConversationStatus.pending if current == ConversationStatus.open else current
    if current in (ConversationStatus.bot, ConversationStatus.resolved):
        return ConversationStatus.pending
    return current


class OperatorReplies:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.tenant_id = principal.tenant_id
        self.conversations = ConversationRepository(session, self.tenant_id)
        self.messages = MessageRepository(session, self.tenant_id)

    async def send(self, conversation_id: uuid.UUID, body: schemas.OperatorMessage) -> conversation_schemas.MessageRead:
        """A reply to the customer through the conversation's channel, or (`private`) a note for colleagues.
        Writing to the customer in a conversation nobody holds takes it: it becomes `open`, with the writer."""
        return await self._write(conversation_id, body.text, private=body.private)

    async def send_file(
        self, conversation_id: uuid.UUID, file: ChatFile, caption: str, *, private: bool
    ) -> conversation_schemas.MessageRead:
        """A file (with an optional caption) to the customer, or among colleagues in a note, as `send`."""
        sent = await self._write(conversation_id, caption, private=private, attachments=[file.attachment])
        await ConversationFileRepository(self.session, self.tenant_id).add(file.stored(conversation_id))
        return sent

    async def _write(
        self, conversation_id: uuid.UUID, text: str, *, private: bool, attachments: Sequence[Attachment] = ()
    ) -> conversation_schemas.MessageRead:
        conversation = await self.conversations.get_for_update(conversation_id)
        if conversation is None:
            raise NotFound(_NOT_FOUND)
        now = datetime.now(UTC)
        pushes = False
        if not private:
            await self._take_for_reply(conversation, now)
            tenant = await TenantRepository(self.session).get(self.tenant_id)
            pushes = CHANNELS[conversation.channel_type].pushes(tenant.webhook_url if tenant else None)
            waited_since = await self.messages.oldest_unanswered_at(conversation_id)
            await self.messages.mark_all_answered(conversation_id, now)
            await SlaClock(self.session, self.tenant_id).person_replied(conversation, now, waited_since)
            if self.principal.user_id in (None, conversation.assignee_id):
                conversation.assignee_replied_at = conversation.assignee_replied_at or now
            conversation.last_activity_at = now
        # An API key writes in the name of the person who holds the conversation.
        user_id = self.principal.user_id or conversation.assignee_id
        message = await self.messages.add(
            Message(
                conversation_id=conversation_id,
                role=MessageRole.operator,
                text=text,
                attachments=[attachment.stored() for attachment in attachments],
                buttons=[],
                citations=[],
                author_id=user_id,
                private=private,
                delivery_status=DeliveryStatus.pending if pushes else DeliveryStatus.stored,
                reply_to=[],
                created_at=now,
            )
        )
        if not private:
            await LiveRepository(self.session).notify(LiveEvent(conversation_id, "message"))
        if pushes:
            await defer(self.session, DELIVER_JOB, tenant_id=str(self.tenant_id), message_id=str(message.id))
        queue_staff_event(
            self.session,
            self.tenant_id,
            "message.created",
            {
                "conversation_id": str(conversation_id),
                "message_id": str(message.id),
                "role": MessageRole.operator.value,
                "private": private,
                "author_id": str(user_id) if user_id else None,
            },
        )
        if private:
            await self._notify_mentioned(message, user_id)
        return conversation_schemas.MessageRead.model_validate(message)

    async def typing(
        self, conversation_id: uuid.UUID, body: schemas.OperatorTyping, runtime: Runtime
    ) -> ShowTyping | None:
        """A person is writing in the conversation: a `typing` staff event, and (unless it is a note) how to show
        the customer "typing…" once the caller's transaction has ended (None where the channel cannot)."""
        conversation = await self.conversations.get(conversation_id)
        if conversation is None:
            raise NotFound(_NOT_FOUND)
        writer = self.principal.user_id or "api-key"
        if await runtime.rate_limits.acquire(TYPING_EVERY, f"typing:{conversation_id}:{writer}"):
            return None  # said a moment ago: the event and "typing…" it brought still stand
        queue_staff_event(
            self.session,
            self.tenant_id,
            "typing",
            {
                "conversation_id": str(conversation_id),
                "role": MessageRole.operator.value,
                "user_id": str(self.principal.user_id) if self.principal.user_id else None,
                "private": body.private,
            },
        )
        if body.private or conversation.status == ConversationStatus.resolved:
            return None
        tenant = await TenantRepository(self.session).get(self.tenant_id)
        channel = CHANNELS[conversation.channel_type]
        return await typing_indicator(
            runtime,
            self.tenant_id,
            conversation_id,
            watched_live=isinstance(channel, LiveChannel),
            pushes=channel.pushes(tenant.webhook_url if tenant else None),
        )

    async def _notify_mentioned(self, note: Message, author_id: uuid.UUID | None) -> None:
        """A `mention` staff event and notice for each member a note names (`@anna` or `@anna@example.com`)."""
        handles = {handle.lower().rstrip(".") for handle in _MENTION.findall(note.text)}
        if not handles:
            return
        for user_id in await InboxRepository(self.session, self.tenant_id).members_named(handles):
            if user_id != author_id:
                queue_staff_event(
                    self.session,
                    self.tenant_id,
                    "mention",
                    {
                        "user_id": str(user_id),
                        "conversation_id": str(note.conversation_id),
                        "message_id": str(note.id),
                        "author_id": str(author_id) if author_id else None,
                    },
                )
                await notify_staff(self.session, self.tenant_id, user_id, "mention", note.conversation_id, note.text)

    async def _take_for_reply(self, conversation: Conversation, now: datetime) -> None:
        if conversation.status == ConversationStatus.open:
            return
        holder = self.principal.user_id or conversation.assignee_id
        if holder is None:
            raise Unprocessable(
                "An API key has no person to hold the conversation: assign it first "
                "(PATCH /api/v1/conversations/{id} with `assignee_id`), or write as a signed-in operator."
            )
        await ConversationLifecycle(self.session, self.tenant_id).change(
            conversation,
            ConversationStatus.open,
            actor=Actor.person(self.principal.user_id),
            reason="a person wrote to the customer",
            assignee=holder,
            now=now,
        )
