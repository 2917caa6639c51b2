"""Website chat widgets: connecting one gives the page its public key and the site its identity secret.
(The widget script and its live connection are served by later work; replies wait in the conversation.)"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.channels.base import Connection, Delivery, Outgoing, register
from easyflow.kit.security import new_public_id, new_secret
from easyflow.models.conversations import DeliveryStatus

if TYPE_CHECKING:
    from easyflow.channels.schemas import WidgetChannelCreate
    from easyflow.runtime import Runtime

CHANNEL_TYPE = "widget"


class WidgetChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return False

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: WidgetChannelCreate) -> Connection:
        identity_secret = new_secret()
        origins = [str(origin).rstrip("/") for origin in request.allowed_origins]
        return Connection(
            credentials={"identity_secret": identity_secret},
            config={"allowed_origins": origins},
            public_key="wk_" + new_public_id(12),
            shown_once={"identity_secret": identity_secret},
        )

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None:
        return None

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        return Delivery(DeliveryStatus.stored)


register(WidgetChannel())
