"""Sending a stored reply through its conversation's channel; safe to run again (at-least-once)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.agents.handoff import rules_of
from easyflow.conversations.context import assistant_of
from easyflow.conversations.lifecycle import assistant_may_send
from easyflow.conversations.ports import CHANNELS, Outgoing, SentFile
from easyflow.conversations.repository import (
    ChannelRecordRepository,
    ContactRepository,
    ConversationFileRepository,
    ConversationRepository,
    MessageRepository,
)
from easyflow.conversations.schemas import attachments_of
from easyflow.models.conversations import ConversationStatus, DeliveryStatus, MessageRole
from easyflow.tenancy.repository import TenantRepository, UserRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

DELIVER_JOB = "conversations.deliver"
# Why an assistant's reply was not sent: a person took the conversation between its writing and its sending.
WITHHELD = "withheld: a person took over the conversation before this reply was sent"


class DeliveryService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def deliver(self, tenant_id: uuid.UUID, message_id: uuid.UUID) -> None:
        outgoing = await self._load(tenant_id, message_id)
        if outgoing is None:
            return
        if outgoing.withheld:
            await self.fail(tenant_id, message_id, WITHHELD)
            return
        channel = CHANNELS[outgoing.conversation.channel_type]
        delivery = await channel.deliver(self.runtime, outgoing)  # outside any transaction: it may take seconds
        async with self.database.tenant_transaction(tenant_id) as session:
            await MessageRepository(session).set_delivery(message_id, delivery.status, external_id=delivery.external_id)
            if delivery.recipient_gone:
                await ContactRepository(session).mark_unreachable(outgoing.contact.id)

    async def fail(self, tenant_id: uuid.UUID, message_id: uuid.UUID, reason: str) -> None:
        async with self.database.tenant_transaction(tenant_id) as session:
            await MessageRepository(session).set_delivery(message_id, DeliveryStatus.failed, reason)

    async def _load(self, tenant_id: uuid.UUID, message_id: uuid.UUID) -> Outgoing | None:
        async with self.database.tenant_transaction(tenant_id) as session:
            message = await MessageRepository(session).get(message_id)
            if message is None or message.delivery_status != DeliveryStatus.pending:
                return None
            row = await ConversationRepository(session).with_contact(message.conversation_id)
            tenant = await TenantRepository(session).get(tenant_id)
            assert row is not None and tenant is not None
            conversation, contact = row
            identity = await ContactRepository(session).identity_of(contact.id, conversation.channel_type)
            secret = tenant.webhook_secret_encrypted
            channel = None
            if conversation.channel_key != conversation.channel_type:
                channel = await ChannelRecordRepository(session).get(uuid.UUID(conversation.channel_key))
            withheld = False
            # Only a conversation the assistant no longer holds needs its rules read (the usual case does not).
            if (
                message.role == MessageRole.assistant
                and message.notice is None
                and conversation.status != ConversationStatus.bot
            ):
                rules = rules_of((await assistant_of(session, conversation)).handoff_rules)
                withheld = not assistant_may_send(
                    conversation.status, answers_while_pending=rules.answers_while_pending
                )
            author = await UserRepository(session).get(message.author_id) if message.author_id else None
            files = ConversationFileRepository(session)
            sent_files = []
            for attachment in attachments_of(message.attachments):
                stored = (
                    await files.content_of(conversation.id, attachment.stored_file_id)
                    if attachment.stored_file_id
                    else None
                )
                if stored is not None:
                    sent_files.append(SentFile(stored.id, stored.name, stored.content_type, stored.content))
            return Outgoing(
                files=tuple(sent_files),
                message=message,
                withheld=withheld,
                author_name=(author.name or author.email.split("@")[0]) if author else None,
                conversation=conversation,
                contact=contact,
                contact_external_id=identity,
                tenant_webhook_url=tenant.webhook_url,
                tenant_webhook_secret=self.runtime.secrets.decrypt(secret) if secret else None,
                channel=channel,
            )
