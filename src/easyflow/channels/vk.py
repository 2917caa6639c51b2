"""VK community messages: events in through the Callback API, replies out through `messages.send`, against
`EASYFLOW_VK_API_URL` (https://api.vk.com/method, a proxy, or the test double) with the API version pinned.

Connecting checks the community token (`groups.getById`), and takes the community's confirmation code (given, or
asked for with `groups.getCallbackConfirmationCode`) and a secret key (given, or made here and shown once, to be
entered in the community's Callback API settings). The webhook `/webhooks/vk/{channel_id}` answers VK's
`confirmation` request with that code; every other event must carry the secret (compared in constant time,
401 otherwise, nothing stored) and is answered with the plain text `ok` once it is committed. `message_new` is
deduped by the message's id, so VK's re-deliveries are answered once.

Sending: `random_id` is derived from our message's id and the part's index, so a retried delivery job is not
doubled by VK; text is split at VK's 4,096 characters; buttons go as an inline keyboard; 20 requests a second per
community token (VK's limit) through the runtime's shared limiter, error 6 (too many requests) waited out, error
901 (the customer does not allow the community's messages) marks the customer unreachable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels.base import Connection
from easyflow.channels.repository import ChannelDirectory
from easyflow.channels.service import credentials_of
from easyflow.channels.telegram import split_message
from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.conversations.ports import Delivery, Outgoing, register
from easyflow.conversations.repository import ContactRepository
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.errors import InvalidInput, NotFound, ServiceUnavailable, Unauthorized, Unprocessable
from easyflow.kit.schemas import json_without_nul
from easyflow.kit.security import constant_time_equals, new_secret
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.conversations import DeliveryStatus

if TYPE_CHECKING:
    from easyflow.channels.schemas import VkChannelCreate
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

CHANNEL_TYPE = "vk"
IDENTITY_KIND = "vk"
API_VERSION = "5.199"
MESSAGE_LIMIT = 4096
# VK shows at most 40 characters of a button's label, and an inline keyboard holds at most 10 buttons.
LABEL_LIMIT = 40
INLINE_BUTTONS = 10
MAX_TOO_MANY_RETRIES = 5
# Error codes of the VK API this channel acts on.
TOO_MANY_REQUESTS = 6
AUTHORIZATION_FAILED = 5
CANNOT_SEND_TO_USER = 901
_PER_COMMUNITY = parse("20/second")


class VkError(Exception):
    """An `{"error": {"error_code", "error_msg"}}` answer of the VK API."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"VK error {code}: {message}")
        self.code = code


class VkUnreachable(ServiceUnavailable):
    """VK (or the configured API URL) did not answer."""


async def call(runtime: Runtime, method: str, token: str, group_id: str, params: dict[str, Any]) -> Any:
    """One VK API method (form-encoded POST, the token in the body so it stays out of URLs and logs), within
    the community token's rate limit (VK counts every method); its `response`, or VkError."""
    await _throttle(runtime, group_id)
    url = f"{runtime.settings.vk_api_url}/{method}"
    data = {key: str(value) for key, value in params.items()} | {"access_token": token, "v": API_VERSION}
    response = await runtime.http.post(url, data=data)
    try:
        body = response.json()
    except ValueError as error:
        raise VkError(0, f"not JSON (HTTP {response.status_code})") from error
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error_body = body["error"]
        raise VkError(int(error_body.get("error_code", 0)), str(error_body.get("error_msg", "")))
    if not isinstance(body, dict) or "response" not in body:
        raise VkError(0, f"no response (HTTP {response.status_code})")
    return body["response"]


def random_id(message_id: uuid.UUID, part: int) -> int:
    """The `random_id` of one part of our message: the same on every retry, so VK sends it once. VK takes a
    signed 32-bit integer; 0 would turn its check off."""
    digest = hashlib.sha256(f"{message_id}:{part}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1) + 1


def keyboard(buttons: list[str]) -> str | None:
    """An inline keyboard, a button a row (VK sends the label back as the customer's message text)."""
    if not buttons:
        return None
    rows = [
        [{"action": {"type": "text", "label": label[:LABEL_LIMIT], "payload": json.dumps({"b": index})}}]
        for index, label in enumerate(buttons[:INLINE_BUTTONS])
    ]
    return json.dumps({"inline": True, "buttons": rows}, ensure_ascii=False)


async def _throttle(runtime: Runtime, group_id: str) -> None:
    # Several workers send for one community: the count is the runtime's shared one, so sleep until a slot frees.
    while True:
        wait = await runtime.rate_limits.acquire(_PER_COMMUNITY, f"vk:{group_id}")
        if not wait:
            return
        await asyncio.sleep(wait)


class VkChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return True

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: VkChannelCreate) -> Connection:
        group_id = str(request.group_id)
        try:
            groups = await call(runtime, "groups.getById", request.access_token, group_id, {"group_id": group_id})
            # 5.194 and later answer {"groups": [...]}, earlier versions a bare list.
            found = groups.get("groups", []) if isinstance(groups, dict) else groups
            if not found or str(found[0].get("id")) != group_id:
                raise Unprocessable("group_id: this access token belongs to another community.")
            code = request.confirmation_code
            if code is None:
                confirmation = await call(
                    runtime,
                    "groups.getCallbackConfirmationCode",
                    request.access_token,
                    group_id,
                    {"group_id": group_id},
                )
                code = str(confirmation["code"])
        except VkError as error:
            if error.code == AUTHORIZATION_FAILED:
                raise Unprocessable("access_token: VK does not accept this community token.") from error
            raise Unprocessable(
                f"VK refused: {error}. Give `confirmation_code` from the community's Callback API settings "
                "if the token may not manage the community."
            ) from error
        except (httpx.HTTPError, KeyError, TypeError, AttributeError) as error:
            raise VkUnreachable(f"VK could not be reached: {type(error).__name__}.") from error
        made_secret = request.secret is None
        secret = request.secret or new_secret(24).replace("-", "").replace("_", "")
        return Connection(
            credentials={"access_token": request.access_token, "secret": secret},
            config={
                "group_id": int(group_id),
                "name": str(found[0].get("name", "")),
                "confirmation_code": code,
                "webhook_url": f"{runtime.settings.public_url}/webhooks/vk/{channel_id}",
            },
            shown_once={"secret": secret} if made_secret else None,
        )

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None:
        """Nothing to undo at VK: the Callback API server is set in the community's settings by its admin."""

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        # Files are not sent through VK yet, and VK refuses an empty message: one with no text fails at once
        # rather than being refused eight times by the delivery job.
        if outgoing.channel is None or outgoing.contact_external_id is None or not outgoing.message.text.strip():
            return Delivery(DeliveryStatus.failed)
        token = credentials_of(outgoing.channel, runtime)["access_token"]
        group_id = str(outgoing.channel.config["group_id"])
        parts = split_message(outgoing.message.text, MESSAGE_LIMIT)
        last_id = None
        for index, part in enumerate(parts):
            params: dict[str, Any] = {
                "peer_id": outgoing.contact_external_id,
                "random_id": random_id(outgoing.message.id, index),
                "message": part,
            }
            markup = keyboard(outgoing.message.buttons) if index == len(parts) - 1 else None
            if markup:
                params["keyboard"] = markup
            try:
                last_id = await self._send(runtime, token, group_id, params)
            except VkError as error:
                if error.code == CANNOT_SEND_TO_USER:
                    return Delivery(DeliveryStatus.failed, recipient_gone=True)
                raise
        return Delivery(DeliveryStatus.sent, external_id=str(last_id) if last_id is not None else None)

    async def _send(self, runtime: Runtime, token: str, group_id: str, params: dict[str, Any]) -> Any:
        """`messages.send`; VK's "too many requests" (the token also used elsewhere) waited out a few times
        (after that the delivery job retries later)."""
        retries = 0
        while True:
            try:
                return await call(runtime, "messages.send", token, group_id, params)
            except VkError as error:
                retries += 1
                if error.code != TOO_MANY_REQUESTS or retries > MAX_TOO_MANY_RETRIES:
                    raise
                await asyncio.sleep(1)


def _message_of(body: dict[str, Any]) -> dict[str, Any] | None:
    event_object = body.get("object")
    message = event_object.get("message") if isinstance(event_object, dict) else None
    return message if isinstance(message, dict) else None


def inbound_of(message: dict[str, Any]) -> Inbound | None:
    """The pipeline's message from a `message_new` object (API 5.103 and later: `object.message`), or None for
    one not from a person (a community's own echo). A pressed keyboard button sends its label as the text
    and our `payload` beside it; a button pressed with no label left is taken by its payload."""
    sender = message.get("from_id")
    message_id = message.get("id")
    if not isinstance(sender, int) or sender <= 0 or not isinstance(message_id, int):
        return None
    text = message.get("text")
    if not isinstance(text, str):
        text = ""
    payload = message.get("payload")
    if not text and isinstance(payload, str):
        text = payload
    return Inbound(
        identity_kind=IDENTITY_KIND,
        contact_external_id=str(message.get("peer_id", sender)),
        text=text,
        external_message_id=f"m{message_id}",
    )


async def accept_vk_event(session: AsyncSession, runtime: Runtime, channel_id: uuid.UUID, body: dict[str, Any]) -> str:
    """What to answer VK with (in plain text): the confirmation code, or `ok` once the event is stored in the
    caller's transaction. Unauthenticated events raise (401) before anything is stored."""
    await enter_system_scope(session)
    channel = await ChannelDirectory(session).get(channel_id)
    if channel is None or channel.type != CHANNEL_TYPE:
        raise NotFound("No such VK channel.")
    await scope_to_tenant(session, channel.tenant_id)
    if body.get("group_id") != channel.config.get("group_id"):
        raise Unauthorized("The event is for another community.")
    if body.get("type") == "confirmation":
        # VK asks before it sends anything: the code is shown in the community's settings, not a secret.
        return str(channel.config.get("confirmation_code", ""))
    expected = credentials_of(channel, runtime).get("secret", "")
    secret = body.get("secret")
    if not isinstance(secret, str) or not expected or not constant_time_equals(secret, expected):
        raise Unauthorized("The event's secret is missing or wrong.")
    if body.get("type") == "message_new" and channel.status != ChannelStatus.paused:
        await _accept_message(session, channel, body)
    elif body.get("type") in ("message_allow", "message_deny"):
        await _note_permission(session, channel, body)
    return "ok"


async def _note_permission(session: AsyncSession, channel: ChannelRecord, body: dict[str, Any]) -> None:
    """A customer allowed or denied the community's messages: they are (un)reachable from now on. One we never
    heard from has no contact yet, and needs none."""
    event_object = body.get("object")
    user_id = event_object.get("user_id") if isinstance(event_object, dict) else None
    if not isinstance(user_id, int):
        raise InvalidInput(f"{body.get('type')} without object.user_id.")
    contacts = ContactRepository(session, channel.tenant_id)
    contact = await contacts.by_identity(IDENTITY_KIND, str(user_id))
    if contact is None:
        return
    if body.get("type") == "message_deny":
        await contacts.mark_unreachable(contact.id)
    else:
        await contacts.mark_reachable(contact.id)


async def _accept_message(session: AsyncSession, channel: ChannelRecord, body: dict[str, Any]) -> None:
    message = _message_of(body)
    if message is None:
        raise InvalidInput("message_new without object.message.")
    # VK passes U+0000 through from customers and PostgreSQL cannot store it: dropped, not refused (VK would
    # only send the event again).
    inbound = inbound_of(json_without_nul(message))
    if inbound is None:
        return
    inbound = replace(inbound, assistant_id=channel.assistant_id)
    await InboundService(session, channel.tenant_id).accept(ChannelRef(type=CHANNEL_TYPE, key=str(channel.id)), inbound)


register(VkChannel())
