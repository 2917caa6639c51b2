"""Who holds a conversation: the one place its status and assignee change (the customer's own messages
change them inside `easyflow_accept_message`, by the same rules).

    bot ──handoff──▶ pending ──a person takes it──▶ open ──▶ resolved
      ▲                 │  ▲                          │
      └──given back─────┘  └──unassigned / snoozed and the customer wrote──┘

Invariants, kept here and by the database:
- the assistant sends nothing into a `pending`, `open` or `snoozed` conversation (`assistant_may_send`), except
  while `pending` when its rules let it keep answering, and the handoff notice that announces the change;
- a conversation is `open` only with an assignee (also a CHECK constraint);
- every change is appended to the conversation's event log and published as a `conversation.updated` staff
  event; a conversation put in the queue gets a routing job that finds it a person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.audit import service as audit
from easyflow.conversations.ports import handling_changed
from easyflow.conversations.repository import ConversationEventRepository, ConversationRepository, MessageRepository
from easyflow.kit.errors import Unprocessable
from easyflow.kit.jobs import defer
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import ActorKind, Conversation, ConversationEvent, ConversationStatus

# Finds a person for a conversation waiting in the queue (the inbox's routing; named, not imported).
ROUTE_JOB = "inbox.route"
HUMAN_HELD = frozenset({ConversationStatus.pending, ConversationStatus.open, ConversationStatus.snoozed})


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: uuid.UUID | None = None

    @classmethod
    def person(cls, user_id: uuid.UUID | None) -> Actor:
        """Staff acting through the API: a signed-in user, or an API key (no user)."""
        return cls(ActorKind.operator, user_id)


CUSTOMER = Actor(ActorKind.customer)
ASSISTANT = Actor(ActorKind.assistant)
RULE = Actor(ActorKind.rule)
SYSTEM = Actor(ActorKind.system)


class _Keep:
    """The assignee stays as it is."""


KEEP = _Keep()


def assistant_may_send(status: ConversationStatus, *, answers_while_pending: bool) -> bool:
    return status == ConversationStatus.bot or (status == ConversationStatus.pending and answers_while_pending)


# Enough of why the assistant handed over to recognise it; the conversation's event log keeps the whole.
AUDITED_REASON_CHARS = 200


class ConversationLifecycle:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None = None) -> None:
        self.session = session
        self.conversations = ConversationRepository(session, tenant_id)
        self.tenant_id = self.conversations.tenant_id
        self.events = ConversationEventRepository(session, self.tenant_id)
        self.messages = MessageRepository(session, self.tenant_id)

    async def change(
        self,
        conversation: Conversation,
        to: ConversationStatus,
        *,
        actor: Actor,
        reason: str | None = None,
        assignee: uuid.UUID | _Keep | None = KEEP,
        snoozed_until: datetime | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Move the (locked) conversation to `to` with `assignee`; False when nothing changed."""
        now = now or datetime.now(UTC)
        before_status, before_assignee = conversation.status, conversation.assignee_id
        new_assignee = before_assignee if isinstance(assignee, _Keep) else assignee
        if to == ConversationStatus.bot:
            new_assignee = None
        if to == ConversationStatus.open and new_assignee is None:
            raise Unprocessable("A conversation is open only with a person holding it: give it an assignee.")
        if to == ConversationStatus.snoozed and snoozed_until is not None and snoozed_until <= now:
            raise Unprocessable("snoozed_until: must be in the future.")
        if (
            to == before_status
            and new_assignee == before_assignee
            and (to != ConversationStatus.snoozed or snoozed_until == conversation.snoozed_until)
        ):
            return False

        if to != before_status:
            conversation.status = to
            conversation.status_changed_at = now
        if new_assignee != before_assignee:
            conversation.assignee_id = new_assignee
            conversation.assignee_replied_at = None
            if new_assignee is not None:
                conversation.last_assignee_id = new_assignee
        conversation.snoozed_until = snoozed_until if to == ConversationStatus.snoozed else None
        conversation.resolved_at = now if to == ConversationStatus.resolved else None
        if to == ConversationStatus.pending and before_status == ConversationStatus.bot:
            conversation.handoff_reason = reason
        if to == ConversationStatus.bot:
            conversation.unanswered_turns = 0
            if before_status in HUMAN_HELD:
                # What the customer wrote while a person had it was theirs to answer, not the assistant's now.
                await self.messages.mark_all_answered(conversation.id, now)

        await self.events.add(
            ConversationEvent(
                conversation_id=conversation.id,
                actor_kind=actor.kind.value,
                actor_id=actor.user_id,
                kind=_kind_of(before_status, to, before_assignee, new_assignee),
                from_status=before_status.value,
                to_status=to.value,
                assignee_id=new_assignee,
                reason=reason,
                created_at=now,
            )
        )
        queue_staff_event(
            self.session,
            self.tenant_id,
            "conversation.updated",
            {
                "conversation_id": str(conversation.id),
                "status": to.value,
                "assignee_id": str(new_assignee) if new_assignee else None,
                "previous_status": before_status.value,
                "previous_assignee_id": str(before_assignee) if before_assignee else None,
                "labels": list(conversation.labels),
                "team_id": str(conversation.team_id) if conversation.team_id else None,
            },
        )
        if to != before_status:
            await handling_changed(self.session, conversation, before_status, now)
        if to == ConversationStatus.pending and new_assignee is None:
            await defer(self.session, ROUTE_JOB, tenant_id=str(self.tenant_id), conversation_id=str(conversation.id))
        await self.session.flush()
        return True

    async def hand_off(self, conversation: Conversation, *, actor: Actor, reason: str, now: datetime) -> bool:
        """From the assistant to the queue (a no-op when a person already has it or it is waiting); in the
        audit log too, as the handoffs of a workspace are something its owners answer for."""
        if conversation.status != ConversationStatus.bot:
            return False
        changed = await self.change(conversation, ConversationStatus.pending, actor=actor, reason=reason, now=now)
        if changed:
            await audit.record(
                self.session,
                self.tenant_id,
                audit.Actor("system", label=actor.kind.value),
                "conversation.handed_off",
                target=("conversation", conversation.id),
                details={"reason": reason[:AUDITED_REASON_CHARS]},
            )
        return changed


def _kind_of(
    before: ConversationStatus, to: ConversationStatus, before_assignee: uuid.UUID | None, assignee: uuid.UUID | None
) -> str:
    """The event's name, as the event log shows it."""
    if to == ConversationStatus.resolved:
        return "resolved"
    if to == ConversationStatus.snoozed:
        return "snoozed"
    if before == ConversationStatus.resolved:
        return "reopened"
    if to == ConversationStatus.bot:
        return "given_back"
    if before == ConversationStatus.snoozed:
        return "woke"
    if before == ConversationStatus.bot and to == ConversationStatus.pending and assignee is None:
        return "handed_off"
    if to == ConversationStatus.open and before != ConversationStatus.open:
        return "taken"
    if assignee != before_assignee:
        return "assigned" if before_assignee is None else "unassigned" if assignee is None else "transferred"
    return to.value
