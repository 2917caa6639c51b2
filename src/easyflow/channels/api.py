"""The generic API channel: a tenant's own system posts customer messages and reads or receives replies.

Replies are pushed to the tenant's webhook URL when one is set, signed so the receiver can trust them:
`X-Easyflow-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with the timestamp in
`X-Easyflow-Timestamp`, and `Idempotency-Key: <message id>` (the same on every retry: deliveries are
at-least-once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING

import httpx

from easyflow.conversations.ports import Delivery, Outgoing, register
from easyflow.kit.destinations import Destination, check_public_destination
from easyflow.kit.errors import Unprocessable
from easyflow.models.conversations import DeliveryStatus

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

CHANNEL_TYPE = "api"
IDENTITY_KIND = "api"


class WebhookRejected(Exception):
    """The tenant's endpoint did not accept the delivery; the job retries with backoff."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


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


async def _post_to_first_reachable(
    client: httpx.AsyncClient, destination: Destination, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST to the destination's addresses in turn until one connects (as a browser falls back from IPv6)."""
    unreachable: httpx.HTTPError | None = None
    for url in destination.urls:
        try:
            return await client.post(
                url, content=body, headers={**headers, **destination.headers}, extensions=destination.extensions
            )
        except httpx.ConnectError as error:
            unreachable = error
        except httpx.HTTPError as error:
            raise WebhookRejected(f"webhook unreachable: {type(error).__name__}") from error
    raise WebhookRejected(f"webhook unreachable: {type(unreachable).__name__}") from unreachable


class ApiChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return bool(tenant_webhook_url)

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        if not outgoing.tenant_webhook_url or not outgoing.tenant_webhook_secret:
            return Delivery(DeliveryStatus.stored)
        try:  # again at sending time, and sent to the address checked: the name may resolve elsewhere now
            destination = await check_public_destination(
                outgoing.tenant_webhook_url, allow_private=runtime.settings.allow_private_webhooks
            )
        except Unprocessable as error:
            raise WebhookRejected(error.detail) from error
        body = webhook_body(outgoing, runtime.settings.public_url)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Easyflow-Signature": sign(outgoing.tenant_webhook_secret, timestamp, body),
            "X-Easyflow-Timestamp": timestamp,
            "Idempotency-Key": str(outgoing.message.id),
            "User-Agent": "easyflow-webhooks/1",
        }
        if destination.pinned:
            async with httpx.AsyncClient(timeout=runtime.http.timeout, follow_redirects=False) as own:
                response = await _post_to_first_reachable(own, destination, body, headers)
        else:
            response = await _post_to_first_reachable(runtime.http, destination, body, headers)
        if response.status_code >= 300:
            raise WebhookRejected(f"webhook answered HTTP {response.status_code}")
        return Delivery(DeliveryStatus.sent)


register(ApiChannel())
