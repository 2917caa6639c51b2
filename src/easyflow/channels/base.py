"""Connecting channels: what a tenant's `POST /api/v1/channels` produces, and the channels that can be connected.

What every channel does for the pipeline (deliver, typing, live) is the pipeline's port,
`conversations/ports.py`; adding a channel type is one module that implements it (and, when a tenant
connects it, `ConnectableChannel`) and registers itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from easyflow.conversations.ports import CHANNELS, Channel

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


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


def connectable(channel_type: str) -> ConnectableChannel:
    channel = CHANNELS[channel_type]
    assert hasattr(channel, "connect"), f"{channel_type} channels are not connected through the API"
    return channel  # type: ignore[return-value]
