"""The port through which the conversation pipeline reaches channels: what it hands a channel to send, what a
channel must do, and the registry it finds them in. The pipeline owns this interface; `channels` implements
it (and imports this module), so conversations never import a channel.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.models.channels import ChannelRecord
from easyflow.models.conversations import Contact, Conversation, ConversationStatus, DeliveryStatus, Message

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus
    external_id: str | None = None
    # The recipient can never be reached this way (blocked the bot): stop trying, mark the contact.
    recipient_gone: bool = False
    # Why it was not sent, kept on the message for the operator to read.
    error: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """What the pipeline hands a channel to send, with everything it needs already loaded."""

    message: Message
    conversation: Conversation
    contact: Contact
    contact_external_id: str | None
    tenant_webhook_url: str | None
    tenant_webhook_secret: str | None
    channel: ChannelRecord | None = None  # the connected channel (None for the API channel)
    author_name: str | None = None  # the operator who wrote it
    # An assistant's reply the assistant may no longer send (a person holds the conversation now).
    withheld: bool = False
    # The files the message carries (an operator's), with their bytes.
    files: tuple[SentFile, ...] = ()


@dataclass(frozen=True)
class SentFile:
    id: uuid.UUID
    name: str
    content_type: str
    content: bytes


class Channel(Protocol):
    type: str

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        """Whether replies are sent somewhere (a delivery job), or just stored for the customer to read."""
        ...

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery: ...


@runtime_checkable
class TypingChannel(Protocol):
    """A channel that can show "typing…" while the assistant writes."""

    async def show_typing(self, runtime: Runtime, channel: ChannelRecord, recipient: str) -> None: ...


@runtime_checkable
class LiveChannel(Protocol):
    """A channel whose customers watch the conversation live (the website widget): "typing…" and the reply
    as it is written reach them as live events rather than through a platform's API."""

    watched_live: bool


class Staffing(Protocol):
    """What the inbox knows of the people who take conversations."""

    async def anyone_on_duty(self, session: AsyncSession) -> bool:
        """Whether anyone could take a conversation now."""
        ...

    async def team_named(self, session: AsyncSession, name: str) -> uuid.UUID | None:
        """The team of that name (any case), if the tenant has one."""
        ...

    async def next_opening(self, session: AsyncSession, now: datetime) -> datetime | None:
        """When the tenant's business hours next begin, if it is closed at `now` (None: open, or no hours)."""
        ...

    async def handling_changed(
        self, session: AsyncSession, conversation: Conversation, before: ConversationStatus, now: datetime
    ) -> None:
        """The (locked) conversation's status changed from `before` (its SLA clock starts or stops)."""
        ...

    async def customer_waiting(self, session: AsyncSession, conversation: Conversation) -> None:
        """The customer wrote into a conversation a person holds, and waits for their answer."""
        ...


CHANNELS: dict[str, Channel] = {}
STAFFING: list[Staffing] = []  # the inbox registers itself (conversations never import it)


def register(channel: Channel) -> Channel:
    CHANNELS[channel.type] = channel
    return channel


async def anyone_on_duty(session: AsyncSession) -> bool:
    return any([await staffing.anyone_on_duty(session) for staffing in STAFFING])


async def team_named(session: AsyncSession, name: str) -> uuid.UUID | None:
    for staffing in STAFFING:
        team = await staffing.team_named(session, name)
        if team is not None:
            return team
    return None


async def next_opening(session: AsyncSession, now: datetime) -> datetime | None:
    for staffing in STAFFING:
        opening = await staffing.next_opening(session, now)
        if opening is not None:
            return opening
    return None


async def handling_changed(
    session: AsyncSession, conversation: Conversation, before: ConversationStatus, now: datetime
) -> None:
    for staffing in STAFFING:
        await staffing.handling_changed(session, conversation, before, now)


async def customer_waiting(session: AsyncSession, conversation: Conversation) -> None:
    for staffing in STAFFING:
        await staffing.customer_waiting(session, conversation)
