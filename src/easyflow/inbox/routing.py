"""Finding a person for a conversation waiting in the queue, and putting conversations back in it when the
person they waited for has gone.

Each conversation is routed in a transaction of its own: the conversation's row is locked (no conversation
is assigned twice), and automatic assignment within a tenant is serialized by a transaction lock, so each
counts what every earlier one assigned (no operator goes over capacity).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog

from easyflow.conversations.lifecycle import RULE, ConversationLifecycle
from easyflow.conversations.repository import ConversationRepository
from easyflow.db.database import Database
from easyflow.inbox.notifications import notify_staff
from easyflow.inbox.repository import InboxRepository
from easyflow.inbox.sla import SlaClock
from easyflow.models.conversations import ConversationStatus

log = structlog.get_logger(__name__)

BACKLOG_BATCH = 50


class Router:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def route(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> uuid.UUID | None:
        """Assign the conversation, if it still waits in the queue, to an online operator under capacity (of
        its team, when it has one; its last operator first, when it was reopened and they are there); the
        assignee, or None."""
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get_for_update(conversation_id)
            if conversation is None or conversation.status != ConversationStatus.pending:
                return None
            # Reopened by the customer's message (in SQL, even for the person who resolved it), its SLA clock
            # starts here; before the tenant's routing lock, which it need not hold up.
            await SlaClock(session, tenant_id).start(conversation, datetime.now(UTC))
            if conversation.assignee_id is not None:
                return None
            inbox = InboxRepository(session)
            await inbox.lock_routing()
            now = datetime.now(UTC)
            operator = None
            team = conversation.team_id
            if conversation.last_assignee_id is not None:
                operator = await inbox.free_operator(now, only=conversation.last_assignee_id, team=team)
            if operator is None:
                operator = await inbox.free_operator(now, team=team)
            if operator is None:
                log.info("inbox.nobody_to_route", tenant_id=str(tenant_id), conversation_id=str(conversation_id))
                return None
            await ConversationLifecycle(session).change(
                conversation,
                ConversationStatus.pending,
                actor=RULE,
                reason="assigned automatically: online, with room for it",
                assignee=operator,
                now=now,
            )
            await inbox.mark_assigned(operator, now)
            await notify_staff(session, tenant_id, operator, "waiting", conversation_id)
            return operator

    async def route_backlog(self, tenant_id: uuid.UUID) -> int:
        """Route the queue oldest first until it is empty or nobody has room; how many were assigned."""
        assigned = 0
        while True:
            async with self.database.tenant_transaction(tenant_id) as session:
                waiting = await InboxRepository(session).queue(BACKLOG_BATCH)
            if not waiting:
                return assigned
            for conversation_id in waiting:
                if await self.route(tenant_id, conversation_id) is None:
                    async with self.database.tenant_transaction(tenant_id) as session:
                        if not await _someone_has_room(InboxRepository(session)):
                            return assigned
                else:
                    assigned += 1
            if len(waiting) < BACKLOG_BATCH:
                return assigned

    async def release(self, tenant_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> list[uuid.UUID]:
        """Put back in the queue what waits for this operator's first reply (they went offline); the ids."""
        released: list[uuid.UUID] = []
        async with self.database.tenant_transaction(tenant_id) as session:
            lifecycle = ConversationLifecycle(session)
            conversations = ConversationRepository(session)
            for conversation_id in await InboxRepository(session).waiting_for(user_id):
                conversation = await conversations.get_for_update(conversation_id)
                if (
                    conversation is None
                    or conversation.assignee_id != user_id
                    or conversation.status != ConversationStatus.pending
                    or conversation.assignee_replied_at is not None
                ):
                    continue
                await lifecycle.change(
                    conversation, ConversationStatus.pending, actor=RULE, reason=reason, assignee=None
                )
                released.append(conversation_id)
        return released


async def _someone_has_room(inbox: InboxRepository) -> bool:
    return await inbox.free_operator(datetime.now(UTC)) is not None
