"""Waking snoozed conversations whose time has come: they wait for a person again (`pending`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from easyflow.conversations.lifecycle import SYSTEM, ConversationLifecycle
from easyflow.conversations.repository import ConversationRepository
from easyflow.db.session import enter_system_scope
from easyflow.inbox.repository import SnoozeDirectory
from easyflow.models.conversations import ConversationStatus

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

WAKE_SNOOZED_JOB = "inbox.wake_snoozed"
WAKE_BATCH = 500


async def wake_due(runtime: Runtime) -> int:
    """Wake every conversation snoozed until now or earlier; how many woke."""
    woke = 0
    while True:
        now = datetime.now(UTC)
        async with runtime.database.session() as session, session.begin():
            await enter_system_scope(session)
            due = await SnoozeDirectory(session).due(now, WAKE_BATCH)
        for tenant_id, conversation_id in due:
            async with runtime.database.tenant_transaction(tenant_id) as session:
                conversation = await ConversationRepository(session).get_for_update(conversation_id)
                if (
                    conversation is None
                    or conversation.status != ConversationStatus.snoozed
                    or conversation.snoozed_until is None
                    or conversation.snoozed_until > now
                ):
                    continue
                await ConversationLifecycle(session).change(
                    conversation, ConversationStatus.pending, actor=SYSTEM, reason="the snooze ended", assignee=None
                )
                woke += 1
        if len(due) < WAKE_BATCH:
            return woke
