"""The interface every channel implements, and the registry the pipeline finds them in.

Adding a channel type is one module that implements `Channel` and registers itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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


class Channel(Protocol):
    type: str

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery: ...


CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    CHANNELS[channel.type] = channel
    return channel
