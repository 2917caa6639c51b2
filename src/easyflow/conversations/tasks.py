"""Background jobs of the conversation pipeline."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.conversations.accept import REPLY_JOB
from easyflow.conversations.delivery import DELIVER_JOB, DeliveryService
from easyflow.conversations.reply import ReplyPipeline
from easyflow.conversations.summaries import SUMMARIZE_JOB, fold_into_summary
from easyflow.kit.jobs import job

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


async def _reply_gave_up(runtime: Runtime, error: Exception, *, tenant_id: str, conversation_id: str) -> None:
    reason = f"automatic reply failed after retries: {type(error).__name__}"
    await ReplyPipeline(runtime).flag(uuid.UUID(tenant_id), uuid.UUID(conversation_id), reason)


@job(
    REPLY_JOB, lock="conversation:{conversation_id}", max_attempts=5, on_give_up=_reply_gave_up, waiting_serves_all=True
)
async def reply(runtime: Runtime, *, tenant_id: str, conversation_id: str) -> None:
    await ReplyPipeline(runtime).reply(uuid.UUID(tenant_id), uuid.UUID(conversation_id))


async def _delivery_gave_up(runtime: Runtime, error: Exception, *, tenant_id: str, message_id: str) -> None:
    await DeliveryService(runtime).fail(uuid.UUID(tenant_id), uuid.UUID(message_id), str(error)[:500])


@job(DELIVER_JOB, max_attempts=8, on_give_up=_delivery_gave_up)
async def deliver(runtime: Runtime, *, tenant_id: str, message_id: str) -> None:
    await DeliveryService(runtime).deliver(uuid.UUID(tenant_id), uuid.UUID(message_id))


@job(SUMMARIZE_JOB, lock="conversation:{conversation_id}", max_attempts=3)
async def summarize(runtime: Runtime, *, tenant_id: str, conversation_id: str) -> None:
    await fold_into_summary(runtime, uuid.UUID(tenant_id), uuid.UUID(conversation_id))
