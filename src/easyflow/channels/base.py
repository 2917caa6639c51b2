"""The interface every channel implements, and the registry the pipeline finds them in.

Adding a channel type is one module that implements `Channel` and registers itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from easyflow.models.channels import ChannelRecord
from easyflow.models.conversations import Contact, Conversation, DeliveryStatus, Message

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus
    external_id: str | None = None
    # The recipient can never be reached this way (blocked the bot): stop trying, mark the contact.
    recipient_gone: bool = False


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


class Channel(Protocol):
    type: str

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        """Whether replies are sent somewhere (a delivery job), or just stored for the customer to read."""
        ...

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery: ...


@dataclass
class Connection:
    """What connecting a channel produced: secrets to keep encrypted, public settings, a public key."""

    credentials: dict[str, str]
    config: dict[str, Any]
    public_key: str | None = None
    shown_once: dict[str, str] | None = None


class ConnectableChannel(Channel, Protocol):
    """A channel a tenant connects through `POST /api/v1/channels` (the API channel needs no connecting)."""

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: Any) -> Connection: ...

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None: ...


@runtime_checkable
class TypingChannel(Protocol):
    """A channel that can show "typing…" while the assistant writes."""

    async def show_typing(self, runtime: Runtime, channel: ChannelRecord, recipient: str) -> None: ...


@runtime_checkable
class LiveChannel(Protocol):
    """A channel whose customers watch the conversation live (the website widget): "typing…" and the reply
    as it is written reach them as live events rather than through a platform's API."""

    watched_live: bool


CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    CHANNELS[channel.type] = channel
    return channel


def connectable(channel_type: str) -> ConnectableChannel:
    channel = CHANNELS[channel_type]
    assert hasattr(channel, "connect"), f"{channel_type} channels are not connected through the API"
    return channel  # type: ignore[return-value]
