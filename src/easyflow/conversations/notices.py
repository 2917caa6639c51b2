"""Messages the business sends a customer on its own, outside the assistant's replies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.delivery import DELIVER_JOB
from easyflow.conversations.ports import CHANNELS
from easyflow.conversations.repository import MessageRepository
from easyflow.kit.jobs import defer
from easyflow.live.events import LiveEvent
from easyflow.live.repository import LiveRepository
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import Conversation, DeliveryStatus, Message, MessageRole
from easyflow.models.tenancy import Tenant


class CustomerNotices:
    """Messages the business sends the customer without a person writing them (a rating request and its thanks,
    a funnel rule's message, a stage's reminder): stored, shown live, announced to staff and delivered like
    any reply."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.messages = MessageRepository(session, tenant_id)

    async def send(
        self,
        conversation: Conversation,
        tenant: Tenant,
        *,
        text: str,
        notice: str,
        buttons: list[str],
        reply_to: list[str],
        now: datetime,
    ) -> Message:
        pushes = CHANNELS[conversation.channel_type].pushes(tenant.webhook_url)
        message = await self.messages.add(
            Message(
                conversation_id=conversation.id,
                role=MessageRole.assistant,
                text=text,
                attachments=[],
                buttons=buttons,
                citations=[],
                delivery_status=DeliveryStatus.pending if pushes else DeliveryStatus.stored,
                reply_to=reply_to,
                notice=notice,
                created_at=now,
            )
        )
        await LiveRepository(self.session).notify(LiveEvent(conversation.id, "message"))
        queue_staff_event(
            self.session,
            self.tenant_id,
            "message.created",
            {"conversation_id": str(conversation.id), "message_id": str(message.id), "role": message.role.value},
        )
        if pushes:
            await defer(self.session, DELIVER_JOB, tenant_id=str(self.tenant_id), message_id=str(message.id))
        return message
