"""The generic API channel: a tenant's own system posts customer messages and reads or receives replies.

Replies are pushed to the tenant's webhook URL when one is set, signed so the receiver can trust them
(`kit.webhooks`), with `Idempotency-Key: <message id>` (the same on every retry: deliveries are at-least-once).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from easyflow.conversations.ports import Delivery, Outgoing, register
from easyflow.kit.webhooks import post_signed
from easyflow.models.conversations import DeliveryStatus

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

CHANNEL_TYPE = "api"
IDENTITY_KIND = "api"


def webhook_body(outgoing: Outgoing, public_url: str) -> bytes:
    message = outgoing.message
    files = f"{public_url.rstrip('/')}/api/v1/conversations/{message.conversation_id}/files"
    payload = {
        "event": "message.created",
        "tenant_id": str(message.tenant_id),
        "conversation_id": str(message.conversation_id),
        "contact": {"external_id": outgoing.contact_external_id, "name": outgoing.contact.name},
        "message": {
            "id": str(message.id),
            "role": message.role.value,
            "text": message.text,
            "buttons": message.buttons,
            # What an assistant message announces: `handoff`, `csat_request` (its buttons are the ratings 1 to
            # 5: post the chosen one back as the customer's message), `csat_thanks`; null for ordinary replies.
            "notice": message.notice,
            "citations": message.citations,
            # An operator's files: fetched with the tenant's API key, like every other /api/v1 route.
            "attachments": [
                {"name": f.name, "content_type": f.content_type, "size": len(f.content), "url": f"{files}/{f.id}"}
                for f in outgoing.files
            ],
            "author": {"id": str(message.author_id), "name": outgoing.author_name} if message.author_id else None,
            "created_at": message.created_at.isoformat(),
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class ApiChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return bool(tenant_webhook_url)

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        if not outgoing.tenant_webhook_url or not outgoing.tenant_webhook_secret:
            return Delivery(DeliveryStatus.stored)
        await post_signed(
            runtime.http,
            outgoing.tenant_webhook_url,
            secret=outgoing.tenant_webhook_secret,
            body=webhook_body(outgoing, runtime.settings.public_url),
            idempotency_key=str(outgoing.message.id),
            allow_private=runtime.settings.allow_private_webhooks,
        )
        return Delivery(DeliveryStatus.sent)


register(ApiChannel())
