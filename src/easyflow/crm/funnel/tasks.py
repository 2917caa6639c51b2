"""Background jobs of the funnel: applying rules to an event, the search for quiet conversations, the stages'
reminders and the tasks that came due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from easyflow.crm.funnel.follow_ups import send_due_follow_ups
from easyflow.crm.funnel.member_tasks import remind_due
from easyflow.crm.funnel.rules import (
    APPLY_RULES_JOB,
    FUNNEL_QUEUE,
    apply_event,
    event_from_job,
    find_quiet_conversations,
)
from easyflow.kit.jobs import job

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

FIND_QUIET_JOB = "crm.find_quiet_conversations"
FOLLOW_UPS_JOB = "crm.send_follow_ups"
DUE_TASKS_JOB = "crm.remind_due_tasks"


# No lock: rules of different events may run side by side; a rule's run row settles a repeated event, and
# the deal's row lock settles two moves of one deal.
@job(APPLY_RULES_JOB, max_attempts=5, queue=FUNNEL_QUEUE)
async def apply_rules(runtime: Runtime, *, tenant_id: str, event: str, key: str, **subject: Any) -> None:
    await apply_event(runtime.database, uuid.UUID(tenant_id), event_from_job(event, key, subject))


@job(FIND_QUIET_JOB, cron="*/5 * * * *", max_attempts=1)
async def find_quiet(runtime: Runtime, *, timestamp: int) -> None:
    await find_quiet_conversations(runtime.database, datetime.now(UTC))


@job(FOLLOW_UPS_JOB, cron="* * * * *", max_attempts=1)
async def send_follow_ups(runtime: Runtime, *, timestamp: int) -> None:
    await send_due_follow_ups(runtime.database, datetime.now(UTC))


@job(DUE_TASKS_JOB, cron="* * * * *", max_attempts=1)
async def remind_due_tasks(runtime: Runtime, *, timestamp: int) -> None:
    async with runtime.database.session() as session, session.begin():
        await remind_due(session, datetime.now(UTC))
