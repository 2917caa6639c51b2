"""Telegram over real HTTP against the Bot API double: connect, webhook in, reply out; secrets, duplicates,
429 and blocked bots; /start payloads, photos, documents and button presses; long and reserved-character
replies."""

from __future__ import annotations

import asyncio
import base64
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels import telegram as telegram_module
from easyflow.channels.polling import TelegramPoller
from easyflow.channels.telegram import escape_markdown, split_message
from easyflow.conversations import typing_indicator
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, delay, reply
from tests.doubles.telegram_server import TelegramDouble, TelegramServer
from tests.inbox.staff import send_as_staff, sign_in

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = 700_100_200


@pytest.fixture
async def bot(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, telegram: TelegramServer) -> dict:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(TOKEN, username="lotos_salon_bot")
    response = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": TOKEN, "mode": "webhook"}, headers=tenant_a.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def telegram_bot(runtime: Runtime, telegram: TelegramServer) -> TelegramServer:
    """The app pointed at the Telegram double, which knows the bot TOKEN (no channel connected yet)."""
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(TOKEN)
    return telegram


async def send_update(
    client: httpx.AsyncClient, telegram: TelegramServer, channel: dict, update: dict
) -> httpx.Response:
    secret = telegram.double.webhook(TOKEN).secret_token
    return await client.post(
        f"/webhooks/telegram/{channel['id']}", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
    )


async def use_model(client: httpx.AsyncClient, tenant: TenantFixture, llm: LLMServer, **model: object) -> dict:
    """Give the tenant's default assistant a model on the LLM double; returns the assistant."""
    assistant = (await client.get("/api/v1/assistants", headers=tenant.headers)).json()["items"][0]
    config = {"provider": "openai_compatible", "model_name": "gpt-4o", "base_url": llm.base_url, **model}
    changed = await client.patch(
        f"/api/v1/assistants/{assistant['id']}", json={"model": config}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text
    return dict(changed.json())


async def stored_messages(session: AsyncSession) -> list[tuple]:
    await enter_system_scope(session)
    rows = await session.execute(
        text("SELECT role, text, delivery_status, attachments FROM messages ORDER BY position")
    )
    return [tuple(row) for row in rows]


async def test_connecting_checks_the_token_and_registers_a_secret_webhook(bot: dict, telegram: TelegramServer) -> None:
    assert bot["name"] == "lotos_salon_bot"
    assert bot["config"]["username"] == "lotos_salon_bot"
    webhook = telegram.double.webhook(TOKEN)
    assert webhook.url == f"http://testserver/webhooks/telegram/{bot['id']}"
    assert len(webhook.secret_token) >= 32
    assert [c["method"] for c in telegram.double.calls][:2] == ["getMe", "setWebhook"]


async def test_a_token_telegram_refuses_is_422(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, telegram: TelegramServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    response = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": "999:" + "x" * 35}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    assert "does not accept this bot token" in response.json()["detail"]


async def test_webhook_in_reply_out(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, session: AsyncSession
) -> None:
    update = telegram.double.text_update(1001, CHAT, "Здравствуйте!")
    assert (await send_update(client, telegram, bot, update)).status_code == 200
    await run_queued_jobs(runtime)
    [sent] = telegram.double.sent_messages(CHAT)
    assert sent["plain_text"].startswith("Здравствуйте! Я виртуальный помощник")
    assert sent["parse_mode"] == "MarkdownV2"
    assert telegram.double.chat_actions and telegram.double.chat_actions[0]["action"] == "typing"
    assert [(r[0], r[2]) for r in await stored_messages(session)] == [("contact", "received"), ("assistant", "sent")]
    conversations = (await client.get("/api/v1/conversations", headers={"Authorization": "x"})).status_code
    assert conversations == 401


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""])
async def test_a_wrong_or_missing_secret_is_401_and_stores_nothing(
    client: httpx.AsyncClient, bot: dict, telegram: TelegramServer, session: AsyncSession, secret: str | None
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    update = telegram.double.text_update(1, CHAT, "hi")
    response = await client.post(f"/webhooks/telegram/{bot['id']}", json=update, headers=headers)
    assert response.status_code == 401
    assert await stored_messages(session) == []


async def test_malformed_updates_and_unknown_channels(
    client: httpx.AsyncClient, bot: dict, telegram: TelegramServer, session: AsyncSession, tenant_a: TenantFixture
) -> None:
    # From Telegram (the secret matches) yet unreadable: refusing it would only have it sent again, forever.
    assert (await send_update(client, telegram, bot, {"update_id": "not a number"})).status_code == 200
    shown = (await client.get(f"/api/v1/channels/{bot['id']}", headers=tenant_a.headers)).json()
    assert "Not a Telegram update" in shown["config"]["inbound_error"]["detail"]
    raw = await client.post(
        f"/webhooks/telegram/{bot['id']}",
        content=b"{not json",
        headers={
            "X-Telegram-Bot-Api-Secret-Token": telegram.double.webhook(TOKEN).secret_token,
            "content-type": "application/json",
        },
    )
    assert raw.status_code == 400
    unknown = await client.post(
        "/webhooks/telegram/00000000-0000-0000-0000-000000000000",
        json=telegram.double.text_update(2, CHAT, "x"),
        headers={"X-Telegram-Bot-Api-Secret-Token": "anything"},
    )
    assert unknown.status_code == 404
    assert await stored_messages(session) == []


async def test_a_redelivered_update_is_answered_once(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer
) -> None:
    update = telegram.double.text_update(2001, CHAT, "Привет")
    for _ in range(3):
        assert (await send_update(client, telegram, bot, update)).status_code == 200
    await run_queued_jobs(runtime)
    assert len(telegram.double.sent_messages(CHAT)) == 1


async def test_a_429_is_waited_out_and_delivered(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer
) -> None:
    telegram.double.fail_next("sendMessage", 429, retry_after=1)
    await send_update(client, telegram, bot, telegram.double.text_update(3001, CHAT, "Привет"))
    await run_queued_jobs(runtime)
    assert len(telegram.double.sent_messages(CHAT)) == 1
    attempts = [c for c in telegram.double.calls_to("sendMessage")]
    assert [c["status"] for c in attempts] == [429, 200]


async def test_a_customer_who_blocked_the_bot_is_marked_unreachable(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    telegram.double.block(CHAT)
    await send_update(client, telegram, bot, telegram.double.text_update(4001, CHAT, "Привет"))
    await run_queued_jobs(runtime)
    assert len(telegram.double.calls_to("sendMessage")) == 1  # tried once, not retried forever
    [conversation] = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    assert conversation["contact"]["unreachable"] is True
    assert (await stored_messages(session))[-1][2] == "failed"


async def test_start_payloads_photos_documents_and_buttons(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, session: AsyncSession
) -> None:
    double = telegram.double
    await send_update(client, telegram, bot, double.start_update(5001, CHAT, payload="promo-autumn"))
    await send_update(client, telegram, bot, double.photo_update(5002, CHAT, caption="Вот так хочу"))
    await send_update(client, telegram, bot, double.document_update(5003, CHAT, file_name="анализы.pdf"))
    sent = await send_update(client, telegram, bot, double.callback_update(5004, CHAT, "Завтра", message_id=1))
    assert sent.status_code == 200
    stored = [row for row in await stored_messages(session) if row[0] == "contact"]
    assert stored[0][1] == "/start promo-autumn"
    assert {"kind": "start", "payload": "promo-autumn"} in stored[0][3]
    assert stored[1][1] == "Вот так хочу" and stored[1][3][0]["kind"] == "photo" and stored[1][3][0]["file_id"]
    assert stored[2][3][0]["name"] == "анализы.pdf" and stored[2][3][0]["mime_type"] == "application/pdf"
    assert stored[3][1] == "Завтра"
    assert len(double.answered_callbacks) == 1


async def test_photos_and_documents_are_fetched_and_kept_for_operators(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, tenant_a: TenantFixture
) -> None:
    double = telegram.double
    photo = b"\xff\xd8\xff\xe0" + "снимок".encode() + b"\x00" * 32 + b"\xff\xd9"
    pdf = b"%PDF-1.4\n%%EOF\n"
    await send_update(client, telegram, bot, double.photo_update(6001, CHAT, content=photo, caption="Вот фото"))
    await send_update(client, telegram, bot, double.document_update(6002, CHAT, content=pdf, file_name="счёт.pdf"))
    huge = double.document_update(6003, CHAT, file_name="видео.mp4", mime_type="video/mp4", file_size=30 * 1024 * 1024)
    await send_update(client, telegram, bot, huge)
    ran = await run_queued_jobs(runtime)
    assert ran.count("channels.telegram_fetch_files") == 3

    conversation = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"][0]
    url = f"/api/v1/conversations/{conversation['id']}"
    contact_messages = [
        m for m in (await client.get(f"{url}/messages", headers=tenant_a.headers)).json() if m["role"] == "contact"
    ]
    downloads = []
    for message in contact_messages[:2]:
        [attachment] = message["attachments"]
        download = await client.get(f"{url}/files/{attachment['stored_file_id']}", headers=tenant_a.headers)
        assert download.status_code == 200
        downloads.append((download.content, download.headers["content-type"]))
    assert downloads == [(photo, "image/jpeg"), (pdf, "application/pdf")]
    [too_big] = contact_messages[2]["attachments"]
    assert too_big["stored_file_id"] is None and "20 MB" in too_big["not_stored"]
    assert len(double.calls_to("getFile")) == 2


async def test_long_replies_are_split_and_reserved_characters_escaped(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
) -> None:
    await use_model(client, tenant_a, llm)
    long_text = " ".join(f"Пункт {i}: цена 1.500 (скидка -10%) — см. [прайс]!" for i in range(200))
    llm.double.script(reply(long_text))
    await send_update(client, telegram, bot, telegram.double.text_update(6001, CHAT, "Расскажите всё"))
    await run_queued_jobs(runtime)
    parts = telegram.double.sent_messages(CHAT)
    assert len(parts) >= 3
    assert all(len(p["plain_text"]) <= 4096 for p in parts)
    assert " ".join(p["plain_text"] for p in parts) == long_text
    assert all(p["plain_text"].rstrip().endswith("!") for p in parts)


async def test_typing_is_shown_for_as_long_as_the_model_thinks(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(typing_indicator, "TYPING_REFRESH_SECONDS", 0.2)
    await use_model(client, tenant_a, llm)
    llm.double.script(delay(1.2, then=reply("Подумал и отвечаю.")))
    await send_update(client, telegram, bot, telegram.double.text_update(6101, CHAT, "Сложный вопрос"))
    await run_queued_jobs(runtime)
    typing = [a for a in telegram.double.chat_actions if a["action"] == "typing"]
    assert len(typing) >= 4  # renewed every 0.2 s while the model took 1.2 s...
    await asyncio.sleep(0.6)
    assert len([a for a in telegram.double.chat_actions if a["action"] == "typing"]) == len(typing)  # ...not after
    [sent] = telegram.double.sent_messages(CHAT)
    assert sent["plain_text"] == "Подумал и отвечаю."


async def test_a_paused_channel_takes_updates_but_does_not_answer(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, tenant_a: TenantFixture
) -> None:
    await client.patch(f"/api/v1/channels/{bot['id']}", json={"status": "paused"}, headers=tenant_a.headers)
    assert (await send_update(client, telegram, bot, telegram.double.text_update(7001, CHAT, "hi"))).status_code == 200
    await run_queued_jobs(runtime)
    assert telegram.double.sent_messages(CHAT) == []


async def test_removing_the_channel_removes_the_webhook(
    client: httpx.AsyncClient, bot: dict, telegram: TelegramServer, tenant_a: TenantFixture
) -> None:
    assert (await client.delete(f"/api/v1/channels/{bot['id']}", headers=tenant_a.headers)).status_code == 204
    assert telegram.double.calls_to("deleteWebhook")


def test_split_message_keeps_sentences_whole() -> None:
    text = "Первое предложение. " * 300 + "Последнее!"
    parts = split_message(text, limit=500)
    assert all(len(p) <= 500 for p in parts)
    assert all(p.endswith((".", "!")) for p in parts)
    assert " ".join(parts) == text.strip()
    assert split_message("x" * 1200, limit=500) == ["x" * 500, "x" * 500, "x" * 200]


def test_escape_markdown_escapes_every_reserved_character() -> None:
    assert escape_markdown("a_b*c[d]e(f)g~h`i>j#k+l-m=n|o{p}q.r!s\\t") == (
        "a\\_b\\*c\\[d\\]e\\(f\\)g\\~h\\`i\\>j\\#k\\+l\\-m\\=n\\|o\\{p\\}q\\.r\\!s\\\\t"
    )


async def test_without_a_public_https_address_the_bot_is_polled(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    session: AsyncSession,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    double = telegram.double
    double.add_bot(TOKEN)
    created = await client.post("/api/v1/channels", json={"type": "telegram", "token": TOKEN}, headers=tenant_a.headers)
    channel = created.json()
    assert channel["config"]["mode"] == "polling"  # http://testserver is not a public https address
    assert double.webhook(TOKEN) is None or not double.webhook(TOKEN).url
    double.queue_update(TOKEN, double.text_update(8001, CHAT, "Привет"))
    double.queue_update(TOKEN, double.callback_update(8002, CHAT, "Завтра", message_id=1))
    poller = TelegramPoller(runtime)
    assert await poller.poll_once(uuid.UUID(channel["id"])) == 2
    assert await poller.poll_once(uuid.UUID(channel["id"])) == 0  # the offset confirmed both
    await run_queued_jobs(runtime)
    assert len(double.sent_messages(CHAT)) == 1  # both messages answered in one reply
    assert len(double.answered_callbacks) == 1
    stored = (await client.get(f"/api/v1/channels/{channel['id']}", headers=tenant_a.headers)).json()
    assert stored["config"]["offset"] == 8003
    # A redelivered update (Telegram lost our confirmation) is answered once.
    double.queue_update(TOKEN, double.text_update(8001, CHAT, "Привет"))
    await poller.poll_once(uuid.UUID(channel["id"]))
    await run_queued_jobs(runtime)
    assert len(double.sent_messages(CHAT)) == 1


def image_parts(request: dict) -> list[str]:
    """The data URLs of the pictures in the last user message an OpenAI-style request carried."""
    content = [m for m in request["json"]["messages"] if m["role"] == "user"][-1]["content"]
    if isinstance(content, str):
        return []
    return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]


@pytest.mark.parametrize("sees_pictures", [True, False])
async def test_a_photo_is_fetched_before_the_reply_and_shown_to_a_model_that_sees(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
    sees_pictures: bool,
) -> None:
    changed = await use_model(client, tenant_a, llm, provider="openai", sees_pictures=sees_pictures)
    assert changed["model"]["sees_pictures"] is sees_pictures
    llm.double.script(reply("Красивая стрижка, запишем!"))
    photo = b"\xff\xd8\xff\xe0" + b"\x42" * 64 + b"\xff\xd9"
    await send_update(client, telegram, bot, telegram.double.photo_update(6201, CHAT, content=photo, caption="Так"))
    ran = await run_queued_jobs(runtime)
    # (the funnel's job for the new conversation runs too, in its own queue: tests/crm)
    assert [job for job in ran if not job.startswith("crm.")][:2] == [
        "channels.telegram_fetch_files",
        "conversations.reply",
    ]
    expected = ["data:image/jpeg;base64," + base64.b64encode(photo).decode()] if sees_pictures else []
    assert image_parts(llm.double.requests[-1]) == expected
    assert telegram.double.sent_messages(CHAT)[-1]["plain_text"] == "Красивая стрижка, запишем!"


async def test_an_album_is_answered_photo_by_photo_each_one_seen(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
) -> None:
    await use_model(client, tenant_a, llm, provider="openai", sees_pictures=True)
    llm.double.script(reply("Первое фото."), reply("Второе фото."), reply("Третье фото."))
    photos = [b"\xff\xd8\xff\xe0" + bytes([n]) * 40 + b"\xff\xd9" for n in (1, 2, 3)]
    for n, photo in enumerate(photos):  # an album: three updates at once, before any job runs
        await send_update(client, telegram, bot, telegram.double.photo_update(6300 + n, CHAT, content=photo))
    await run_queued_jobs(runtime)
    seen = [image_parts(request) for request in llm.double.requests[-3:]]
    assert seen == [["data:image/jpeg;base64," + base64.b64encode(photo).decode()] for photo in photos]


async def test_a_document_that_only_claims_to_be_a_picture_is_not_shown_as_one(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
) -> None:
    await use_model(client, tenant_a, llm, provider="openai", sees_pictures=True)
    llm.double.script(reply("Получили документ."))
    pdf = b"%PDF-1.4\n%%EOF\n"
    update = telegram.double.document_update(6400, CHAT, content=pdf, file_name="фото.png", mime_type="image/png")
    await send_update(client, telegram, bot, update)
    await run_queued_jobs(runtime)
    assert image_parts(llm.double.requests[-1]) == []
    conversation = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"][0]
    url = f"/api/v1/conversations/{conversation['id']}"
    [attachment] = (await client.get(f"{url}/messages", headers=tenant_a.headers)).json()[0]["attachments"]
    stored = await client.get(f"{url}/files/{attachment['stored_file_id']}", headers=tenant_a.headers)
    assert stored.headers["content-type"] == "application/pdf" and stored.content == pdf


async def test_an_expired_file_link_is_noted_and_the_reply_still_goes_out(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, tenant_a: TenantFixture
) -> None:
    await send_update(client, telegram, bot, telegram.double.photo_update(6500, CHAT, caption="Вот"))
    telegram.double.expire_file_links()
    ran = await run_queued_jobs(runtime)  # nothing raises: the job notes the failure and the reply follows
    # (the funnel's job for the new conversation runs too, in its own queue: tests/crm)
    assert [job for job in ran if not job.startswith("crm.")][:2] == [
        "channels.telegram_fetch_files",
        "conversations.reply",
    ]
    conversation = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"][0]
    messages = (
        await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=tenant_a.headers)
    ).json()
    [attachment] = messages[0]["attachments"]
    assert attachment["stored_file_id"] is None and "could not be reached" in attachment["not_stored"]
    assert attachment["awaiting_file"] is False
    assert len(telegram.double.sent_messages(CHAT)) == 1


def poisoned_then_good(double: TelegramDouble, first_id: int) -> list[dict]:
    """An update whose caption, sender's name and file name carry U+0000 (Telegram passes it through from
    customers; PostgreSQL cannot store it), then an ordinary one."""
    poisoned = double.document_update(
        first_id, CHAT, file_name="прайс\x00.pdf", caption="Сколько\x00 стоит?", first_name="Ив\x00ан"
    )
    return [poisoned, double.text_update(first_id + 1, CHAT, "А запись на завтра есть?")]


@pytest.fixture(params=["webhook", "polling"])
async def bot_in_any_mode(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram_bot: TelegramServer,
) -> dict:
    created = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": TOKEN, "mode": request.param}, headers=tenant_a.headers
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def hand_over(
    updates: list[dict], client: httpx.AsyncClient, runtime: Runtime, telegram: TelegramServer, channel: dict
) -> None:
    """Give the app the updates as Telegram would in the channel's mode: the next comes only once the one
    before it is acknowledged."""
    if channel["config"]["mode"] == "webhook":
        for update in updates:
            assert (await send_update(client, telegram, channel, update)).status_code == 200
        return
    for update in updates:
        telegram.double.queue_update(TOKEN, update)
    poller = TelegramPoller(runtime)
    assert await poller.poll_once(uuid.UUID(channel["id"])) == len(updates)
    assert await poller.poll_once(uuid.UUID(channel["id"])) == 0  # confirmed: Telegram will not send them again


async def contact_messages(session: AsyncSession) -> list[tuple[str, str, str | None]]:
    """(contact's name, text, attachment's name) of the customers' messages."""
    await enter_system_scope(session)
    rows = await session.execute(
        text(
            "SELECT c.name, m.text, m.attachments -> 0 ->> 'name' FROM messages m "
            "JOIN conversations v ON v.id = m.conversation_id JOIN contacts c ON c.id = v.contact_id "
            "WHERE m.role = 'contact' ORDER BY m.position"
        )
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def test_a_nul_in_an_update_is_dropped_and_the_next_update_still_comes(
    client: httpx.AsyncClient, runtime: Runtime, telegram: TelegramServer, session: AsyncSession, bot_in_any_mode: dict
) -> None:
    await hand_over(poisoned_then_good(telegram.double, 9001), client, runtime, telegram, bot_in_any_mode)
    assert await contact_messages(session) == [
        ("Иван", "Сколько стоит?", "прайс.pdf"),
        ("Иван", "А запись на завтра есть?", None),
    ]
    await run_queued_jobs(runtime)
    assert telegram.double.sent_messages(CHAT)


async def test_an_update_that_cannot_be_stored_is_set_aside_where_the_tenant_sees_it(
    client: httpx.AsyncClient,
    runtime: Runtime,
    telegram: TelegramServer,
    session: AsyncSession,
    tenant_a: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
    bot_in_any_mode: dict,
) -> None:
    """Whatever else may one day be unstorable (here the NUL, with its cleaning switched off), the update
    fails alone: it is acknowledged, the tenant is told on the channel, and the next one is answered."""
    monkeypatch.setattr(telegram_module, "json_without_nul", lambda value: value)
    channel = bot_in_any_mode
    await hand_over(poisoned_then_good(telegram.double, 9101), client, runtime, telegram, channel)
    assert await contact_messages(session) == [("Иван", "А запись на завтра есть?", None)]
    await run_queued_jobs(runtime)
    assert len(telegram.double.sent_messages(CHAT)) == 1
    shown = (await client.get(f"/api/v1/channels/{channel['id']}", headers=tenant_a.headers)).json()
    error = shown["config"]["inbound_error"]
    assert error["update_id"] == 9101
    assert "could not be stored" in error["detail"] and "Сколько" not in error["detail"]


async def test_connecting_and_removing_a_bot_call_telegram_outside_any_transaction(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram_bot: TelegramServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Telegram may take seconds to answer; a transaction held meanwhile holds a connection (and its locks)."""
    opened: list[AsyncSession] = []
    make_session = runtime.database.sessions

    def recording_session() -> AsyncSession:
        opened.append(make_session())
        return opened[-1]

    monkeypatch.setattr(runtime.database, "sessions", recording_session)
    in_transaction_during_calls: list[bool] = []
    real_connect, real_disconnect = telegram_module.TelegramChannel.connect, telegram_module.TelegramChannel.disconnect

    async def connect(self: object, *args: object) -> object:
        in_transaction_during_calls.append(any(s.in_transaction() for s in opened))
        return await real_connect(self, *args)  # type: ignore[arg-type]

    async def disconnect(self: object, *args: object) -> None:
        in_transaction_during_calls.append(any(s.in_transaction() for s in opened))
        await real_disconnect(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(telegram_module.TelegramChannel, "connect", connect)
    monkeypatch.setattr(telegram_module.TelegramChannel, "disconnect", disconnect)
    created = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": TOKEN, "mode": "webhook"}, headers=tenant_a.headers
    )
    assert created.status_code == 201, created.text
    removed = await client.delete(f"/api/v1/channels/{created.json()['id']}", headers=tenant_a.headers)
    assert removed.status_code == 204
    assert in_transaction_during_calls == [False, False]
    assert opened, "the routes did use the database"
    assert (await client.get(f"/api/v1/channels/{created.json()['id']}", headers=tenant_a.headers)).status_code == 404


async def test_an_assistant_removed_while_telegram_answers_is_a_422_and_the_bot_is_let_go(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram_bot: TelegramServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assistant = await client.post(
        "/api/v1/assistants", json={"name": "Уходящий", "instructions": "Отвечай."}, headers=tenant_a.headers
    )
    assert assistant.status_code == 201, assistant.text
    real_connect = telegram_module.TelegramChannel.connect

    async def connect_while_the_assistant_goes(self: object, *args: object) -> object:
        connection = await real_connect(self, *args)  # type: ignore[arg-type]
        gone = await client.delete(f"/api/v1/assistants/{assistant.json()['id']}", headers=tenant_a.headers)
        assert gone.status_code == 204
        return connection

    monkeypatch.setattr(telegram_module.TelegramChannel, "connect", connect_while_the_assistant_goes)
    created = await client.post(
        "/api/v1/channels",
        json={"type": "telegram", "token": TOKEN, "mode": "webhook", "assistant_id": assistant.json()["id"]},
        headers=tenant_a.headers,
    )
    assert created.status_code == 422 and "assistant_id" in created.text
    assert telegram_bot.double.webhook(TOKEN) is None or not telegram_bot.double.webhook(TOKEN).url  # let go again
    assert (await client.get("/api/v1/channels", headers=tenant_a.headers)).json()["total"] == 0


async def test_the_person_button_hands_over_and_the_operators_reply_reaches_the_chat(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    database: Database,
    tenant_a: TenantFixture,
) -> None:
    double = telegram.double
    await send_update(client, telegram, bot, double.text_update(9001, CHAT, "Здравствуйте!"))
    await run_queued_jobs(runtime)
    [greeting] = double.sent_messages(CHAT)
    labels = [row[0]["text"] for row in greeting["reply_markup"]["inline_keyboard"]]
    assert labels == ["Позвать оператора"]
    pressed = double.callback_update(9002, CHAT, "Позвать оператора", message_id=greeting["message_id"])
    await send_update(client, telegram, bot, pressed)
    await run_queued_jobs(runtime)
    notice = double.sent_messages(CHAT)[-1]
    assert notice["plain_text"].startswith("Передаю диалог сотруднику")
    [waiting] = (await client.get("/api/v1/conversations?status=pending", headers=tenant_a.headers)).json()["items"]

    anna = await sign_in(client, database, tenant_a)
    answered = await send_as_staff(client, anna.headers, waiting["id"], "Здравствуйте! Это Анна, администратор.")
    assert answered.status_code == 201
    await run_queued_jobs(runtime)
    assert double.sent_messages(CHAT)[-1]["plain_text"] == "Здравствуйте! Это Анна, администратор."
    # The customer answers Anna, and the assistant stays quiet.
    await send_update(client, telegram, bot, double.text_update(9003, CHAT, "Спасибо!"))
    await run_queued_jobs(runtime)
    assert double.sent_messages(CHAT)[-1]["plain_text"] == "Здравствуйте! Это Анна, администратор."
    messages = (await client.get(f"/api/v1/conversations/{waiting['id']}/messages", headers=tenant_a.headers)).json()
    assert [m["role"] for m in messages][-2:] == ["operator", "contact"]
    assert messages[-2]["delivery_status"] == "sent"


async def test_a_resolved_conversation_is_rated_with_a_row_of_buttons(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    database: Database,
    tenant_a: TenantFixture,
) -> None:
    double = telegram.double
    await send_update(client, telegram, bot, double.text_update(9101, CHAT, "Позовите оператора"))
    await run_queued_jobs(runtime)
    [waiting] = (await client.get("/api/v1/conversations?status=pending", headers=tenant_a.headers)).json()["items"]
    anna = await sign_in(client, database, tenant_a)
    assert (await send_as_staff(client, anna.headers, waiting["id"], "Готово, записала вас.")).status_code == 201
    resolved = await client.patch(
        f"/api/v1/conversations/{waiting['id']}", json={"status": "resolved"}, headers=anna.headers
    )
    assert resolved.status_code == 200
    await run_queued_jobs(runtime)
    request = double.sent_messages(CHAT)[-1]
    assert request["plain_text"].startswith("Пожалуйста, оцените, как мы вам помогли")
    [row] = request["reply_markup"]["inline_keyboard"]
    assert [(key["text"], key["callback_data"]) for key in row] == [(str(n), str(n)) for n in range(1, 6)]

    pressed = double.callback_update(9102, CHAT, "4", message_id=request["message_id"])
    assert (await send_update(client, telegram, bot, pressed)).status_code == 200
    await run_queued_jobs(runtime)
    assert double.sent_messages(CHAT)[-1]["plain_text"].startswith("Спасибо за оценку!")
    assert len(double.answered_callbacks) == 1
    found = (await client.get(f"/api/v1/conversations/{waiting['id']}", headers=tenant_a.headers)).json()
    assert (found["status"], found["latest_rating"]["rating"]) == ("resolved", 4)
    assert found["latest_rating"]["operator_id"] == str(anna.user_id)


async def test_an_operators_files_go_as_a_captioned_photo_and_a_document(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    telegram: TelegramServer,
    database: Database,
    tenant_a: TenantFixture,
) -> None:
    double = telegram.double
    await send_update(client, telegram, bot, double.text_update(9101, CHAT, "Позовите оператора"))
    await run_queued_jobs(runtime)
    [waiting] = (await client.get("/api/v1/conversations?status=pending", headers=tenant_a.headers)).json()["items"]
    anna = await sign_in(client, database, tenant_a)
    picture = b"\x89PNG\r\n\x1a\n" + bytes(64)
    pdf = b"%PDF-1.4\n" + bytes(64)
    url = f"/api/v1/conversations/{waiting['id']}/files"
    sent = await client.post(
        url, files={"file": ("схема.png", picture)}, data={"text": "Как нас найти: 2-й этаж."}, headers=anna.headers
    )
    assert sent.status_code == 201, sent.text
    assert (await client.post(url, files={"file": ("прайс.pdf", pdf)}, headers=anna.headers)).status_code == 201
    await run_queued_jobs(runtime)

    photo, document = double.sent_messages(CHAT)[-2:]
    assert (photo["method"], photo["plain_text"]) == ("sendPhoto", "Как нас найти: 2-й этаж.")
    assert photo["params"]["photo"].content == picture
    assert (document["method"], document["plain_text"]) == ("sendDocument", None)
    assert (document["params"]["document"].filename, document["params"]["document"].content) == ("прайс.pdf", pdf)
    listed = (await client.get(f"/api/v1/conversations/{waiting['id']}/messages", headers=tenant_a.headers)).json()
    assert [m["delivery_status"] for m in listed[-2:]] == ["sent", "sent"]
