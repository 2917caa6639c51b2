"""Signed POSTs to addresses a tenant chose (the API channel's reply webhook, a partner's webhook).

Each body is signed so the receiver can trust it: `X-Easyflow-Signature: sha256=<hex HMAC-SHA256(secret,
"<timestamp>.<raw body>")>` with the timestamp in `X-Easyflow-Timestamp`, and carries an `Idempotency-Key` that
stays the same on every retry (deliveries are at-least-once). The address is checked again at sending time and
the request goes to the very addresses checked (`kit.destinations`): the name may resolve elsewhere now.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from easyflow.kit.destinations import Destination, check_public_destination
from easyflow.kit.errors import Unprocessable

USER_AGENT = "easyflow-webhooks/1"


class WebhookRejected(Exception):
    """The endpoint did not accept the delivery (or may not be called); the job retries with backoff."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def post_signed(
    http: httpx.AsyncClient,
    url: str,
    *,
    secret: str,
    body: bytes,
    idempotency_key: str,
    allow_private: bool,
    field: str = "url",
) -> httpx.Response:
    """POST the JSON `body` to `url`, signed with `secret`; WebhookRejected unless it answers 2xx. `http` (the
    runtime's shared client) serves unpinned requests only: a pinned one gets a connection of its own."""
    try:
        destination = await check_public_destination(url, allow_private=allow_private, field=field)
    except Unprocessable as error:
        raise WebhookRejected(error.detail) from error
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Easyflow-Signature": sign(secret, timestamp, body),
        "X-Easyflow-Timestamp": timestamp,
        "Idempotency-Key": idempotency_key,
        "User-Agent": USER_AGENT,
    }
    if destination.pinned:
        async with httpx.AsyncClient(timeout=http.timeout, follow_redirects=False) as own:
            response = await _post_to_first_reachable(own, destination, body, headers)
    else:
        response = await _post_to_first_reachable(http, destination, body, headers)
    if response.status_code >= 300:
        raise WebhookRejected(f"webhook answered HTTP {response.status_code}")
    return response


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
