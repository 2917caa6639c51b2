"""Telegram bots, through aiogram 3's `Bot` pointed at `EASYFLOW_TELEGRAM_API_URL` (the public Bot API,
a self-hosted Bot API server, or the test double).

Connecting validates the token (getMe) and registers the webhook
`{EASYFLOW_PUBLIC_URL}/webhooks/telegram/{channel_id}` with a random secret token that Telegram echoes in
`X-Telegram-Bot-Api-Secret-Token`; the webhook compares it in constant time and answers 200 only after the
update is committed. `update_id` is the dedupe key, so a redelivered update is processed once.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from aiogram.utils.text_decorations import markdown_decoration
from limits import parse
from pydantic import ValidationError

from easyflow.channels.base import Connection
from easyflow.channels.service import credentials_of
from easyflow.conversations.ports import Delivery, Outgoing, SentFile, register
from easyflow.conversations.schemas import Attachment
from easyflow.inbox.notifications import STAFF_TELEGRAM
from easyflow.kit.errors import InvalidInput, ServiceUnavailable, Unprocessable
from easyflow.kit.schemas import json_without_nul
from easyflow.kit.security import new_secret
from easyflow.models.channels import ChannelRecord
from easyflow.models.conversations import DeliveryStatus

if TYPE_CHECKING:
    from easyflow.channels.schemas import TelegramChannelCreate
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

CHANNEL_TYPE = "telegram"
IDENTITY_KIND = "telegram"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
PHOTO_MAX_BYTES = 10 * 1024 * 1024
CALLBACK_DATA_BYTES = 64
# Labels this short (digits, an emoji) fit side by side on a phone, up to this many in a row.
SHORT_LABEL_CHARS = 3
SHORT_LABELS_PER_ROW = 5
MAX_RETRY_AFTER_SECONDS = 60
ALLOWED_UPDATES = ["message", "callback_query"]
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# Telegram's published limits: about one message a second per chat, thirty a second per bot. Counted in
# the runtime's shared store, so several workers sending for one bot stay under them together.
_PER_CHAT = parse("1/second")
_PER_BOT = parse("30/second")


class TokenNotKnown(Unprocessable):
    """Telegram answered 401 to the token: no such bot (or the token was revoked)."""


class WebhookRefused(Unprocessable):
    """Telegram knows the bot but would not take the webhook address."""


class TelegramUnreachable(ServiceUnavailable):
    """Telegram (or the configured Bot API server) did not answer."""


def _client_key(runtime: Runtime, token: str) -> str:
    return f"telegram:{runtime.settings.telegram_api_url}:{token}"


@asynccontextmanager
async def bot_for(runtime: Runtime, token: str) -> AsyncIterator[Bot]:
    """The process's bot for this token and API server: one HTTP session per bot, reused (closing an aiogram
    session costs a quarter of a second), closed with the runtime."""
    key = _client_key(runtime, token)
    bot = runtime.clients.get(key)
    if bot is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(runtime.settings.telegram_api_url))
        bot = runtime.clients[key] = Bot(token, session=session)
    yield bot


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut between sentences (or, failing that, between words)."""
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text.strip()):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        candidate = f"{current} {sentence}".strip() if current else sentence
        if len(candidate) > limit:
            parts.append(current)
            current = sentence
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts or [""]


def escape_markdown(text: str) -> str:
    """Text as MarkdownV2 that shows exactly these characters (every reserved one escaped)."""
    return markdown_decoration.quote(text)


def keyboard(buttons: list[str]) -> InlineKeyboardMarkup | None:
    """One button a row (labels are phrases), except a scale of short labels (a rating's 1 to 5): one row."""
    if not buttons:
        return None
    keys = [
        InlineKeyboardButton(
            text=label[:64], callback_data=label.encode()[:CALLBACK_DATA_BYTES].decode(errors="ignore")
        )
        for label in buttons
    ]
    if len(keys) <= SHORT_LABELS_PER_ROW and all(len(label) <= SHORT_LABEL_CHARS for label in buttons):
        return InlineKeyboardMarkup(inline_keyboard=[keys])
    return InlineKeyboardMarkup(inline_keyboard=[[key] for key in keys])


async def _paced(runtime: Runtime, bot_key: str, chat_id: str, send: Callable[[], Awaitable[Message]]) -> int:
    """Send within the bot's and the chat's rate limits, waiting out a 429 Telegram asks for (up to
    MAX_RETRY_AFTER_SECONDS; longer is an error, so the delivery job retries later); the message's id."""
    while True:
        await _throttle(runtime, bot_key, chat_id)
        try:
            return (await send()).message_id
        except TelegramRetryAfter as error:
            if error.retry_after > MAX_RETRY_AFTER_SECONDS:
                raise
            await asyncio.sleep(error.retry_after)


async def _throttle(runtime: Runtime, bot_id: str, chat_id: str) -> None:
    for item, key in ((_PER_BOT, f"tg:{bot_id}"), (_PER_CHAT, f"tg:{bot_id}:{chat_id}")):
        # Other processes take slots too, so there is nothing local to wait on: sleep until one frees, retry.
        while True:
            wait = await runtime.rate_limits.acquire(item, key)
            if not wait:
                break
            await asyncio.sleep(wait)


class TelegramChannel:
    type = CHANNEL_TYPE

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return True

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: TelegramChannelCreate) -> Connection:
        secret_token = new_secret(32).replace("=", "")
        url = f"{runtime.settings.public_url}/webhooks/telegram/{channel_id}"
        mode = request.mode
        if mode == "auto":
            mode = "webhook" if runtime.settings.public_url.startswith("https://") else "polling"
        try:
            async with bot_for(runtime, request.token) as bot:
                me = await bot.get_me()
                if mode == "webhook":
                    await bot.set_webhook(url=url, secret_token=secret_token, allowed_updates=ALLOWED_UPDATES)
                else:
                    await bot.delete_webhook()
        except TelegramUnauthorizedError as error:
            raise TokenNotKnown("token: Telegram does not accept this bot token.") from error
        except TelegramBadRequest as error:
            raise WebhookRefused(
                f"Telegram refused the webhook {url}: {error.message}. "
                "EASYFLOW_PUBLIC_URL must be a public https address."
            ) from error
        except (TelegramNetworkError, TelegramAPIError) as error:
            raise TelegramUnreachable(f"Telegram could not be reached: {type(error).__name__}.") from error
        return Connection(
            credentials={"token": request.token, "secret_token": secret_token},
            config={"username": me.username or "", "bot_id": me.id, "mode": mode}
            | ({"webhook_url": url} if mode == "webhook" else {"offset": 0}),
        )

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None:
        try:
            async with bot_for(runtime, credentials["token"]) as bot:
                await bot.delete_webhook()
        except (TelegramAPIError, TelegramNetworkError, KeyError) as error:
            log.warning("telegram.disconnect_failed", channel_id=str(channel_id), error_type=type(error).__name__)
        bot = runtime.clients.pop(_client_key(runtime, credentials.get("token", "")), None)
        if bot is not None:
            await bot.session.close()

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        if outgoing.channel is None or outgoing.contact_external_id is None:
            return Delivery(DeliveryStatus.failed)
        token = credentials_of(outgoing.channel, runtime)["token"]
        chat_id = outgoing.contact_external_id
        bot_key = str(outgoing.channel.id)
        text = outgoing.message.text
        # One file with a short text goes as one message, the text as its caption.
        caption = text if len(outgoing.files) == 1 and len(text) <= CAPTION_LIMIT else ""
        parts = split_message(text) if text and not caption else []
        async with bot_for(runtime, token) as bot:
            last_id = None
            try:
                for index, part in enumerate(parts):
                    markup = keyboard(outgoing.message.buttons) if index == len(parts) - 1 else None
                    last_id = await self._send(runtime, bot, bot_key, chat_id, part, markup)
                for file in outgoing.files:
                    last_id = await self._send_file(runtime, bot, bot_key, chat_id, file, caption)
            except TelegramForbiddenError:
                return Delivery(DeliveryStatus.failed, recipient_gone=True)
        return Delivery(DeliveryStatus.sent, external_id=str(last_id) if last_id else None)

    async def _send_file(
        self, runtime: Runtime, bot: Bot, bot_key: str, chat_id: str, file: SentFile, caption: str
    ) -> int:
        """A picture Telegram can show as a photo, anything else (and a GIF, which it would recompress) as a
        document."""
        upload = BufferedInputFile(file.content, filename=file.name)
        escaped, parse_mode = (escape_markdown(caption), "MarkdownV2") if caption else (None, None)
        if file.content_type in PHOTO_TYPES and len(file.content) <= PHOTO_MAX_BYTES:
            return await _paced(
                runtime,
                bot_key,
                chat_id,
                lambda: bot.send_photo(chat_id=int(chat_id), photo=upload, caption=escaped, parse_mode=parse_mode),
            )
        return await _paced(
            runtime,
            bot_key,
            chat_id,
            lambda: bot.send_document(chat_id=int(chat_id), document=upload, caption=escaped, parse_mode=parse_mode),
        )

    async def _send(
        self, runtime: Runtime, bot: Bot, bot_key: str, chat_id: str, text: str, markup: InlineKeyboardMarkup | None
    ) -> int:
        return await _paced(
            runtime,
            bot_key,
            chat_id,
            lambda: bot.send_message(
                chat_id=int(chat_id), text=escape_markdown(text), parse_mode="MarkdownV2", reply_markup=markup
            ),
        )

    async def send_to_staff(self, runtime: Runtime, channel: ChannelRecord, chat_id: int, text: str) -> bool:
        """A notice to a member's own linked chat (plain text: Telegram shows the dashboard URL as a link);
        False when the member blocked the bot."""
        async with bot_for(runtime, credentials_of(channel, runtime)["token"]) as bot:
            for part in split_message(text):
                try:
                    await self._send(runtime, bot, str(channel.id), str(chat_id), part, None)
                except TelegramForbiddenError:
                    return False
        return True

    async def show_typing(self, runtime: Runtime, channel: ChannelRecord, recipient: str) -> None:
        try:
            async with bot_for(runtime, credentials_of(channel, runtime)["token"]) as bot:
                await bot.send_chat_action(chat_id=int(recipient), action="typing")
        except (TelegramAPIError, TelegramNetworkError) as error:
            log.info("telegram.typing_failed", error_type=type(error).__name__)

    async def answer_callback(self, runtime: Runtime, token: str, callback_query_id: str) -> None:
        try:
            async with bot_for(runtime, token) as bot:
                await bot.answer_callback_query(callback_query_id)
        except (TelegramAPIError, TelegramNetworkError) as error:
            log.info("telegram.callback_answer_failed", error_type=type(error).__name__)


def parse_update(body: Any) -> Update:
    try:
        return Update.model_validate(body)
    except ValidationError as error:
        raise InvalidInput(f"Not a Telegram update: {error.errors()[0]['msg']}") from error


def inbound_of(update: Update) -> dict[str, Any] | None:
    """What the pipeline needs from an update, or None for updates with nothing to answer. Telegram passes
    U+0000 through from customers, PostgreSQL cannot store it, and refusing the update would only make
    Telegram send it again (ahead of everything behind it): it is dropped."""
    return json_without_nul(_inbound_fields(update))


def _inbound_fields(update: Update) -> dict[str, Any] | None:
    if update.callback_query is not None:
        query = update.callback_query
        user = query.from_user
        return {
            "contact_external_id": str(user.id),
            "contact_name": " ".join(filter(None, [user.first_name, user.last_name])),
            "text": query.data or "",
            "attachments": [],
            "callback_query_id": query.id,
        }
    message = update.message
    if message is None or message.from_user is None:
        return None
    user = message.from_user
    attachments: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]
        attachments.append(
            Attachment(kind="photo", file_id=largest.file_id, size=largest.file_size, awaiting_file=True)
        )
    if message.document is not None:
        document = message.document
        attachments.append(
            Attachment(
                kind="document",
                file_id=document.file_id,
                name=document.file_name or "",
                mime_type=document.mime_type or "",
                size=document.file_size,
                awaiting_file=True,
            )
        )
    text = message.text or message.caption or ""
    if text.startswith("/start"):
        payload = text[len("/start") :].strip()
        attachments.append(Attachment(kind="start", payload=payload))
    if not text and not attachments:
        return None
    return {
        "contact_external_id": str(user.id),
        "contact_name": " ".join(filter(None, [user.first_name, user.last_name])),
        "text": text or "[attachment]",
        "attachments": attachments,
        "callback_query_id": None,
    }


_channel = TelegramChannel()
register(_channel)
STAFF_TELEGRAM.append(_channel)  # members' notices go out through the tenant's bot too
