"""The Telegram Bot API double driven by the real aiogram 3 client over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.doubles.telegram_server import (
    EntityParseError,
    TelegramServer,
    UploadedFile,
    parse_html,
    parse_markdown_v2,
)
from tests.doubles.webhook_receiver import WebhookReceiver

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = 555_000_111


def make_bot(server: TelegramServer, token: str = TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))


@pytest.fixture(scope="module")
async def shared_bot(telegram_server_session: TelegramServer) -> AsyncIterator[Bot]:
    """One aiogram client for the module: closing an AiohttpSession costs a 250 ms grace sleep."""
    client = make_bot(telegram_server_session)
    yield client
    await client.session.close()


@pytest.fixture
def bot(telegram: TelegramServer, shared_bot: Bot) -> Bot:
    """The aiogram client, its token registered with this test's fresh double."""
    telegram.double.add_bot(TOKEN, username="salon_lotos_bot")
    return shared_bot


# --- identity and auth ---------------------------------------------------------------------------------------------


async def test_get_me_returns_the_registered_bot(bot: Bot, telegram: TelegramServer) -> None:
    me = await bot.get_me()

    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "salon_lotos_bot"
    assert me.can_join_groups is True
    assert telegram.double.calls[-1]["method"] == "getMe"
    assert telegram.double.calls[-1]["token"] == TOKEN


async def test_unknown_token_is_unauthorized(telegram: TelegramServer) -> None:
    stranger = make_bot(telegram, "42:unknown-token")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_unknown_method_and_json_bodies_over_raw_http(telegram: TelegramServer) -> None:
    telegram.double.add_bot(TOKEN)
    async with httpx.AsyncClient() as client:
        missing = await client.post(telegram.api_url(TOKEN, "sendTelepathy"), json={})
        sent = await client.post(
            telegram.api_url(TOKEN, "SENDMESSAGE"),
            json={"chat_id": CHAT, "text": "123", "reply_markup": json.dumps({"remove_keyboard": True})},
        )

    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert sent.json()["ok"] is True
    call = telegram.double.calls_to("sendMessage")[0]
    assert call["params"] == {"chat_id": CHAT, "text": "123", "reply_markup": {"remove_keyboard": True}}


# --- webhook and getUpdates ----------------------------------------------------------------------------------------


async def test_webhook_blocks_get_updates_until_deleted(bot: Bot, telegram: TelegramServer) -> None:
    assert await bot.set_webhook(
        "https://easyflow.example/telegram/hook", secret_token="s3cr3t-Token_1", allowed_updates=["message"]
    )

    info = await bot.get_webhook_info()
    assert info.url == "https://easyflow.example/telegram/hook"
    assert info.allowed_updates == ["message"]
    params = telegram.double.calls_to("setWebhook")[0]["params"]
    assert params["secret_token"] == "s3cr3t-Token_1"
    assert params["allowed_updates"] == ["message"]
    webhook = telegram.double.webhook(TOKEN)
    assert webhook is not None and webhook.secret_token == "s3cr3t-Token_1"

    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()

    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []


async def test_secret_token_with_unallowed_characters_is_refused(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("https://easyflow.example/hook", secret_token="no spaces!")


async def test_long_poll_returns_as_soon_as_an_update_is_queued(bot: Bot, telegram: TelegramServer) -> None:
    double = telegram.double
    double.long_poll_cap = 5
    update = double.text_update(10, CHAT, "Здравствуйте! Сколько стоит стрижка?")
    timer = threading.Timer(0.2, double.queue_update, (TOKEN, update))
    timer.start()
    started = time.monotonic()

    updates = await bot.get_updates(timeout=30)

    assert time.monotonic() - started < 2
    assert [each.update_id for each in updates] == [10]
    message = updates[0].message
    assert message is not None and message.text == "Здравствуйте! Сколько стоит стрижка?"
    assert message.from_user is not None and message.from_user.first_name == "Иван"
    assert message.from_user.language_code == "ru"


async def test_offset_confirms_earlier_updates(bot: Bot, telegram: TelegramServer) -> None:
    double = telegram.double
    double.long_poll_cap = 0.1
    for update_id in (1, 2, 3):
        double.queue_update(TOKEN, double.text_update(update_id, CHAT, f"сообщение {update_id}"))

    assert [u.update_id for u in await bot.get_updates(limit=2)] == [1, 2]
    assert [u.update_id for u in await bot.get_updates(offset=3)] == [3]
    assert [u["update_id"] for u in double.pending_updates(TOKEN)] == [3]
    assert (await bot.get_webhook_info()).pending_update_count == 1

    started = time.monotonic()
    assert await bot.get_updates(offset=4, timeout=30) == []
    assert time.monotonic() - started < 1  # capped by long_poll_cap
    assert double.pending_updates(TOKEN) == []


async def test_a_newer_get_updates_terminates_the_waiting_one(bot: Bot, telegram: TelegramServer) -> None:
    telegram.double.long_poll_cap = 2
    waiting = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.2)

    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await waiting


# --- sending -------------------------------------------------------------------------------------------------------


async def test_send_message_with_inline_keyboard(bot: Bot, telegram: TelegramServer) -> None:
    double = telegram.double
    double.queue_update(TOKEN, double.text_update(1, CHAT, "привет", first_name="Анна", username="anna"))
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Записаться", callback_data="book:42")]]
    )

    message = await bot.send_message(CHAT, "Выберите услугу", reply_markup=keyboard)

    assert message.text == "Выберите услугу"
    assert message.chat.id == CHAT and message.chat.first_name == "Анна"
    assert message.from_user is not None and message.from_user.is_bot
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump() == keyboard.model_dump()
    [sent] = double.sent_messages(CHAT)
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Записаться", "callback_data": "book:42"}]]}
    assert sent["message_id"] == message.message_id
    assert double.sent_messages(CHAT + 1) == []


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="я" * 33)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "text", reply_markup=keyboard)


async def test_markdown_v2_requires_escaping(bot: Bot, telegram: TelegramServer) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(CHAT, "Стрижка стоит 1500 руб.", parse_mode="MarkdownV2")
    assert refused.value.message == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
    )

    message = await bot.send_message(CHAT, "*Стрижка* стоит 1500 руб\\. \\(скидка \\-10%\\)", parse_mode="MarkdownV2")
    assert message.text == "Стрижка стоит 1500 руб. (скидка -10%)"
    assert telegram.double.sent_messages()[0]["plain_text"] == message.text

    # Without parse_mode the same characters are just text.
    assert (await bot.send_message(CHAT, "1500 руб.")).text == "1500 руб."


async def test_text_limit_is_4096_characters_after_parsing(bot: Bot) -> None:
    await bot.send_message(CHAT, "я" * 4096)
    await bot.send_message(CHAT, "\\." * 4096, parse_mode="MarkdownV2")  # 8192 sent, 4096 after parsing
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(CHAT, "я" * 4097)


async def test_retry_after_is_reported(bot: Bot, telegram: TelegramServer) -> None:
    telegram.double.fail_next("sendMessage", 429, retry_after=5)

    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(CHAT, "первое")
    assert flood.value.retry_after == 5
    assert "Too Many Requests: retry after 5" in flood.value.message

    assert (await bot.send_message(CHAT, "второе")).text == "второе"
    assert [call["status"] for call in telegram.double.calls_to("sendMessage")] == [429, 200]
    assert [sent["text"] for sent in telegram.double.sent_messages()] == ["второе"]


async def test_per_chat_flood_control(bot: Bot, telegram: TelegramServer) -> None:
    telegram.double.chat_send_interval = 1.0
    await bot.send_message(CHAT, "раз")
    await bot.send_message(CHAT + 1, "другой чат")
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(CHAT, "два")
    assert flood.value.retry_after == 1


async def test_blocked_user_is_forbidden(bot: Bot, telegram: TelegramServer) -> None:
    telegram.double.block(CHAT)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "Ваша запись подтверждена")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(CHAT, "typing")

    telegram.double.unblock(CHAT)
    assert await bot.send_chat_action(CHAT, "typing")


async def test_chat_action(bot: Bot, telegram: TelegramServer) -> None:
    assert await bot.send_chat_action(CHAT, "typing")
    assert telegram.double.chat_actions == [{"token": TOKEN, "chat_id": CHAT, "action": "typing"}]
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(CHAT, "dancing")


async def test_edit_and_delete_messages(bot: Bot, telegram: TelegramServer) -> None:
    sent = await bot.send_message(CHAT, "Думаю…")
    edited = await bot.edit_message_text("Готово", chat_id=CHAT, message_id=sent.message_id)

    assert isinstance(edited, type(sent)) and edited.text == "Готово"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Готово", chat_id=CHAT, message_id=sent.message_id)
    assert [m["text"] for m in telegram.double.chat_history(CHAT)] == ["Готово"]
    assert await bot.delete_message(CHAT, sent.message_id)
    assert telegram.double.chat_history(CHAT) == []
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("ещё", chat_id=CHAT, message_id=sent.message_id)


async def test_commands(bot: Bot, telegram: TelegramServer) -> None:
    assert await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


# --- callbacks and files -------------------------------------------------------------------------------------------


async def test_answer_callback_query_once(bot: Bot, telegram: TelegramServer) -> None:
    double = telegram.double
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Да", callback_data="yes")]])
    sent = await bot.send_message(CHAT, "Подтвердить?", reply_markup=keyboard)
    update = Update.model_validate(double.callback_update(7, CHAT, "yes", sent.message_id))
    query = update.callback_query
    assert query is not None and query.data == "yes"
    assert query.message is not None and query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(query.id, text="Готово", show_alert=True)

    assert double.answered_callbacks == [
        {"token": TOKEN, "callback_query_id": query.id, "text": "Готово", "show_alert": True, "url": None}
    ]
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)


async def test_photo_get_file_and_download(bot: Bot, telegram: TelegramServer) -> None:
    content = b"\xff\xd8\xff\xe0 a tiny jpeg \xff\xd9"
    update = Update.model_validate(telegram.double.photo_update(3, CHAT, content, caption="Вот фото"))
    message = update.message
    assert message is not None and message.photo is not None and message.caption == "Вот фото"
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (1280, 960)
    assert message.photo[0].width < largest.width

    file = await bot.get_file(largest.file_id)
    assert file.file_path is not None and file.file_size == len(content)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == content
    by_id = await bot.download(largest.file_id)
    assert by_id is not None and by_id.read() == content
    assert telegram.double.downloads == [(TOKEN, file.file_path)] * 2

    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nonexistent")


async def test_document_and_too_big_files(bot: Bot, telegram: TelegramServer) -> None:
    small = Update.model_validate(telegram.double.document_update(4, CHAT, b"price list", "прайс.txt", "text/plain"))
    big = Update.model_validate(telegram.double.document_update(5, CHAT, file_size=25 * 1024 * 1024))
    assert small.message is not None and small.message.document is not None
    assert small.message.document.file_name == "прайс.txt"
    assert small.message.document.mime_type == "text/plain"
    assert small.message.document.file_size == 10

    downloaded = await bot.download(small.message.document.file_id)
    assert downloaded is not None and downloaded.read() == b"price list"
    assert big.message is not None and big.message.document is not None
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(big.message.document.file_id)


async def test_builders_match_aiogram_types(telegram: TelegramServer) -> None:
    double = telegram.double
    start = Update.model_validate(double.start_update(1, CHAT, "ref-abc", username="ivan"))
    command = Update.model_validate(double.text_update(2, CHAT, "Покажи /help пожалуйста", language_code=None))

    assert start.message is not None and start.message.text == "/start ref-abc"
    assert start.message.entities is not None and start.message.entities[0].type == "bot_command"
    assert start.message.chat.username == "ivan" and start.message.chat.type == "private"
    assert command.message is not None and command.message.entities is not None
    entity = command.message.entities[0]
    assert (entity.offset, entity.length) == (7, 5)
    assert command.message.from_user is not None and command.message.from_user.language_code is None
    assert command.message.message_id == start.message.message_id + 1


# --- webhook delivery ----------------------------------------------------------------------------------------------


async def test_deliver_update_posts_to_the_webhook_with_the_secret(
    bot: Bot, telegram: TelegramServer, webhook_receiver: WebhookReceiver
) -> None:
    double = telegram.double
    await bot.set_webhook(webhook_receiver.url, secret_token="hook-secret", allowed_updates=["message"])
    update = double.text_update(11, CHAT, "Хочу записаться")

    status = await asyncio.to_thread(double.deliver_update, TOKEN, update)

    assert status == 200
    [received] = webhook_receiver.received
    assert received.path == "/hooks/easyflow"
    assert received.headers["x-telegram-bot-api-secret-token"] == "hook-secret"
    assert received.headers["content-type"] == "application/json"
    assert json.loads(received.body) == update
    # allowed_updates=["message"]: a callback query is not sent.
    assert await asyncio.to_thread(double.deliver_update, TOKEN, double.callback_update(12, CHAT, "x", 1)) is None

    webhook_receiver.statuses.append(500)
    assert await double.adeliver_update(TOKEN, double.text_update(13, CHAT, "ещё")) == 500
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert [delivery["status"] for delivery in double.deliveries] == [200, 500]


async def test_adeliver_update_to_an_in_process_app(bot: Bot, telegram: TelegramServer) -> None:
    seen: list[tuple[str | None, Any]] = []

    async def hook(request: Request) -> Response:
        seen.append((request.headers.get("x-telegram-bot-api-secret-token"), await request.json()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/telegram/{bot_id}", hook, methods=["POST"])])
    await bot.set_webhook("http://testserver/telegram/1", secret_token="abc")
    update = telegram.double.text_update(1, CHAT, "hi")

    assert await telegram.double.adeliver_update(TOKEN, update, transport=httpx.ASGITransport(app=app)) == 204
    assert seen == [("abc", update)]


async def test_deliver_update_without_webhook_is_a_test_bug(telegram: TelegramServer) -> None:
    telegram.double.add_bot(TOKEN)
    with pytest.raises(RuntimeError, match="setWebhook"):
        telegram.double.deliver_update(TOKEN, {"update_id": 1, "message": {}})


# --- entity parsing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("plain text", "plain text"),
        ("*bold* _italic_ __under__ ~strike~ ||spoiler||", "bold italic under strike spoiler"),
        ("[ссылка](https://example.com/a_\\(b\\))", "ссылка"),
        ("`code with * and _`", "code with * and _"),
        ("```python\nprint(1)\n```", "print(1)\n"),
        ("> цитата\nдальше", " цитата\nдальше"),
        ("\\_\\*\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!", "_*[]()~`>#+-=|{}.!"),
        ("Привет\\!", "Привет!"),
    ],
)
def test_markdown_v2_parsing(text: str, plain: str) -> None:
    assert parse_markdown_v2(text) == plain


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Привет!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
        ("a-b", "Character '-' is reserved"),
        ("*жирный", "Can't find end of Bold entity at byte offset 0"),
        ("ок _курсив", "Can't find end of Italic entity at byte offset 5"),
        ("[link](http://x", "Can't find end of a URL"),
        ("a | b", "Character '|' is reserved"),
    ],
)
def test_markdown_v2_errors(text: str, error: str) -> None:
    with pytest.raises(EntityParseError) as refused:
        parse_markdown_v2(text)
    assert error in str(refused.value)


def test_html_parsing() -> None:
    assert parse_html('<b>Цена</b>: 1&lt;2 &amp; <a href="https://x.ru?a=1&b=2">тут</a>') == "Цена: 1<2 & тут"
    with pytest.raises(EntityParseError, match='Unsupported start tag "br"'):
        parse_html("a<br>b")
    with pytest.raises(EntityParseError, match='Can\'t find end tag corresponding to start tag "b"'):
        parse_html("<b>open")


async def test_multipart_upload_is_decoded(bot: Bot, telegram: TelegramServer) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Ок", callback_data="ok")]])
    message = await bot.send_document(
        CHAT,
        BufferedInputFile(b"%PDF-1.4 price", filename="price.pdf"),
        caption="Прайс\\-лист",
        parse_mode="MarkdownV2",
        reply_markup=keyboard,
    )

    assert message.document is not None and message.document.file_name == "price.pdf"
    assert message.caption == "Прайс-лист"
    [sent] = telegram.double.sent_messages(CHAT)
    upload = sent["params"]["document"]
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.content) == ("price.pdf", b"%PDF-1.4 price")
    assert sent["params"]["chat_id"] == CHAT
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Ок", "callback_data": "ok"}]]}
    downloaded = await bot.download(message.document.file_id)
    assert downloaded is not None and downloaded.read() == b"%PDF-1.4 price"
