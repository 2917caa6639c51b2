"""Operators' presence: online while their live connection is heard (or they say so), offline after 60 s of
silence or when they say so. Coming online routes the waiting queue to them at once; going offline puts back
in the queue what still waited for their first reply.

Each online operator has one presence check job scheduled for just after they would fall silent: it finds
them offline (and releases their waiting conversations) or schedules itself again. It does not depend on the
API process that heard them staying alive.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.lifecycle import HUMAN_HELD
from easyflow.conversations.ports import STAFFING
from easyflow.db.session import tenant_of
from easyflow.inbox.hours import hours_of
from easyflow.inbox.repository import SILENT_AFTER, InboxRepository, TeamRepository
from easyflow.inbox.routing import Router
from easyflow.inbox.sla import CHECK_SLA_JOB, SlaClock
from easyflow.kit.jobs import defer, defer_once
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import Conversation, ConversationStatus
from easyflow.models.inbox import Presence
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

PRESENCE_CHECK_JOB = "inbox.check_presence"
ROUTE_BACKLOG_JOB = "inbox.route_backlog"
# The check runs this long after the operator would fall silent, so one that is heard again just in time stays.
CHECK_MARGIN = timedelta(seconds=1)


class PresenceService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.inbox = InboxRepository(session, tenant_id)

    async def heard(self, user_id: uuid.UUID, chosen: Presence | None = None) -> Presence:
        """The operator's live connection (or their own setting) was heard now; their presence after it."""
        now = datetime.now(UTC)
        before, after = await self.inbox.heard_from(user_id, now, chosen)
        if after != before:
            announce(self.session, self.tenant_id, user_id, after)
        tenant = str(self.tenant_id)
        if after == Presence.online and before != Presence.online:
            await defer_once(self.session, ROUTE_BACKLOG_JOB, queueing_lock=f"backlog:{tenant}", tenant_id=tenant)
        if after == Presence.offline and before != Presence.offline:
            await defer_once(
                self.session,
                PRESENCE_CHECK_JOB,
                queueing_lock=f"presence-now:{tenant}:{user_id}",
                tenant_id=tenant,
                user_id=str(user_id),
            )
        elif after != Presence.offline:
            await defer_once(
                self.session,
                PRESENCE_CHECK_JOB,
                queueing_lock=f"presence:{tenant}:{user_id}",
                schedule_at=now + SILENT_AFTER + CHECK_MARGIN,
                tenant_id=tenant,
                user_id=str(user_id),
            )
        return after


def announce(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, presence: Presence) -> None:
    queue_staff_event(session, tenant_id, "presence.updated", {"user_id": str(user_id), "presence": presence.value})


async def check_presence(runtime: Runtime, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Offline now (silent, or said so): release what waited for them. Still there: check again later."""
    now = datetime.now(UTC)
    async with runtime.database.tenant_transaction(tenant_id) as session:
        inbox = InboxRepository(session)
        presence = await inbox.presence_of(user_id, now)
        last_seen = await inbox.last_seen(user_id)
        if presence != Presence.offline:
            assert last_seen is not None
            await defer_once(
                session,
                PRESENCE_CHECK_JOB,
                queueing_lock=f"presence:{tenant_id}:{user_id}",
                schedule_at=last_seen + SILENT_AFTER + CHECK_MARGIN,
                tenant_id=str(tenant_id),
                user_id=str(user_id),
            )
            return
        if last_seen is not None and last_seen < now - SILENT_AFTER:
            announce(session, tenant_id, user_id, Presence.offline)  # fell silent: nobody said it yet
    await Router(runtime.database).release(tenant_id, user_id, "the assigned operator went offline before answering")


class InboxStaffing:
    """Tells the conversation pipeline whether anyone is on duty and when the business opens (for what the
    handoff notice promises) and which team the model named; runs the SLA clock as people take conversations
    and let them go."""

    async def anyone_on_duty(self, session: AsyncSession) -> bool:
        return await InboxRepository(session).anyone_online(datetime.now(UTC))

    async def team_named(self, session: AsyncSession, name: str) -> uuid.UUID | None:
        team = await TeamRepository(session).named(name)
        return team.id if team else None

    async def next_opening(self, session: AsyncSession, now: datetime) -> datetime | None:
        hours = hours_of(await TenantRepository(session).get(tenant_of(session)))
        opening = hours.next_opening(now) if hours else None
        return opening.astimezone(hours.zone) if hours and opening and opening > now else None

    async def handling_changed(
        self, session: AsyncSession, conversation: Conversation, before: ConversationStatus, now: datetime
    ) -> None:
        clock = SlaClock(session, conversation.tenant_id)
        held_before, held_now = before in HUMAN_HELD, conversation.status in HUMAN_HELD
        if held_now and not conversation.sla_running:  # handed over, or reopened without its clock yet
            await clock.start(conversation, now)
        elif held_before and not held_now:
            await clock.stop(conversation, now)
        elif before == ConversationStatus.snoozed:
            await clock.check(conversation, now)  # woke: the customer may be waiting again

    async def customer_waiting(self, session: AsyncSession, conversation: Conversation) -> None:
        # The check takes the conversation's lock in a job of its own: the caller only read it.
        await defer(session, CHECK_SLA_JOB, tenant_id=str(conversation.tenant_id), conversation_id=str(conversation.id))


STAFFING.append(InboxStaffing())
