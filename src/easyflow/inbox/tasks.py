"""Background jobs of the inbox: routing the queue, presence checks, waking snoozed conversations, SLA checks,
thanking a customer for their rating, notices to staff outside the dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from easyflow.conversations.csat import CSAT_ANSWERED_JOB
from easyflow.conversations.lifecycle import ROUTE_JOB
from easyflow.db.session import enter_system_scope
from easyflow.inbox.csat import CsatAnswers
from easyflow.inbox.notices import answer_link, send_notice
from easyflow.inbox.notifications import ANSWER_LINK_JOB, SEND_NOTICE_JOB
from easyflow.inbox.presence import PRESENCE_CHECK_JOB, ROUTE_BACKLOG_JOB, check_presence
from easyflow.inbox.repository import StaffEventLog
from easyflow.inbox.routing import Router
from easyflow.inbox.sla import CHECK_SLA_JOB, SWEEP_SLA_JOB, check_conversation, sweep_due
from easyflow.inbox.snoozes import WAKE_SNOOZED_JOB, wake_due
from easyflow.kit.jobs import job

PRUNE_STAFF_EVENTS_JOB = "inbox.prune_staff_events"

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


@job(ROUTE_JOB, lock="conversation:{conversation_id}", max_attempts=5)
async def route(runtime: Runtime, *, tenant_id: str, conversation_id: str) -> None:
    await Router(runtime.database).route(uuid.UUID(tenant_id), uuid.UUID(conversation_id))


@job(ROUTE_BACKLOG_JOB, lock="inbox-backlog:{tenant_id}", max_attempts=5)
async def route_backlog(runtime: Runtime, *, tenant_id: str) -> None:
    await Router(runtime.database).route_backlog(uuid.UUID(tenant_id))


@job(PRESENCE_CHECK_JOB, max_attempts=5)
async def presence_check(runtime: Runtime, *, tenant_id: str, user_id: str) -> None:
    await check_presence(runtime, uuid.UUID(tenant_id), uuid.UUID(user_id))


@job(PRUNE_STAFF_EVENTS_JOB, cron="17 * * * *", max_attempts=1)
async def prune_staff_events(runtime: Runtime, *, timestamp: int) -> None:
    before = datetime.now(UTC) - timedelta(hours=runtime.settings.staff_events_retention_hours)
    async with runtime.database.session() as session, session.begin():
        await enter_system_scope(session)
        await StaffEventLog(session).prune(before)


@job(WAKE_SNOOZED_JOB, cron="* * * * *", max_attempts=1)
async def wake_snoozed(runtime: Runtime, *, timestamp: int) -> None:
    await wake_due(runtime)


# No lock: procrastinate holds back every job behind an earlier one of the same lock, even one scheduled for
# later, so a check waiting for its deadline would hold up the conversation's replies and routing until then.
# The check locks the conversation's row instead.
@job(CHECK_SLA_JOB, max_attempts=5)
async def check_sla(runtime: Runtime, *, tenant_id: str, conversation_id: str) -> None:
    await check_conversation(runtime, uuid.UUID(tenant_id), uuid.UUID(conversation_id))


@job(SWEEP_SLA_JOB, cron="* * * * *", max_attempts=1)
async def sweep_sla(runtime: Runtime, *, timestamp: int) -> None:
    await sweep_due(runtime)


# Under the conversation's lock, as its replies: the thanks follow the messages they answer.
@job(CSAT_ANSWERED_JOB, lock="conversation:{conversation_id}", max_attempts=5)
async def csat_answered(runtime: Runtime, *, tenant_id: str, conversation_id: str, message_id: str) -> None:
    await CsatAnswers(runtime.database).answered(
        uuid.UUID(tenant_id), uuid.UUID(conversation_id), uuid.UUID(message_id)
    )


@job(SEND_NOTICE_JOB, max_attempts=6)
async def send_staff_notice(
    runtime: Runtime, *, tenant_id: str, user_id: str, kind: str, conversation_id: str, detail: str, via: str
) -> None:
    await send_notice(
        runtime,
        tenant_id=uuid.UUID(tenant_id),
        user_id=uuid.UUID(user_id),
        kind=kind,
        conversation_id=uuid.UUID(conversation_id),
        detail=detail,
        via=via,
    )


@job(ANSWER_LINK_JOB, max_attempts=5)
async def answer_telegram_link(
    runtime: Runtime, *, tenant_id: str, channel_id: str, chat_id: int, linked: bool, language_code: str | None
) -> None:
    await answer_link(
        runtime,
        tenant_id=uuid.UUID(tenant_id),
        channel_id=uuid.UUID(channel_id),
        chat_id=chat_id,
        linked=linked,
        language_code=language_code,
    )
