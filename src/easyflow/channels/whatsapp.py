"""WhatsApp Business Cloud API numbers, through Meta's Graph API at `EASYFLOW_WHATSAPP_API_URL`
(https://graph.facebook.com/v21.0, or the test double).

Connecting checks the phone number id and access token (`GET /{phone_number_id}`); the tenant then enters our
webhook `{EASYFLOW_PUBLIC_URL}/webhooks/whatsapp/{channel_id}` and the verify token in Meta's app settings.
Every delivery Meta posts is signed with the app secret (`X-Hub-Signature-256`), checked over the raw body
before anything is read. The message's `wamid` is the dedupe key. Replies may only be free-form within 24 hours
of the customer's last message (the customer service window); outside it WhatsApp needs an approved template,
which this channel does not send yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from limits import parse
from sqlalchemy import func, select, text

from easyflow.channels.base import Connection
from easyflow.channels.repository import ChannelDirectory
from easyflow.channels.service import credentials_of
from easyflow.channels.telegram import split_message
from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.conversations.ports import Delivery, Outgoing, register
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.errors import InvalidInput, NotFound, ServiceUnavailable, Unauthorized, Unprocessable
from easyflow.kit.schemas import json_without_nul
from easyflow.kit.security import constant_time_equals, new_secret
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.conversations import DeliveryStatus, Message, MessageRole

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from easyflow.channels.schemas import WhatsAppChannelCreate
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

CHANNEL_TYPE = "whatsapp"
IDENTITY_KIND = "whatsapp"
MESSAGE_LIMIT = 4096
MAX_REPLY_BUTTONS = 3
BUTTON_TITLE_CHARS = 20
MAX_LIST_ROWS = 10
ROW_TITLE_CHARS = 24
REPLY_ID_CHARS = 256
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
TIMEOUT_SECONDS = 15.0
# Bounds of our columns (contacts.name, messages.external_id, an E.164 phone): a delivery that exceeds them is
# not a real customer's message, and storing it would fail every time Meta retried it.
NAME_CHARS = 200
WAMID_CHARS = 200
WA_ID_CHARS = 15
WINDOW_CLOSED = (
    "not sent: more than 24 hours since the customer's last message (WhatsApp's customer service window); "
    "outside it only approved templates may be sent, which easyflow does not send yet"
)
FILES_NOT_SENT = "not sent: files are not sent over WhatsApp yet, only text"
UNREACHABLE = 131026
OUTSIDE_WINDOW = 131047
THROUGHPUT = frozenset({130429, 131056})
# Cloud API's default throughput is 80 messages a second per number; counted in the shared store so several
# workers stay under it together.
_PER_NUMBER = parse("80/second")


class CredentialsRefused(Unprocessable):
    """Graph did not accept the phone number id with this access token."""


class GraphUnreachable(ServiceUnavailable):
    """Graph did not answer, or answered something that is not Graph's."""


class SendLater(Exception):
    """WhatsApp asked us to slow down (130429, 131056) or did not answer: the delivery job retries later."""


def _url(runtime: Runtime, phone_number_id: str, path: str = "") -> str:
    return f"{runtime.settings.whatsapp_api_url}/{phone_number_id}{path}"


def _error_of(response: httpx.Response) -> tuple[int | None, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, f"HTTP {response.status_code}"
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message") or f"HTTP {response.status_code}")


def signature_valid(raw: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body with the app secret."""
    if not header or not header.startswith("sha256=") or not app_secret:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return constant_time_equals(header, expected)


def interactive(text: str, buttons: list[str]) -> dict[str, Any]:
    """Up to three buttons as reply buttons; more as a list (its rows are what the customer picks from)."""
    if len(buttons) <= MAX_REPLY_BUTTONS:
        action: dict[str, Any] = {
            "buttons": [
                {"type": "reply", "reply": {"id": label[:REPLY_ID_CHARS], "title": label[:BUTTON_TITLE_CHARS]}}
                for label in buttons
            ]
        }
        return {"type": "button", "body": {"text": text}, "action": action}
    rows = [{"id": label[:REPLY_ID_CHARS], "title": label[:ROW_TITLE_CHARS]} for label in buttons[:MAX_LIST_ROWS]]
    return {
        "type": "list",
        "body": {"text": text},
        "action": {"button": "Выбрать", "sections": [{"title": "Варианты", "rows": rows}]},
    }


class WhatsAppChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return True

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: WhatsAppChannelCreate) -> Connection:
        headers = {"Authorization": f"Bearer {request.access_token}"}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
                response = await http.get(_url(runtime, request.phone_number_id), headers=headers)
        except httpx.HTTPError as error:
            raise GraphUnreachable(f"WhatsApp could not be reached: {type(error).__name__}.") from error
        if response.status_code in (400, 401, 403, 404):
            _, message = _error_of(response)
            raise CredentialsRefused(f"phone_number_id/access_token: WhatsApp refused them ({message}).")
        if response.status_code != 200:
            raise GraphUnreachable(f"WhatsApp answered HTTP {response.status_code}.")
        try:
            number = response.json()
        except ValueError:
            number = None
        if not isinstance(number, dict):
            raise GraphUnreachable("WhatsApp answered something that is not the Graph API.")
        verify_token = request.verify_token or new_secret(24).replace("=", "")
        return Connection(
            credentials={
                "access_token": request.access_token,
                "app_secret": request.app_secret,
                "verify_token": verify_token,
            },
            config={
                "phone_number_id": request.phone_number_id,
                "display_phone_number": str(number.get("display_phone_number") or ""),
                "verified_name": str(number.get("verified_name") or ""),
                "webhook_url": f"{runtime.settings.public_url}/webhooks/whatsapp/{channel_id}",
            },
            shown_once={"verify_token": verify_token},
        )

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None:
        """Nothing to undo at Meta: the webhook is the app's setting, and it answers 404 once the channel is gone."""

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        if outgoing.channel is None or outgoing.contact_external_id is None:
            return Delivery(DeliveryStatus.failed)
        if not outgoing.message.text.strip():
            return Delivery(DeliveryStatus.failed, error=FILES_NOT_SENT)
        if not await _window_open(runtime, outgoing):
            return Delivery(DeliveryStatus.failed, error=WINDOW_CLOSED)
        credentials = credentials_of(outgoing.channel, runtime)
        phone_number_id = outgoing.channel.config["phone_number_id"]
        parts = split_message(outgoing.message.text, MESSAGE_LIMIT)
        buttons = outgoing.message.buttons
        last_id = None
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
            for index, part in enumerate(parts):
                body: dict[str, Any] = {"messaging_product": "whatsapp", "to": outgoing.contact_external_id}
                # Buttons go with the last part; an interactive body is capped at 1,024 characters by WhatsApp.
                if buttons and index == len(parts) - 1 and len(part) <= 1024:
                    body |= {"type": "interactive", "interactive": interactive(part, buttons)}
                else:
                    body |= {"type": "text", "text": {"body": part, "preview_url": False}}
                await _throttle(runtime, phone_number_id)
                try:
                    response = await http.post(
                        _url(runtime, phone_number_id, "/messages"),
                        json=body,
                        headers={"Authorization": f"Bearer {credentials['access_token']}"},
                    )
                except httpx.HTTPError as error:
                    raise SendLater(f"WhatsApp could not be reached: {type(error).__name__}") from error
                if response.status_code != 200:
                    code, message = _error_of(response)
                    if code in THROUGHPUT or response.status_code >= 500:
                        raise SendLater(f"WhatsApp {code}: {message}")
                    if code == UNREACHABLE:
                        return Delivery(DeliveryStatus.failed, recipient_gone=True, error=f"{code}: {message}")
                    if code == OUTSIDE_WINDOW:
                        return Delivery(DeliveryStatus.failed, error=WINDOW_CLOSED)
                    return Delivery(DeliveryStatus.failed, error=f"WhatsApp {code}: {message}"[:500])
                last_id = response.json()["messages"][0]["id"]
        return Delivery(DeliveryStatus.sent, external_id=last_id)


async def _window_open(runtime: Runtime, outgoing: Outgoing) -> bool:
    async with runtime.database.tenant_transaction(outgoing.conversation.tenant_id) as session:
        last = (
            await session.execute(
                select(func.max(Message.created_at)).where(
                    Message.tenant_id == outgoing.conversation.tenant_id,
                    Message.conversation_id == outgoing.conversation.id,
                    Message.role == MessageRole.contact,
                )
            )
        ).scalar_one_or_none()
    return last is not None and datetime.now(UTC) - last < CUSTOMER_SERVICE_WINDOW


async def _throttle(runtime: Runtime, phone_number_id: str) -> None:
    while True:
        wait = await runtime.rate_limits.acquire(_PER_NUMBER, f"wa:{phone_number_id}")
        if not wait:
            return
        await asyncio.sleep(wait)


async def channel_for_webhook(session: AsyncSession, runtime: Runtime, channel_id: uuid.UUID) -> ChannelRecord:
    """The WhatsApp channel (the session scoped to its tenant), or 404 whatever else it is."""
    await enter_system_scope(session)
    channel = await ChannelDirectory(session).get(channel_id)
    if channel is None or channel.type != CHANNEL_TYPE:
        raise NotFound("No such WhatsApp channel.")
    await scope_to_tenant(session, channel.tenant_id)
    return channel


def verify_subscription(runtime: Runtime, channel: ChannelRecord, mode: str | None, token: str | None) -> bool:
    expected = credentials_of(channel, runtime).get("verify_token", "")
    return mode == "subscribe" and bool(token) and bool(expected) and constant_time_equals(token or "", expected)


async def accept_notification(
    session: AsyncSession, runtime: Runtime, channel_id: uuid.UUID, signature: str | None, raw: bytes
) -> None:
    """Verify the delivery's signature over its raw bytes, then store its messages with their reply jobs and
    apply its statuses, in the caller's transaction (committed before Meta is answered 200)."""
    channel = await channel_for_webhook(session, runtime, channel_id)
    if not signature_valid(raw, signature, credentials_of(channel, runtime).get("app_secret", "")):
        raise Unauthorized("The X-Hub-Signature-256 header is missing or wrong.")
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise InvalidInput("The body is not JSON.") from error
    # Meta passes U+0000 through from customers and PostgreSQL cannot store it: dropped, as Telegram's.
    body = json_without_nul(body)
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        raise InvalidInput("Not a WhatsApp Business Account notification.")
    for value in _values(body, channel.config.get("phone_number_id")):
        names = {
            str(contact.get("wa_id")): str(_dict(contact, "profile").get("name") or "")[:NAME_CHARS]
            for contact in _dicts(value.get("contacts"))
        }
        if channel.status != ChannelStatus.paused:
            # One delivery may carry several messages: stored in the order the customer wrote them.
            for message in sorted(_dicts(value.get("messages")), key=_written_at):
                await _accept_message(session, channel, message, names)
        for item in _dicts(value.get("statuses")):
            await _apply_status(session, channel, item)


def _dict(item: dict[str, Any], key: str) -> dict[str, Any]:
    """`item[key]` when it is an object: a signed delivery may still hold anything where we expect one."""
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def _written_at(message: dict[str, Any]) -> int:
    stamp = str(message.get("timestamp", ""))
    return int(stamp) if stamp.isdigit() and len(stamp) < 20 else 0


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _values(body: dict[str, Any], phone_number_id: str | None) -> list[dict[str, Any]]:
    """The `messages` changes meant for this channel's number (an app may post several numbers' changes)."""
    values = []
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            if _dict(value, "metadata").get("phone_number_id") == phone_number_id:
                values.append(value)
    return values


def _text_of(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "text":
        return str(_dict(message, "text").get("body") or "")
    if kind == "interactive":
        reply = _dict(message, "interactive")
        chosen = _dict(reply, "button_reply") or _dict(reply, "list_reply")
        return str(chosen.get("title") or chosen.get("id") or "")
    if kind == "button":  # a template's quick-reply button
        return str(_dict(message, "button").get("text") or "")
    return f"[{kind}]" if isinstance(kind, str) else ""


async def _accept_message(
    session: AsyncSession, channel: ChannelRecord, message: dict[str, Any], names: dict[str, str]
) -> None:
    wa_id, wamid, text_ = str(message.get("from") or ""), str(message.get("id") or ""), _text_of(message)
    if not wa_id or not wamid or not text_ or len(wamid) > WAMID_CHARS or len(wa_id) > WA_ID_CHARS:
        log.warning("whatsapp.message_skipped", channel_id=str(channel.id), type=str(message.get("type")))
        return
    await InboundService(session, channel.tenant_id).accept(
        ChannelRef(type=CHANNEL_TYPE, key=str(channel.id)),
        Inbound(
            identity_kind=IDENTITY_KIND,
            contact_external_id=wa_id,
            contact_name=names.get(wa_id) or None,
            contact_phone="+" + wa_id if wa_id.isdigit() else None,
            text=text_[:MESSAGE_LIMIT],
            external_message_id=wamid,
            assistant_id=channel.assistant_id,
        ),
    )


async def _apply_status(session: AsyncSession, channel: ChannelRecord, item: dict[str, Any]) -> None:
    """`failed` marks our message failed with WhatsApp's error; `sent`, `delivered` and `read` confirm it sent.
    Statuses may arrive out of order, so a failed message is never turned back into a sent one."""
    wamid, state = item.get("id"), item.get("status")
    if not isinstance(wamid, str) or state not in ("sent", "delivered", "read", "failed"):
        return
    if state == "failed":
        errors = _dicts(item.get("errors"))
        error = errors[0] if errors else {}
        detail = f"WhatsApp {error.get('code', '')}: {error.get('title') or error.get('message') or 'failed'}"
        statement = text(
            "UPDATE messages SET delivery_status = 'failed', delivery_error = :error "
            "WHERE tenant_id = :tenant AND external_id = :wamid AND role <> 'contact'"
        )
        params: dict[str, Any] = {"error": detail[:500]}
    else:
        statement = text(
            "UPDATE messages SET delivery_status = 'sent' "
            "WHERE tenant_id = :tenant AND external_id = :wamid AND role <> 'contact' AND delivery_status = 'pending'"
        )
        params = {}
    await session.execute(statement, {**params, "tenant": channel.tenant_id, "wamid": wamid})
    if state == "failed" and any(error.get("code") == UNREACHABLE for error in _dicts(item.get("errors"))):
        # The number cannot receive WhatsApp messages: stop replying to it, as after a refused send.
        await session.execute(
            text(
                "UPDATE contacts SET unreachable = true WHERE tenant_id = :tenant AND id IN ("
                "SELECT c.contact_id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.tenant_id = :tenant AND m.external_id = :wamid AND m.role <> 'contact')"
            ),
            {"tenant": channel.tenant_id, "wamid": wamid},
        )


register(WhatsAppChannel())
