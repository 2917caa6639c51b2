"""Viber bots through the REST bot API (https://developers.viber.com/docs/api/rest-bot-api/) at
`EASYFLOW_VIBER_API_URL`: every call is a POST to `/pa/<method>` with the bot's token in `X-Viber-Auth-Token`,
answered 200 with `status` (0 is success) and `status_message`.

Connecting checks the token (`get_account_info`) and points the bot's webhook at
`{EASYFLOW_PUBLIC_URL}/webhooks/viber/{channel_id}`. Viber signs every callback with
`X-Viber-Content-Signature`, the hex HMAC-SHA256 of the raw body keyed with the token: nothing is read from a
callback before that signature matches. `message_token` dedupes a redelivered message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from limits import parse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.phrases import phrase
from easyflow.agents.repository import AssistantRepository
from easyflow.channels.base import Connection
from easyflow.channels.repository import ChannelDirectory
from easyflow.channels.service import credentials_of
from easyflow.channels.telegram import split_message
from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.conversations.ports import Delivery, Outgoing, register
from easyflow.conversations.repository import ContactRepository
from easyflow.conversations.schemas import Attachment
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.errors import InvalidInput, NotFound, ServiceUnavailable, Unauthorized, Unprocessable
from easyflow.kit.schemas import json_without_nul
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.conversations import Contact, Conversation, DeliveryStatus, Message

if TYPE_CHECKING:
    from easyflow.channels.schemas import ViberChannelCreate
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

CHANNEL_TYPE = "viber"
IDENTITY_KIND = "viber"  # the pipeline finds a contact's address by the channel type
# Viber's documented maximum length of a text message.
MESSAGE_LIMIT = 7000
# A keyboard holds at most 24 buttons; a row is 6 columns wide.
MAX_BUTTONS = 24
SENDER_NAME_LIMIT = 28
MIN_API_VERSION = 1
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started", "message"]
# Status codes of Viber's answers that mean this customer cannot be written to: 5 not registered,
# 6 not subscribed (unsubscribed or never subscribed), 11 no suitable device.
GONE_STATUSES = frozenset({5, 6, 11})
RATE_LIMITED = 12
MAX_RATE_RETRIES = 3
# Viber publishes no per-second quota (it answers status 12 when exceeded): pace like Telegram's documented
# limits, counted in the runtime's shared store so several workers stay under them together.
_PER_USER = parse("1/second")
_PER_BOT = parse("30/second")


class TokenNotKnown(Unprocessable):
    """Viber refused the token (status 2): no such bot."""


class WebhookRefused(Unprocessable):
    """Viber knows the bot but would not take the webhook address."""


class ViberUnreachable(ServiceUnavailable):
    """Viber (or the configured API address) did not answer."""


@dataclass(frozen=True)
class ViberAnswer:
    status: int
    status_message: str
    body: dict[str, Any]


def signature(token: str, body: bytes) -> str:
    """What Viber puts in X-Viber-Content-Signature: hex HMAC-SHA256 of the raw body, keyed with the token."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


async def call(runtime: Runtime, token: str, method: str, payload: dict[str, Any]) -> ViberAnswer:
    url = f"{runtime.settings.viber_api_url}/pa/{method}"
    try:
        response = await runtime.http.post(url, json=payload, headers={"X-Viber-Auth-Token": token})
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ViberUnreachable(f"Viber could not be reached: {type(error).__name__}.") from error
    if not isinstance(body, dict) or not isinstance(body.get("status"), int):
        raise ViberUnreachable(f"Viber answered {method} with something that is not its API's answer.")
    return ViberAnswer(body["status"], str(body.get("status_message", "")), body)


def keyboard(buttons: list[str]) -> dict[str, Any] | None:
    """Quick replies as a keyboard of reply buttons: pressing one sends its label as the customer's message.
    Short labels (a rating's 1 to 5) share a row, phrases take a row each."""
    if not buttons:
        return None
    labels = buttons[:MAX_BUTTONS]
    columns = 6 // len(labels) if len(labels) <= 6 and all(len(label) <= 3 for label in labels) else 6
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "Buttons": [
            {"ActionType": "reply", "ActionBody": label, "Text": label, "Columns": max(columns, 1), "Rows": 1}
            for label in labels
        ],
    }


def sender_of(channel: ChannelRecord) -> dict[str, str]:
    sender = {"name": channel.name[:SENDER_NAME_LIMIT]}
    avatar = channel.config.get("avatar")
    return sender | ({"avatar": avatar} if avatar else {})


async def _throttle(runtime: Runtime, bot_key: str, receiver: str) -> None:
    for item, key in ((_PER_BOT, f"viber:{bot_key}"), (_PER_USER, f"viber:{bot_key}:{receiver}")):
        while True:  # other processes take slots too: sleep until one frees, then try again
            wait = await runtime.rate_limits.acquire(item, key)
            if not wait:
                break
            await asyncio.sleep(wait)


class ViberChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return True

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: ViberChannelCreate) -> Connection:
        url = f"{runtime.settings.public_url}/webhooks/viber/{channel_id}"
        account = await call(runtime, request.token, "get_account_info", {})
        if account.status != 0:
            raise TokenNotKnown(f"token: Viber does not accept this bot token ({account.status_message}).")
        hooked = await call(
            runtime, request.token, "set_webhook", {"url": url, "event_types": EVENT_TYPES, "send_name": True}
        )
        if hooked.status != 0:
            raise WebhookRefused(
                f"Viber refused the webhook {url}: {hooked.status_message}. "
                "EASYFLOW_PUBLIC_URL must be a public https address."
            )
        config: dict[str, Any] = {"username": str(account.body.get("name") or ""), "webhook_url": url}
        if request.avatar:
            config["avatar"] = str(request.avatar)
        return Connection(credentials={"token": request.token}, config=config)

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None:
        """An empty url removes the webhook (the bot stops calling us)."""
        try:
            await call(runtime, credentials["token"], "set_webhook", {"url": ""})
        except (ViberUnreachable, KeyError) as error:
            log.warning("viber.disconnect_failed", channel_id=str(channel_id), error_type=type(error).__name__)

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        if outgoing.channel is None or outgoing.contact_external_id is None:
            return Delivery(DeliveryStatus.failed)
        token = credentials_of(outgoing.channel, runtime)["token"]
        receiver = outgoing.contact_external_id
        # Files are not sent yet: say so in the text rather than drop them silently.
        names = ", ".join(file.name for file in outgoing.files)
        text = outgoing.message.text + (f"\n[{names}]" if names else "")
        parts = split_message(text, MESSAGE_LIMIT)
        last_token = None
        for index, part in enumerate(parts):
            payload: dict[str, Any] = {
                "receiver": receiver,
                "min_api_version": MIN_API_VERSION,
                "sender": sender_of(outgoing.channel),
                "type": "text",
                "text": part,
            }
            markup = keyboard(outgoing.message.buttons) if index == len(parts) - 1 else None
            if markup is not None:
                payload["keyboard"] = markup
            answer = await self._send(runtime, token, str(outgoing.channel.id), receiver, payload)
            if answer.status in GONE_STATUSES:
                return Delivery(DeliveryStatus.failed, recipient_gone=True)
            if answer.status != 0:
                raise ViberUnreachable(f"Viber refused the message: {answer.status} {answer.status_message}.")
            last_token = answer.body.get("message_token")
        return Delivery(DeliveryStatus.sent, external_id=str(last_token) if last_token is not None else None)

    async def _send(
        self, runtime: Runtime, token: str, bot_key: str, receiver: str, payload: dict[str, Any]
    ) -> ViberAnswer:
        """Within our pacing, and again after a short wait when Viber still says its rate limit is exceeded."""
        for attempt in range(MAX_RATE_RETRIES + 1):
            await _throttle(runtime, bot_key, receiver)
            answer = await call(runtime, token, "send_message", payload)
            if answer.status != RATE_LIMITED or attempt == MAX_RATE_RETRIES:
                return answer
            await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable: the loop returns on its last attempt")


def parse_callback(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise InvalidInput("Not JSON.") from error
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        raise InvalidInput("Not a Viber callback: no event.")
    cleaned: dict[str, Any] = json_without_nul(body)  # PostgreSQL cannot store U+0000
    return cleaned


def _is_webhook_check(raw: bytes) -> bool:
    try:
        return parse_callback(raw)["event"] == "webhook"
    except InvalidInput:
        return False


async def handle_callback(
    session: AsyncSession, runtime: Runtime, channel_id: uuid.UUID, signature_header: str | None, raw: bytes
) -> dict[str, Any] | None:
    """Verify and act on one callback in the caller's transaction; the JSON to answer with, if any (the
    welcome message to `conversation_started`)."""
    await enter_system_scope(session)
    channel = await ChannelDirectory(session).get(channel_id)
    if channel is None or channel.type != CHANNEL_TYPE:
        if _is_webhook_check(raw):
            # Viber checks the address while `set_webhook` is still being answered, before the channel is
            # stored: the check is answered (it stores nothing), or Viber would refuse the address.
            return None
        raise NotFound("No such Viber channel.")
    await scope_to_tenant(session, channel.tenant_id)
    token = credentials_of(channel, runtime).get("token", "")
    if not signature_header or not token or not hmac.compare_digest(signature_header, signature(token, raw)):
        raise Unauthorized("The X-Viber-Content-Signature header is missing or wrong.")
    body = parse_callback(raw)
    event = body["event"]
    if event == "message":
        await _accept_message(session, channel, body)
    elif event == "conversation_started":
        return await _welcome(session, channel, body)
    elif event in ("subscribed", "unsubscribed"):
        user = body.get("user") if event == "subscribed" else {"id": body.get("user_id")}
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            await _set_unreachable(session, channel, user["id"], unreachable=event == "unsubscribed")
    elif event in ("delivered", "seen", "failed"):
        await _note_status(session, channel, body)
    # `webhook` (Viber checking the address) and events we do not use are acknowledged as they are.
    return None


async def _accept_message(session: AsyncSession, channel: ChannelRecord, body: dict[str, Any]) -> None:
    sender, message, token = body.get("sender"), body.get("message"), body.get("message_token")
    if not isinstance(sender, dict) or not isinstance(message, dict) or not isinstance(sender.get("id"), str):
        raise InvalidInput("Not a Viber message: no sender or message.")
    if channel.status == ChannelStatus.paused or token is None:
        return
    kind = message.get("type")
    text = str(message.get("text") or "")
    attachments: list[Attachment] = []
    if kind in ("picture", "file", "video") and isinstance(message.get("media"), str):
        attachments.append(
            Attachment(
                kind="photo" if kind == "picture" else "document",
                name=str(message.get("file_name") or ""),
                size=message.get("size") if isinstance(message.get("size"), int) else None,
                mime_type="image/jpeg" if kind == "picture" else "",
                # Viber's link to the file (it expires): kept so an operator can open it while it lasts.
                file_id=message["media"][:2000],
                not_stored="Viber files are not downloaded yet.",
            )
        )
    if not text and not attachments:
        return  # stickers, locations, contacts: nothing the assistant can answer yet
    await InboundService(session, channel.tenant_id).accept(
        ChannelRef(type=CHANNEL_TYPE, key=str(channel.id)),
        Inbound(
            identity_kind=IDENTITY_KIND,
            contact_external_id=sender["id"],
            contact_name=str(sender.get("name") or ""),
            text=text or "[attachment]",
            external_message_id=f"m{token}",
            attachments=attachments,
            assistant_id=channel.assistant_id,
        ),
    )


async def _welcome(session: AsyncSession, channel: ChannelRecord, body: dict[str, Any]) -> dict[str, Any] | None:
    """Viber shows the answer to `conversation_started` as the first message of a chat the customer opened
    (it may be sent even to someone not subscribed): the assistant's greeting."""
    if channel.status == ChannelStatus.paused:
        return None
    assistants = AssistantRepository(session)
    assistant = await assistants.get(channel.assistant_id) if channel.assistant_id else await assistants.default()
    user = body.get("user")
    language = str(user.get("language") or "ru")[:2] if isinstance(user, dict) else "ru"
    greeting = assistant.greeting if assistant is not None and assistant.greeting else phrase("greeting", language)
    return {"sender": sender_of(channel), "type": "text", "text": greeting}


async def _set_unreachable(session: AsyncSession, channel: ChannelRecord, user_id: str, *, unreachable: bool) -> None:
    contact = await ContactRepository(session, channel.tenant_id).by_identity(IDENTITY_KIND, user_id)
    if contact is not None:
        await session.execute(
            update(Contact)
            .where(Contact.tenant_id == channel.tenant_id, Contact.id == contact.id)
            .values(unreachable=unreachable)
        )


async def _note_status(session: AsyncSession, channel: ChannelRecord, body: dict[str, Any]) -> None:
    """A message we sent (found by Viber's message_token) was delivered, seen or failed. Delivered and seen
    confirm `sent` (the message table keeps no receipt states), failed keeps Viber's reason on the message."""
    token = body.get("message_token")
    if token is None:
        return
    if body["event"] == "failed":
        await session.execute(
            update(Message)
            .where(
                Message.tenant_id == channel.tenant_id,
                Message.external_id == str(token),
                # Only this bot's messages: another channel's platform may reuse the same id.
                Message.conversation_id.in_(
                    select(Conversation.id).where(
                        Conversation.tenant_id == channel.tenant_id, Conversation.channel_key == str(channel.id)
                    )
                ),
            )
            .values(delivery_status=DeliveryStatus.failed, delivery_error=f"Viber: {body.get('desc') or 'failed'}")
        )
    else:
        log.info("viber.receipt", channel_id=str(channel.id), receipt=body["event"])


register(ViberChannel())
