"""A protocol-faithful double of the Telegram Bot API (https://core.telegram.org/bots/api), served for real on
127.0.0.1.

It speaks the wire protocol exactly as `api.telegram.org` does and as aiogram 3's `AiohttpSession` expects:

* methods at `POST|GET {base}/bot<TOKEN>/<method>` (method names case-insensitive), parameters as a query string,
  `application/x-www-form-urlencoded`, `multipart/form-data` (files referenced as `attach://<field>`) or a JSON
  body; structured parameters (`reply_markup`, `allowed_updates`, …) arrive as JSON-serialised strings in forms;
* every answer in the envelope `{"ok": true, "result": …}` or
  `{"ok": false, "error_code": N, "description": "…", "parameters": {"retry_after": N}}` — which aiogram maps to
  `TelegramRetryAfter` (any `parameters.retry_after`), `TelegramBadRequest` (400), `TelegramUnauthorizedError`
  (401), `TelegramForbiddenError` (403), `TelegramNotFound` (404), `TelegramConflictError` (409),
  `TelegramServerError` (5xx);
* file downloads at `GET {base}/file/bot<TOKEN>/<file_path>`.

Implemented methods: getMe, setWebhook, deleteWebhook, getWebhookInfo, getUpdates (offset confirmation, limit,
long polling, the webhook conflict), sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage,
sendChatAction, answerCallbackQuery, getFile, sendPhoto, sendDocument, setMyCommands, getMyCommands,
deleteMyCommands. The checks the real server makes and a client has to cope with are enforced for real: the
4096-character text limit (counted after entity parsing), MarkdownV2 and HTML entity parsing errors, callback_data
of 1-64 bytes, answerCallbackQuery only once per known query, the webhook/getUpdates conflict.

A test registers bots (`double.add_bot(token)`), builds realistic incoming updates (`double.text_update(...)`,
`start_update`, `photo_update`, `document_update`, `callback_update`), hands them to the app either by webhook
(`double.deliver_update(token, update)` POSTs to the URL the app registered with setWebhook, with the
`X-Telegram-Bot-Api-Secret-Token` header) or through getUpdates (`double.queue_update(token, update)`), injects
failures (`double.fail_next(...)`, `double.block(chat_id)`, `double.chat_send_interval`) and inspects what the
bot did (`double.calls`, `double.sent_messages()`, `double.chat_actions`, `double.answered_callbacks`).

`TelegramServer` runs the app under uvicorn in a background thread; the `telegram_server_session` fixture shares
one server per session and the `telegram` fixture hands each test that server with a fresh double (register them
with `pytest_plugins = ["tests.doubles.telegram_server"]` in tests/conftest.py). Point aiogram at it like this::

    Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer

MESSAGE_LIMIT = 4096
"""sendMessage/editMessageText: at most 4096 characters of text after entities parsing."""
CAPTION_LIMIT = 1024
"""sendPhoto/sendDocument: at most 1024 characters of caption after entities parsing."""
CALLBACK_DATA_LIMIT = 64
"""InlineKeyboardButton.callback_data: 1-64 bytes."""
CALLBACK_ANSWER_LIMIT = 200
"""answerCallbackQuery.text: 0-200 characters."""
DOWNLOAD_LIMIT = 20 * 1024 * 1024
"""getFile: bots can download files of up to 20 MB."""
MARKDOWN_V2_RESERVED = "_*[]()~`>#+-=|{}.!"
"""Characters that must be escaped with a preceding '\\' in MarkdownV2 outside of entity markup."""
CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
"""The actions sendChatAction accepts."""
DEFAULT_UPDATE_TYPES = frozenset(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ]
)
"""What is delivered when allowed_updates is unset or empty: every type except chat_member, message_reaction and
message_reaction_count."""

BLOCKED = "Forbidden: bot was blocked by the user"
TOO_LONG = "Bad Request: message is too long"
TEXT_EMPTY = "Bad Request: message text is empty"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as "
    "a current content and reply markup of the message"
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_COMMAND_IN_TEXT = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_STRING_PARAMS = frozenset(
    [
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "file_id",
        "action",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "photo",
        "document",
    ]
)
"""Parameters whose form values are taken verbatim; every other value that looks like JSON is decoded."""
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
_FAKE_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


class BotApiError(Exception):
    """An unsuccessful Bot API answer: `{"ok": false, "error_code": status, "description": …, "parameters"?}`."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload


def _bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


# --- Formatting options: entity parsing ------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """What Telegram reports as `Bad Request: can't parse entities: <message>`."""


_MD_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "`": "Code",
    "```": "Pre",
    "[": "TextUrl",
    "![": "CustomEmoji",
}


def _reserved(char: str) -> EntityParseError:
    return EntityParseError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")


def parse_markdown_v2(text: str) -> str:
    """The plain text of a MarkdownV2 message, or `EntityParseError` with Telegram's own message.

    Mirrors https://core.telegram.org/bots/api#markdownv2-style as the server (tdlib's parse_markdown_v2) applies
    it: any character with code 1-126 may be escaped with a preceding '\\'; outside of entities each of
    `_*[]()~`>#+-=|{}.!` must be escaped unless it opens or closes markup (`*bold*`, `_italic_`, `__underline__`,
    `~strike~`, `||spoiler||`, `` `code` ``, ```` ```pre``` ````, `[text](url)`, `![emoji](tg://emoji?id=…)`, `>` at
    the start of a line for a block quote); inside code and pre only '`' is reserved; an entity left open is an
    error. Byte offsets in messages are UTF-8 offsets, as Telegram reports them."""
    n = len(text)
    result: list[str] = []
    stack: list[tuple[str, int]] = []

    def at(index: int) -> str:
        return text[index] if index < n else ""

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    i = 0
    while i < n:
        char = text[i]
        following = at(i + 1)
        if char == "\\" and following and 0 < ord(following) <= 126:
            result.append(following)
            i += 2
            continue
        top = stack[-1][0] if stack else None
        in_code = top in ("`", "```")
        if char not in ("`" if in_code else MARKDOWN_V2_RESERVED):
            result.append(char)
            i += 1
            continue
        if char == ">" and not in_code and (i == 0 or text[i - 1] == "\n"):
            i += 1  # a block quote line
            continue
        if top is not None and _closes(top, text, i):
            start = i
            i += len(top) if top in ("__", "||", "```") else 1
            if top in ("[", "!["):
                if at(i) == "(":
                    url_start = i + 1
                    i = url_start
                    while i < n and text[i] != ")":
                        i += 2 if text[i] == "\\" and at(i + 1) and 0 < ord(at(i + 1)) <= 126 else 1
                    if i >= n:
                        raise EntityParseError(f"Can't find end of a URL at byte offset {byte_offset(url_start)}")
                    i += 1
                elif top == "![":
                    raise EntityParseError(f"Custom emoji entity must contain a tg://emoji URL at {start}")
            stack.pop()
            continue
        opened_at = i
        if char == "_":
            kind = "__" if following == "_" else "_"
        elif char in "*~[":
            kind = char
        elif char == "|" and following == "|":
            kind = "||"
        elif char == "!" and following == "[":
            kind = "!["
        elif char == "`":
            kind = "```" if text.startswith("```", i) else "`"
        else:
            raise _reserved(char)
        i += len(kind)
        if kind == "```":
            language_end = i
            while language_end < n and not text[language_end].isspace() and text[language_end] != "`":
                language_end += 1
            if language_end < n and text[language_end] != "`":
                i = language_end  # ```python\n…``` names the language
            if at(i) in ("\n", "\r"):
                i += 2 if at(i + 1) in ("\n", "\r") and at(i + 1) != at(i) else 1
        stack.append((kind, byte_offset(opened_at)))
    if stack:
        kind, offset = stack[-1]
        raise EntityParseError(f"Can't find end of {_MD_NAMES[kind]} entity at byte offset {offset}")
    return "".join(result)


def _closes(kind: str, text: str, i: int) -> bool:
    char = text[i]
    following = text[i + 1] if i + 1 < len(text) else ""
    if kind == "*":
        return char == "*"
    if kind == "_":
        return char == "_" and following != "_"
    if kind == "__":
        return text.startswith("__", i)
    if kind == "~":
        return char == "~"
    if kind == "||":
        return text.startswith("||", i)
    if kind == "`":
        return char == "`"
    if kind == "```":
        return text.startswith("```", i)
    return char == "]"  # "[" and "!["


_HTML_TAGS = frozenset(
    [
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    ]
)
_HTML_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def parse_html(text: str) -> str:
    """The plain text of an HTML-formatted message, or `EntityParseError` with Telegram's own message.

    Mirrors https://core.telegram.org/bots/api#html-style: only the listed tags are supported (others, `<br>`
    included, are `Unsupported start tag`), tags must nest and be closed, `&lt;`, `&gt;`, `&amp;`, `&quot;` and
    numeric entities are decoded (other `&…;` sequences stay as they are). `<span>` must carry
    `class="tg-spoiler"`."""
    n = len(text)
    result: list[str] = []
    stack: list[str] = []

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY.match(text, i)
            if match is None:
                result.append(char)
                i += 1
                continue
            name = match.group(1)
            if name.startswith("#x"):
                result.append(chr(int(name[2:], 16)))
            elif name.startswith("#"):
                result.append(chr(int(name[1:])))
            else:
                result.append(_HTML_NAMED[name])
            i = match.end()
            continue
        if char != "<":
            result.append(char)
            i += 1
            continue
        begin = i
        if text.startswith("</", i):
            close = text.find(">", i)
            if close < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            name = text[i + 2 : close].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            if name != stack[-1]:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{stack[-1]}>", found '
                    f'"</{name}>"'
                )
            stack.pop()
            i = close + 1
            continue
        match = _HTML_TAG_NAME.match(text, i + 1)
        name = match.group(0).lower() if match else ""
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}')
        close, quote = i + 1 + len(name), ""
        while close < n and (quote or text[close] != ">"):
            if text[close] in "\"'":
                quote = "" if quote == text[close] else (quote or text[close])
            close += 1
        if close >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        attributes = text[i + 1 + len(name) : close]
        if name == "span" and "tg-spoiler" not in attributes:
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}')
        stack.append(name)
        i = close + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(result)


def plain_text(text: str, parse_mode: str | None) -> str:
    """The message text as Telegram stores it: entities parsed per `parse_mode` (MarkdownV2, HTML, legacy
    Markdown treated as plain), then stripped of surrounding whitespace. Raises the 400 Telegram answers."""
    mode = (parse_mode or "").lower()
    try:
        if mode == "markdownv2":
            parsed = parse_markdown_v2(text)
        elif mode == "html":
            parsed = parse_html(text)
        elif mode in ("", "markdown"):
            parsed = text
        else:
            raise _bad_request("unsupported parse_mode")
    except EntityParseError as error:
        raise _bad_request(f"can't parse entities: {error}") from None
    return parsed.strip()


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` entities Telegram attaches to a text (offsets and lengths in UTF-16 code units)."""
    return [
        {"offset": _utf16_length(text[: match.start()]), "length": _utf16_length(match.group(0)), "type": "bot_command"}
        for match in _COMMAND_IN_TEXT.finditer(text)
    ]


# --- Records -------------------------------------------------------------------------------------------------------


class Call(TypedDict):
    """One Bot API request: `method` in its canonical spelling (or as sent when unknown), `params` decoded (nested
    JSON such as reply_markup as objects, uploaded files as `UploadedFile`), `status` the HTTP status answered."""

    token: str
    method: str
    params: dict[str, Any]
    status: int


class SentMessage(TypedDict):
    """A message the bot managed to send (sendMessage, sendPhoto, sendDocument): `text` as sent (the caption for
    media), `plain_text` after entities parsing, `reply_markup` decoded, `message` the Message answered."""

    token: str
    method: str
    chat_id: int | str
    message_id: int
    text: str | None
    plain_text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    message: dict[str, Any]


class ChatAction(TypedDict):
    """A successful sendChatAction."""

    token: str
    chat_id: int | str
    action: str


class AnsweredCallback(TypedDict):
    """A successful answerCallbackQuery."""

    token: str
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None


class Delivery(TypedDict):
    """An update POSTed to a bot's webhook by `deliver_update`; `status` is None when the request failed."""

    token: str
    url: str
    update: dict[str, Any]
    status: int | None


@dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded in a multipart request (resolved from its `attach://` reference)."""

    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class StoredFile:
    """A file known to the server: retrievable by getFile and downloadable at `/file/bot<token>/<file_path>`."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_size: int
    mime_type: str | None = None

    def as_file(self) -> dict[str, Any]:
        """The Bot API `File` object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


@dataclass
class Webhook:
    """What setWebhook registered for a bot."""

    url: str
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Bot:
    id: int
    token: str
    username: str
    first_name: str
    webhook: Webhook | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    allowed_updates: list[str] | None = None
    next_update_id: int = 1
    poll_generation: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)

    def user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int
    token: str | None


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
    kind = _update_type(update)
    return kind in allowed if allowed else kind in DEFAULT_UPDATE_TYPES


def _chat_id(value: Any) -> int | str:
    if isinstance(value, bool):
        raise _bad_request("chat not found")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, str) and value.startswith("@") and len(value) > 1:
        return value
    raise _bad_request("chat not found")


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad_request(f'invalid parameter "{name}"')
    try:
        return int(value)
    except ValueError:
        raise _bad_request(f'invalid parameter "{name}"') from None


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _decode(name: str, value: Any) -> Any:
    """Form fields carry scalars as text and structures as JSON text: decode all but the string parameters."""
    if not isinstance(value, str) or name in _STRING_PARAMS or not value:
        return value
    if value[0] in '{["-0123456789' or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- The double ----------------------------------------------------------------------------------------------------


class TelegramDouble:
    """The state behind the routes — bots, webhooks, update queues, files, messages, the call log and scripted
    failures; safe to drive from the test's thread while the server runs in its own."""

    def __init__(self, *, long_poll_cap: float = 0.5) -> None:
        self.long_poll_cap = long_poll_cap
        """getUpdates waits at most min(timeout, long_poll_cap) seconds for an update: short, so tests stay fast."""
        self.chat_send_interval: float | None = None
        """When set, a send to a chat sooner than this many seconds after the previous one gets the flood-control
        429 with `retry_after` (Telegram allows about one message a second per chat)."""
        self._lock = threading.RLock()
        self._clear()

    def _clear(self) -> None:
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.downloads: list[tuple[str, str]] = []
        """(token, file_path) of every file download."""
        self._bots: dict[str, _Bot] = {}
        self._sent: list[SentMessage] = []
        self._chat_actions: list[ChatAction] = []
        self._answered: list[AnsweredCallback] = []
        self._failures: list[_Failure] = []
        self._blocked: set[int | str] = set()
        self._files: dict[str, StoredFile] = {}
        self._file_paths: dict[str, StoredFile] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[str, int | str, int], dict[str, Any]] = {}
        self._message_ids: dict[int | str, int] = {}
        self._last_send: dict[int | str, float] = {}
        self._callback_queries: dict[str, bool] = {}
        self._file_counter = 0

    def reset(self) -> None:
        """Forget everything: bots, webhooks, queues, files, messages, failures, blocks and the logs (a long poll
        still waiting is terminated with 409)."""
        with self._lock:
            for bot in self._bots.values():
                bot.poll_generation += 1
            self.chat_send_interval = None
            self._clear()

    # --- bots ---

    def add_bot(self, token: str, username: str = "easyflow_test_bot", first_name: str | None = None) -> int:
        """Register a bot; returns its id (the digits before ':' in the token, as Telegram's tokens are built).
        Requests with any other token get 401 Unauthorized."""
        prefix = token.partition(":")[0]
        bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + len(self._bots)
        with self._lock:
            self._bots[token] = _Bot(bot_id, token, username, first_name or username.removesuffix("_bot").title())
        return bot_id

    def bot_user(self, token: str) -> dict[str, Any]:
        """The bot's `User` object (what `from` holds in its messages)."""
        with self._lock:
            return self._bot(token).user()

    def webhook(self, token: str) -> Webhook | None:
        """The bot's current webhook registration, None when it has none."""
        with self._lock:
            return copy.copy(self._bot(token).webhook)

    def commands(self, token: str) -> list[dict[str, Any]]:
        """The command list setMyCommands stored."""
        with self._lock:
            return copy.deepcopy(self._bot(token).commands)

    def _bot(self, token: str) -> _Bot:
        try:
            return self._bots[token]
        except KeyError:
            raise KeyError(f"no bot with token {token!r}; call add_bot first") from None

    # --- views ---

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls of one method (any spelling of its name)."""
        wanted = _canonical(method)
        with self._lock:
            return [call for call in self.calls if call["method"] == wanted]

    def sent_messages(self, chat_id: int | str | None = None, *, token: str | None = None) -> list[SentMessage]:
        """Messages the bot sent successfully (failed attempts are only in `calls`), oldest first."""
        with self._lock:
            return [
                sent
                for sent in self._sent
                if (chat_id is None or sent["chat_id"] == chat_id) and (token is None or sent["token"] == token)
            ]

    def chat_history(self, chat_id: int | str, *, token: str | None = None) -> list[dict[str, Any]]:
        """The bot's messages in a chat as they stand now (edits applied, deleted ones gone), by message_id."""
        with self._lock:
            found = [
                copy.deepcopy(message)
                for (bot_token, chat, _), message in self._messages.items()
                if chat == chat_id and (token is None or bot_token == token) and message.get("from", {}).get("is_bot")
            ]
        return sorted(found, key=lambda message: message["message_id"])

    @property
    def chat_actions(self) -> list[ChatAction]:
        """Successful sendChatAction calls, oldest first."""
        with self._lock:
            return list(self._chat_actions)

    @property
    def answered_callbacks(self) -> list[AnsweredCallback]:
        """Successful answerCallbackQuery calls, oldest first."""
        with self._lock:
            return list(self._answered)

    # --- failure injection ---

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        *,
        token: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` (of any bot, or of `token`'s) fail with `status` and
        `description` (Telegram's usual one for the status when None). A 429 always carries
        `parameters.retry_after` (1 when not given) and defaults to "Too Many Requests: retry after N"."""
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or _DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error")
        with self._lock:
            self._failures.append(_Failure(_canonical(method), status, description, retry_after, count, token))

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot: every send to the chat (messages, media, chat actions) gets 403
        "Forbidden: bot was blocked by the user"."""
        with self._lock:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int | str) -> None:
        """The user restarted the bot."""
        with self._lock:
            self._blocked.discard(chat_id)

    # --- incoming updates ---

    def queue_update(self, token: str, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (an `update_id` is assigned when missing); returns its update_id. A long
        poll that is waiting returns it at once."""
        with self._lock:
            bot = self._bot(token)
            stored = copy.deepcopy(update)
            if "update_id" not in stored:
                stored = {"update_id": bot.next_update_id, **stored}
            bot.next_update_id = max(bot.next_update_id, stored["update_id"] + 1)
            self._learn(stored)
            bot.updates.append(stored)
            bot.updates.sort(key=lambda queued: queued["update_id"])
            return int(stored["update_id"])

    def pending_updates(self, token: str) -> list[dict[str, Any]]:
        """Queued updates getUpdates has not had confirmed (by a later offset) yet."""
        with self._lock:
            return copy.deepcopy(self._bot(token).updates)

    def deliver_update(self, token: str, update: dict[str, Any], *, request_timeout: float = 10.0) -> int | None:
        """POST the update to the bot's webhook as Telegram does (JSON body, `X-Telegram-Bot-Api-Secret-Token`
        when a secret was set) and return the response status; None when the webhook's allowed_updates exclude
        the update type (Telegram would not send it). Raises RuntimeError when no webhook is set and httpx's
        error when the endpoint cannot be reached. Blocks: from an async test whose app serves the webhook on the
        test's own loop use `adeliver_update` instead."""
        prepared = self._prepare_delivery(token, update)
        if prepared is None:
            return None
        url, headers, body = prepared
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=request_timeout)
        except httpx.HTTPError as error:
            self._record_delivery(token, url, update, None, f"Connection failed: {error}")
            raise
        self._record_delivery(token, url, update, response.status_code, response.reason_phrase)
        return response.status_code

    async def adeliver_update(
        self,
        token: str,
        update: dict[str, Any],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        request_timeout: float = 10.0,
    ) -> int | None:
        """`deliver_update` without blocking the event loop; with `transport` (e.g. `httpx.ASGITransport(app)`)
        the request goes to an in-process app instead of over the network."""
        prepared = self._prepare_delivery(token, update)
        if prepared is None:
            return None
        url, headers, body = prepared
        try:
            async with httpx.AsyncClient(transport=transport, timeout=request_timeout) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self._record_delivery(token, url, update, None, f"Connection failed: {error}")
            raise
        self._record_delivery(token, url, update, response.status_code, response.reason_phrase)
        return response.status_code

    def _prepare_delivery(self, token: str, update: dict[str, Any]) -> tuple[str, dict[str, str], bytes] | None:
        with self._lock:
            bot = self._bot(token)
            if bot.webhook is None:
                raise RuntimeError("the bot has no webhook; the app must call setWebhook first")
            if not _allowed(update, bot.webhook.allowed_updates):
                return None
            self._learn(update)
            headers = {"Content-Type": "application/json"}
            if bot.webhook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook.secret_token
            body = json.dumps(update, ensure_ascii=False).encode("utf-8")
            return bot.webhook.url, headers, body

    def _record_delivery(
        self, token: str, url: str, update: dict[str, Any], status: int | None, reason: str | None
    ) -> None:
        with self._lock:
            self.deliveries.append(Delivery(token=token, url=url, update=copy.deepcopy(update), status=status))
            webhook = self._bots[token].webhook if token in self._bots else None
            if webhook is not None and (status is None or not 200 <= status < 300):
                webhook.last_error_date = int(time.time())
                webhook.last_error_message = (
                    reason if status is None else f"Wrong response from the webhook: {status} {reason}"
                )

    def _learn(self, update: dict[str, Any]) -> None:
        """Remember the users and callback queries an update introduces."""
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._callback_queries.setdefault(str(query["id"]), False)
        message = update.get("message") or (query or {}).get("message")
        if isinstance(message, dict):
            chat = message.get("chat") or {}
            if chat.get("type") == "private":
                self._users.setdefault(chat["id"], chat)

    # --- files ---

    def expire_file_links(self) -> None:
        """Downloads now answer 404 while getFile still describes the files (Telegram's download links last
        at least an hour, then a bot must not count on them)."""
        with self._lock:
            self._file_paths.clear()

    def add_file(
        self,
        content: bytes,
        *,
        kind: str = "documents",
        extension: str = "",
        mime_type: str | None = None,
        file_size: int | None = None,
    ) -> StoredFile:
        """Register a file getFile can find and the file route can serve; `file_size` may claim more than the
        content holds (e.g. to exceed the 20 MB download limit)."""
        with self._lock:
            self._file_counter += 1
            number = self._file_counter
            stored = StoredFile(
                file_id=f"{_FILE_ID_PREFIXES.get(kind, 'BQACAgIAAxkBAAI')}{number:04d}{secrets.token_urlsafe(24)}",
                file_unique_id=f"AQAD{secrets.token_urlsafe(8)}",
                file_path=f"{kind}/file_{number}{extension}",
                content=content,
                file_size=len(content) if file_size is None else file_size,
                mime_type=mime_type,
            )
            self._files[stored.file_id] = stored
            self._file_paths[stored.file_path] = stored
            return stored

    # --- update builders ---

    def _next_message_id(self, chat_id: int | str) -> int:
        with self._lock:
            self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
            return self._message_ids[chat_id]

    def _sender(
        self, chat_id: int, first_name: str, username: str | None, language_code: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
        if username is not None:
            user["username"] = username
            chat["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        with self._lock:
            self._users[chat_id] = chat
        return user, chat

    def _message_update(
        self,
        update_id: int,
        chat_id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
        message_id: int | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        user, chat = self._sender(chat_id, first_name, username, language_code)
        message = {
            "message_id": message_id if message_id is not None else self._next_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        return {"update_id": update_id, "message": message}

    def text_update(
        self,
        update_id: int,
        chat_id: int,
        text: str,
        first_name: str = "Иван",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """A private-chat text message Update, with `bot_command` entities for any /commands in it."""
        content: dict[str, Any] = {"text": text}
        if entities := command_entities(text):
            content["entities"] = entities
        return self._message_update(update_id, chat_id, first_name, username, language_code, message_id, content)

    def start_update(
        self,
        update_id: int,
        chat_id: int,
        payload: str | None = None,
        first_name: str = "Иван",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """What a deep link `t.me/<bot>?start=<payload>` (or the Start button) sends: "/start payload" with a
        bot_command entity over "/start"."""
        text = f"/start {payload}" if payload else "/start"
        content = {"text": text, "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]}
        return self._message_update(update_id, chat_id, first_name, username, language_code, message_id, content)

    def photo_update(
        self,
        update_id: int,
        chat_id: int,
        content: bytes = _FAKE_JPEG,
        caption: str | None = None,
        first_name: str = "Иван",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        message_id: int | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> dict[str, Any]:
        """A photo message Update: `photo` is the array of PhotoSize (smallest first, the largest last, as Telegram
        sends them), each a file getFile finds and the file route serves with `content`."""
        sizes = []
        for side in (90, 320, 800, max(width, height)):
            if side > max(width, height):
                continue
            scale = side / max(width, height)
            stored = self.add_file(content, kind="photos", extension=".jpg", mime_type="image/jpeg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size,
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        body: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            body["caption"] = caption
        return self._message_update(update_id, chat_id, first_name, username, language_code, message_id, body)

    def document_update(
        self,
        update_id: int,
        chat_id: int,
        content: bytes = _FAKE_PDF,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        first_name: str = "Иван",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        message_id: int | None = None,
        file_size: int | None = None,
    ) -> dict[str, Any]:
        """A document message Update (`document` with file_id, file_unique_id, file_name, mime_type, file_size);
        `file_size` may claim more than `content` to exercise the 20 MB getFile limit."""
        extension = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        stored = self.add_file(content, kind="documents", extension=extension, mime_type=mime_type, file_size=file_size)
        body: dict[str, Any] = {
            "document": {
                "file_name": file_name,
                "mime_type": mime_type,
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
            }
        }
        if caption is not None:
            body["caption"] = caption
        return self._message_update(update_id, chat_id, first_name, username, language_code, message_id, body)

    def callback_update(
        self,
        update_id: int,
        chat_id: int,
        data: str,
        message_id: int,
        first_name: str = "Иван",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """A `callback_query` Update for a press of an inline button with `data` under the bot's message
        `message_id` (the message as the bot sent it, when the double has it). Its id becomes answerable once by
        answerCallbackQuery."""
        user, chat = self._sender(chat_id, first_name, username, language_code)
        with self._lock:
            if token is None:
                token = next((key[0] for key in self._messages if key[1:] == (chat_id, message_id)), None)
            if token is None and self._bots:
                token = next(iter(self._bots))
            message = copy.deepcopy(self._messages.get((token or "", chat_id, message_id)))
            bot_user = self._bots[token].user() if token in self._bots else _PLACEHOLDER_BOT
            query_id = str(secrets.randbelow(9 * 10**18) + 10**18)
            self._callback_queries[query_id] = False
        if message is None:
            message = {"message_id": message_id, "from": bot_user, "chat": chat, "date": int(time.time()), "text": "…"}
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(-(abs(hash((chat_id, token))) % 10**18) - 1),
            "data": data,
        }
        return {"update_id": update_id, "callback_query": query}

    # --- dispatch ---

    def _record(self, token: str, method: str, params: dict[str, Any]) -> Call:
        call = Call(token=token, method=method, params=params, status=200)
        with self._lock:
            self.calls.append(call)
        return call

    def _check(self, token: str, method: str) -> _Bot:
        """Authentication, method lookup and scripted failures, in the order the real server applies them."""
        with self._lock:
            bot = self._bots.get(token)
            if bot is None:
                raise BotApiError(401, "Unauthorized")
            if method not in _METHODS:
                raise BotApiError(404, "Not Found")
            for failure in self._failures:
                if failure.method == method and failure.token in (None, token) and failure.remaining > 0:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    raise BotApiError(failure.status, failure.description, retry_after=failure.retry_after)
            return bot

    def _guard_send(self, chat_id: int | str) -> None:
        if chat_id in self._blocked:
            raise BotApiError(403, BLOCKED)

    def _flood(self, chat_id: int | str) -> None:
        if self.chat_send_interval is None:
            return
        now = time.monotonic()
        last = self._last_send.get(chat_id)
        if last is not None and now - last < self.chat_send_interval:
            retry_after = max(1, math.ceil(self.chat_send_interval - (now - last)))
            raise BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        self._last_send[chat_id] = now

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        known = self._users.get(chat_id) if isinstance(chat_id, int) else None
        if known is not None:
            return dict(known)
        if isinstance(chat_id, str):
            return {"id": -1001000000000, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        return {"id": chat_id, "type": "private", "first_name": "User"}

    def _new_message(self, bot: _Bot, chat_id: int | str, content: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(chat_id)
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": bot.user(),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self._messages[(bot.token, chat["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _record_sent(
        self, bot: _Bot, method: str, params: dict[str, Any], text: str | None, plain: str | None, message: dict
    ) -> None:
        markup = params.get("reply_markup")
        self._sent.append(
            SentMessage(
                token=bot.token,
                method=method,
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                text=text,
                plain_text=plain,
                parse_mode=params.get("parse_mode"),
                reply_markup=markup if isinstance(markup, dict) else None,
                params=params,
                message=message,
            )
        )


_PLACEHOLDER_BOT = {"id": 1, "is_bot": True, "first_name": "Bot", "username": "placeholder_bot"}
_FILE_ID_PREFIXES = {"photos": "AgACAgIAAxkBAAI", "documents": "BQACAgIAAxkBAAI"}


def _validate_markup(markup: Any) -> dict[str, Any] | None:
    """reply_markup: an InlineKeyboardMarkup (buttons need text and one action; callback_data 1-64 bytes),
    ReplyKeyboardMarkup, ReplyKeyboardRemove or ForceReply."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                    raise _bad_request("BUTTON_DATA_INVALID")
                if len(button) < 2:
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
        return markup
    if any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
        return markup
    raise _bad_request("can't parse reply keyboard markup JSON object")


# --- Methods -------------------------------------------------------------------------------------------------------

Handler = Callable[[TelegramDouble, _Bot, dict[str, Any]], Any]


def get_me(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """getMe: the bot's User with the bot-only capability flags."""
    return {
        **bot.user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def set_webhook(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """setWebhook: url (an empty url removes the webhook), secret_token (1-256 of [A-Za-z0-9_-]),
    allowed_updates, max_connections (1-100), drop_pending_updates."""
    url = str(params.get("url") or "")
    secret = params.get("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
        raise _bad_request("secret token contains unallowed characters")
    max_connections = _int(params, "max_connections", 40)
    if not 1 <= max_connections <= 100:
        raise _bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = params.get("allowed_updates")
    if allowed is not None and not (isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed)):
        raise _bad_request("can't parse allowed updates")
    if url and not re.match(r"https?://[^/\s]+", url):
        raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    if allowed is not None:
        bot.allowed_updates = allowed
    bot.webhook = (
        Webhook(url, secret or None, bot.allowed_updates, max_connections, params.get("ip_address")) if url else None
    )
    return True


def delete_webhook(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """deleteWebhook: switch back to getUpdates; drop_pending_updates clears the queue."""
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    bot.webhook = None
    return True


def get_webhook_info(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """getWebhookInfo: url ("" without a webhook), has_custom_certificate, pending_update_count and, once a
    delivery failed, last_error_date/last_error_message."""
    info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": len(bot.updates)}
    webhook = bot.webhook
    if webhook is not None:
        info["url"] = webhook.url
        info["max_connections"] = webhook.max_connections
        if webhook.ip_address:
            info["ip_address"] = webhook.ip_address
        if webhook.allowed_updates:
            info["allowed_updates"] = webhook.allowed_updates
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
    return info


def _parsed_text(params: dict[str, Any], name: str, limit: int, required: bool) -> tuple[str | None, str | None]:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise BotApiError(400, TEXT_EMPTY)
        return None, None
    text = str(raw)
    plain = plain_text(text, params.get("parse_mode"))
    if required and not plain:
        raise BotApiError(400, TEXT_EMPTY)
    if len(plain) > limit:
        raise BotApiError(400, TOO_LONG if name == "text" else "Bad Request: message caption is too long")
    return text, plain


def send_message(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """sendMessage: chat_id, text (1-4096 characters after entities parsing), parse_mode, reply_markup."""
    chat_id = _chat_id(params.get("chat_id"))
    double._guard_send(chat_id)
    text, plain = _parsed_text(params, "text", MESSAGE_LIMIT, required=True)
    markup = _validate_markup(params.get("reply_markup"))
    double._flood(chat_id)
    content: dict[str, Any] = {"text": plain}
    if markup is not None and "inline_keyboard" in markup:
        content["reply_markup"] = markup
    message = double._new_message(bot, chat_id, content)
    double._record_sent(bot, "sendMessage", params, text, plain, message)
    return message


def _media(double: TelegramDouble, bot: _Bot, params: dict[str, Any], method: str, field_name: str) -> dict:
    chat_id = _chat_id(params.get("chat_id"))
    double._guard_send(chat_id)
    caption, plain = _parsed_text(params, "caption", CAPTION_LIMIT, required=False)
    markup = _validate_markup(params.get("reply_markup"))
    source = params.get(field_name)
    if isinstance(source, UploadedFile):
        kind, extension = ("photos", ".jpg") if field_name == "photo" else ("documents", "")
        stored = double.add_file(source.content, kind=kind, extension=extension, mime_type=source.content_type)
        name = source.filename
    elif isinstance(source, str) and source in double._files:
        stored, name = double._files[source], None
    elif isinstance(source, str) and source.startswith(("http://", "https://")):
        stored, name = double.add_file(b"", kind="documents"), source.rsplit("/", 1)[-1]
    else:
        raise _bad_request(f"there is no {field_name} in the request")
    double._flood(chat_id)
    content: dict[str, Any]
    if field_name == "photo":
        content = {
            "photo": [
                {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.file_size}
                | {"width": 800, "height": 600}
            ]
        }
    else:
        document = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.file_size}
        if name:
            document["file_name"] = name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        content = {"document": document}
    if plain:
        content["caption"] = plain
    if markup is not None and "inline_keyboard" in markup:
        content["reply_markup"] = markup
    message = double._new_message(bot, chat_id, content)
    double._record_sent(bot, method, params, caption, plain, message)
    return message


def send_photo(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """sendPhoto: chat_id, photo (an upload, a known file_id or a URL), caption (0-1024 after parsing)."""
    return _media(double, bot, params, "sendPhoto", "photo")


def send_document(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """sendDocument: chat_id, document (an upload, a known file_id or a URL), caption (0-1024 after parsing)."""
    return _media(double, bot, params, "sendDocument", "document")


def _stored_message(double: TelegramDouble, bot: _Bot, params: dict[str, Any], missing: str) -> dict[str, Any]:
    if params.get("inline_message_id"):
        raise _bad_request(missing)
    chat_id = _chat_id(params.get("chat_id"))
    message = double._messages.get((bot.token, chat_id, _int(params, "message_id", 0)))
    if message is None:
        raise _bad_request(missing)
    return message


def edit_message_text(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """editMessageText: chat_id + message_id of a message the bot sent, text as for sendMessage; the same text
    and markup again is "message is not modified"."""
    message = _stored_message(double, bot, params, "message to edit not found")
    _, plain = _parsed_text(params, "text", MESSAGE_LIMIT, required=True)
    markup = _validate_markup(params.get("reply_markup"))
    if plain == message.get("text") and markup == message.get("reply_markup"):
        raise BotApiError(400, NOT_MODIFIED)
    message["text"] = plain
    message.pop("reply_markup", None)
    if markup is not None:
        message["reply_markup"] = markup
    message["edit_date"] = int(time.time())
    return copy.deepcopy(message)


def edit_message_reply_markup(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """editMessageReplyMarkup: replace (or, without reply_markup, remove) a sent message's inline keyboard."""
    message = _stored_message(double, bot, params, "message to edit not found")
    markup = _validate_markup(params.get("reply_markup"))
    if markup == message.get("reply_markup"):
        raise BotApiError(400, NOT_MODIFIED)
    message.pop("reply_markup", None)
    if markup is not None:
        message["reply_markup"] = markup
    message["edit_date"] = int(time.time())
    return copy.deepcopy(message)


def delete_message(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """deleteMessage: chat_id + message_id of a message the bot can delete."""
    message = _stored_message(double, bot, params, "message to delete not found")
    del double._messages[(bot.token, message["chat"]["id"], message["message_id"])]
    return True


def send_chat_action(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """sendChatAction: chat_id and one of the documented actions ("typing", …)."""
    chat_id = _chat_id(params.get("chat_id"))
    double._guard_send(chat_id)
    action = params.get("action")
    if action not in CHAT_ACTIONS:
        raise _bad_request("wrong parameter action in request")
    double._chat_actions.append(ChatAction(token=bot.token, chat_id=chat_id, action=str(action)))
    return True


def answer_callback_query(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """answerCallbackQuery: a callback_query_id the double handed out, answered once; text 0-200 characters."""
    query_id = str(params.get("callback_query_id") or "")
    text = params.get("text")
    if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
        raise _bad_request("MESSAGE_TOO_LONG")
    if double._callback_queries.get(query_id, True):
        raise BotApiError(400, QUERY_INVALID)
    double._callback_queries[query_id] = True
    double._answered.append(
        AnsweredCallback(
            token=bot.token,
            callback_query_id=query_id,
            text=None if text is None else str(text),
            show_alert=_bool(params, "show_alert"),
            url=params.get("url"),
        )
    )
    return True


def get_file(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> dict[str, Any]:
    """getFile: the File (file_id, file_unique_id, file_size, file_path) of a known file up to 20 MB."""
    stored = double._files.get(str(params.get("file_id") or ""))
    if stored is None:
        raise _bad_request("invalid file_id")
    if stored.file_size > DOWNLOAD_LIMIT:
        raise _bad_request("file is too big")
    return stored.as_file()


def set_my_commands(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """setMyCommands: commands as [{command: [a-z0-9_]{1,32}, description: 1-256 characters}]."""
    commands = params.get("commands")
    if not isinstance(commands, list):
        raise _bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _BOT_COMMAND.fullmatch(str(command.get("command", ""))):
            raise _bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands = commands
    return True


def get_my_commands(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> list[dict[str, Any]]:
    """getMyCommands: what setMyCommands stored."""
    return copy.deepcopy(bot.commands)


def delete_my_commands(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> bool:
    """deleteMyCommands."""
    bot.commands = []
    return True


_METHODS: dict[str, Handler | None] = {
    "getMe": get_me,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "getUpdates": None,  # asynchronous: see _get_updates
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "sendChatAction": send_chat_action,
    "answerCallbackQuery": answer_callback_query,
    "getFile": get_file,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
}
_CANONICAL = {name.lower(): name for name in _METHODS}


def _canonical(method: str) -> str:
    return _CANONICAL.get(method.lower(), method)


async def _get_updates(double: TelegramDouble, bot: _Bot, params: dict[str, Any]) -> list[dict[str, Any]]:
    """getUpdates: refused (409) while a webhook is set; `offset` confirms every update with a smaller id (a
    negative offset keeps only the last -offset ones); `limit` 1-100; `timeout` long-polls — the answer comes as
    soon as an update is queued, or empty after min(timeout, long_poll_cap) seconds; a newer getUpdates
    terminates a waiting one with 409; `allowed_updates` filters this and later requests."""
    with double._lock:
        if bot.webhook is not None:
            raise BotApiError(409, WEBHOOK_CONFLICT)
        offset = _int(params, "offset", 0)
        limit = min(100, max(1, _int(params, "limit", 100)))
        timeout = max(0, _int(params, "timeout", 0))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = allowed
        if offset < 0:
            del bot.updates[: max(0, len(bot.updates) + offset)]
        elif offset > 0:
            bot.updates[:] = [update for update in bot.updates if update["update_id"] >= offset]
        bot.poll_generation += 1
        generation = bot.poll_generation
    deadline = time.monotonic() + min(timeout, double.long_poll_cap)
    while True:
        with double._lock:
            if bot.poll_generation != generation:
                raise BotApiError(409, POLL_CONFLICT)
            bot.updates[:] = [update for update in bot.updates if _allowed(update, bot.allowed_updates)]
            if bot.updates or time.monotonic() >= deadline:
                return copy.deepcopy(bot.updates[:limit])
        await asyncio.sleep(0.01)


# --- HTTP ----------------------------------------------------------------------------------------------------------


async def _read_params(request: Request) -> dict[str, Any]:
    """Parameters from the query string and a JSON, urlencoded or multipart body; `attach://name` resolved to the
    uploaded part."""
    raw: dict[str, Any] = dict(request.query_params)
    files: dict[str, UploadedFile] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _bad_request("can't parse JSON object")
        raw.update(parsed)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = UploadedFile(value.filename, value.content_type, await value.read())
            else:
                raw[key] = value
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            params[key] = files[value[9:]]
        else:
            params[key] = _decode(key, value)
    for key, upload in files.items():
        if not any(value is upload for value in params.values()):
            params[key] = upload
    return params


async def bot_api(request: Request) -> Response:
    """`/bot<token>/<method>`: the Bot API method call, answered in the `{"ok": …}` envelope."""
    double: TelegramDouble = request.app.state.double
    token = request.path_params["token"]
    method = _canonical(request.path_params["method"])
    try:
        params = await _read_params(request)
    except BotApiError as error:
        call = double._record(token, method, {})
        call["status"] = error.status
        return JSONResponse(error.body(), error.status)
    call = double._record(token, method, params)
    try:
        bot = double._check(token, method)
        handler = _METHODS[method]
        if handler is None:
            result = await _get_updates(double, bot, params)
        else:
            with double._lock:
                result = handler(double, bot, params)
    except BotApiError as error:
        call["status"] = error.status
        return JSONResponse(error.body(), error.status)
    payload: dict[str, Any] = {"ok": True, "result": result}
    if method == "setWebhook":
        payload["description"] = "Webhook was set" if params.get("url") else "Webhook was deleted"
    elif method == "deleteWebhook":
        payload["description"] = "Webhook was deleted"
    return JSONResponse(payload)


async def download(request: Request) -> Response:
    """`/file/bot<token>/<file_path>`: the file's bytes; 404 for an unknown token or path."""
    double: TelegramDouble = request.app.state.double
    token, path = request.path_params["token"], request.path_params["path"]
    with double._lock:
        stored = double._file_paths.get(path) if token in double._bots else None
        double.downloads.append((token, path))
    if stored is None:
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
    return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")


async def not_found(request: Request) -> Response:
    """Anything else: Telegram's 404."""
    return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)


def create_app(double: TelegramDouble) -> Starlette:
    """The ASGI app serving `double` (usable in-process too, e.g. through `httpx.ASGITransport`)."""
    app = Starlette(
        routes=[
            Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
            Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST"]),
        ]
    )
    app.state.double = double
    return app


class TelegramServer(ThreadedServer):
    """Serves a `TelegramDouble` with uvicorn on 127.0.0.1 (a free port) in a background thread, as a context
    manager."""

    def __init__(self, double: TelegramDouble | None = None) -> None:
        self.double = double or TelegramDouble()
        super().__init__(create_app(self.double), "telegram-double")

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`: what `aiogram.client.telegram.TelegramAPIServer.from_base` takes (it appends
        `/bot{token}/{method}` and `/file/bot{token}/{path}`)."""
        return f"http://127.0.0.1:{self.port}"

    def api_url(self, token: str, method: str) -> str:
        """The URL of one method, for raw HTTP clients."""
        return f"{self.base_url}/bot{token}/{method}"

    def file_url(self, token: str, file_path: str) -> str:
        """The download URL of a file_path getFile returned."""
        return f"{self.base_url}/file/bot{token}/{file_path}"


@pytest.fixture(scope="session", name="telegram_server_session")
def telegram_server_session_fixture() -> Iterator[TelegramServer]:
    """One Telegram double server for the whole session."""
    with TelegramServer() as server:
        yield server


@pytest.fixture(name="telegram")
def telegram_fixture(telegram_server_session: TelegramServer) -> Iterator[TelegramServer]:
    """The session's Telegram double server with a fresh double (no bots, queues, files or logs) for this test."""
    telegram_server_session.double.reset()
    yield telegram_server_session
    telegram_server_session.double.reset()
