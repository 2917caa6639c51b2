"""Notices to staff outside the dashboard, over real HTTP against the Telegram and SMTP doubles: linking one's own
Telegram through the tenant's bot with a one-time deep link (webhook and long polling), a conversation waiting
for its assignee, a mention, preferences, one way failing without holding up the other, tenants kept apart, and
bad input refused."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from easyflow.channels.polling import TelegramPoller
from easyflow.conversations.repository import ConversationRepository
from easyflow.db.database import Database
from easyflow.inbox.notifications import notify_staff
from easyflow.inbox.sla import SlaClock
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs
from tests.doubles.smtp_server import SmtpServer, free_port
from tests.doubles.telegram_server import TelegramServer
from tests.inbox.staff import Staff, customer_writes, patch, send_as_staff, sign_in

BOT_A = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BOT_B = "987654321:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsbw"
ANNA_CHAT = 500_100_001
BORIS_CHAT = 500_100_002
STRANGER_CHAT = 500_100_999
LINKED_RU = "Уведомления подключены"
REFUSED_RU = "Эта ссылка для уведомлений недействительна или устарела"


@pytest.fixture
def smtp_on(runtime: Runtime, smtp: SmtpServer) -> SmtpServer:
    runtime.settings = runtime.settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port})
    return smtp


async def connect_bot(
    client: httpx.AsyncClient,
    runtime: Runtime,
    telegram: TelegramServer,
    tenant: TenantFixture,
    token: str,
    username: str,
    mode: str = "webhook",
) -> dict:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(token, username=username)
    response = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": token, "mode": mode}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def bot_a(client: httpx.AsyncClient, runtime: Runtime, telegram: TelegramServer, tenant_a: TenantFixture) -> dict:
    return await connect_bot(client, runtime, telegram, tenant_a, BOT_A, "lotos_salon_bot")


async def link_token(client: httpx.AsyncClient, staff: Staff) -> str:
    response = await client.post("/api/v1/account/telegram-link", headers=staff.headers)
    assert response.status_code == 201, response.text
    url = urlsplit(response.json()["url"])
    assert (url.scheme, url.netloc) == ("https", "t.me")
    return parse_qs(url.query)["start"][0]


async def press_start(
    client: httpx.AsyncClient,
    telegram: TelegramServer,
    channel: dict,
    token: str,
    chat_id: int,
    payload: str,
    language_code: str = "ru",
) -> None:
    """What Telegram POSTs to the bot's webhook when someone opens `t.me/<bot>?start=<payload>`."""
    update = telegram.double.start_update(
        uuid.uuid4().int % 1_000_000_000, chat_id, payload, language_code=language_code
    )
    response = await client.post(
        f"/webhooks/telegram/{channel['id']}",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": telegram.double.webhook(token).secret_token},
    )
    assert response.status_code == 200, response.text


async def link(
    client: httpx.AsyncClient, runtime: Runtime, telegram: TelegramServer, bot: dict, staff: Staff, chat_id: int
) -> None:
    await press_start(client, telegram, bot, BOT_A, chat_id, await link_token(client, staff))
    await run_queued_jobs(runtime)
    assert telegram.double.sent_messages(chat_id)[-1]["plain_text"].startswith(LINKED_RU)


async def notifications(client: httpx.AsyncClient, staff: Staff) -> dict:
    response = await client.get("/api/v1/account/notifications", headers=staff.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def set_preferences(client: httpx.AsyncClient, staff: Staff, **body: object) -> dict:
    response = await client.put("/api/v1/account/notifications", json=body, headers=staff.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def go_online(client: httpx.AsyncClient, staff: Staff) -> None:
    response = await client.put("/api/v1/presence", json={"status": "online"}, headers=staff.headers)
    assert response.status_code == 200, response.text


async def conversation_count(client: httpx.AsyncClient, tenant: TenantFixture) -> int:
    response = await client.get("/api/v1/conversations", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def texts_to(telegram: TelegramServer, chat_id: int) -> list[str]:
    return [sent["plain_text"] for sent in telegram.double.sent_messages(chat_id)]


async def test_a_linked_operator_hears_of_a_conversation_assigned_to_them_in_telegram_and_by_email(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
    smtp_on: SmtpServer,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    assert (await notifications(client, anna))["telegram"]["linked"] is False
    await link(client, runtime, telegram, bot_a, anna, ANNA_CHAT)
    assert await conversation_count(client, tenant_a) == 0  # the operator's /start is not a customer
    shown = await notifications(client, anna)
    assert shown["telegram"]["linked"] is True and shown["telegram"]["bot_username"] == "lotos_salon_bot"
    assert shown["telegram"]["kinds"] == {"waiting": True, "mention": True, "sla_breach": True, "booking": True}
    assert shown["email"] == {
        "available": True,
        "address": anna.email,
        "kinds": {"waiting": False, "mention": False, "sla_breach": False, "booking": False},
    }
    assert (await set_preferences(client, anna, email={"waiting": True}))["email"]["kinds"]["waiting"] is True

    await go_online(client, anna)
    await run_queued_jobs(runtime)
    # A name with a line break (which no mail header may carry) must not cost the e-mail.
    body = {
        "contact": {"external_id": "crm-77", "name": "Анна\nПетрова"},
        "text": "Позовите оператора, пожалуйста",
        "external_message_id": "crm-77-1",
    }
    written = (await client.post("/api/v1/channels/api/messages", json=body, headers=tenant_a.headers)).json()
    await run_queued_jobs(runtime)

    link_to_it = f"http://testserver/app/conversations/{written['conversation_id']}"
    notice = texts_to(telegram, ANNA_CHAT)[-1]
    assert notice.startswith("Вас ждёт разговор с Анна")
    assert "«Позовите оператора, пожалуйста»" in notice and link_to_it in notice
    [mail] = smtp_on.messages
    assert mail.recipients == [anna.email] and mail.sender == "noreply@testserver"
    assert mail.subject == "Вас ждёт разговор с Анна Петрова"
    assert mail.message["Date"] and mail.message["Message-ID"]
    assert "«Позовите оператора, пожалуйста»" in mail.body and link_to_it in mail.body


async def test_a_colleague_assigning_or_mentioning_notifies_but_taking_it_oneself_does_not(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    await link(client, runtime, telegram, bot_a, anna, ANNA_CHAT)
    await link(client, runtime, telegram, bot_a, boris, BORIS_CHAT)
    written = await customer_writes(client, tenant_a, "Где мой заказ?")
    await run_queued_jobs(runtime)
    conversation_id = written["conversation_id"]

    assert (await patch(client, boris.headers, conversation_id, assignee_id=str(anna.user_id))).status_code == 200
    await run_queued_jobs(runtime)
    assert texts_to(telegram, ANNA_CHAT)[-1].startswith("Вас ждёт разговор с клиентом")
    assert len(texts_to(telegram, BORIS_CHAT)) == 1  # only his own "linked"

    note = f"@{anna.email.split('@')[0]} посмотри, клиент ждёт с утра"
    assert (await send_as_staff(client, boris.headers, conversation_id, note, private=True)).status_code == 201
    await run_queued_jobs(runtime)
    mention = texts_to(telegram, ANNA_CHAT)[-1]
    assert mention.startswith("Вас упомянули в разговоре с клиентом")
    assert "клиент ждёт с утра" in mention and f"/app/conversations/{conversation_id}" in mention

    before = len(texts_to(telegram, BORIS_CHAT))
    assert (await patch(client, boris.headers, conversation_id, status="open")).status_code == 200
    await run_queued_jobs(runtime)
    assert len(texts_to(telegram, BORIS_CHAT)) == before  # he took it himself: nothing to tell him


async def test_an_sla_breach_is_told_once_its_transaction_commits_and_never_if_it_rolls_back(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    await link(client, runtime, telegram, bot_a, anna, ANNA_CHAT)
    written = await customer_writes(client, tenant_a, "Алло, вы тут?")
    await run_queued_jobs(runtime)
    conversation_id = uuid.UUID(written["conversation_id"])

    with pytest.raises(RuntimeError):
        async with database.tenant_transaction(tenant_a.id) as session:
            await notify_staff(session, tenant_a.id, anna.user_id, "sla_breach", conversation_id, "первый ответ")
            raise RuntimeError("the caller failed after asking")
    assert "inbox.send_notice" not in await run_queued_jobs(runtime)

    async with database.tenant_transaction(tenant_a.id) as session:
        await notify_staff(session, tenant_a.id, anna.user_id, "sla_breach", conversation_id, "первый ответ: 15 мин")
    assert "inbox.send_notice" in await run_queued_jobs(runtime)
    notice = texts_to(telegram, ANNA_CHAT)[-1]
    assert notice.startswith("Нарушен срок SLA в разговоре с клиентом")
    assert "первый ответ: 15 мин" in notice and "«Алло, вы тут?»" in notice


async def test_a_missed_sla_target_reaches_the_person_holding_the_conversation(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    await link(client, runtime, telegram, bot_a, anna, ANNA_CHAT)
    policy = {"name": "Быстро", "first_response_minutes": 5, "business_hours_only": False}
    assert (await client.post("/api/v1/sla-policies", json=policy, headers=tenant_a.headers)).status_code == 201
    written = await customer_writes(client, tenant_a, "Позовите оператора")
    await run_queued_jobs(runtime)
    conversation_id = written["conversation_id"]
    assert (await patch(client, tenant_a.headers, conversation_id, assignee_id=str(anna.user_id))).status_code == 200
    await run_queued_jobs(runtime)
    before = len(texts_to(telegram, ANNA_CHAT))
    async with database.tenant_transaction(tenant_a.id) as session:
        held = await ConversationRepository(session).get_for_update(uuid.UUID(conversation_id))
        assert held is not None and held.sla_first_response_due_at is not None
        late = held.sla_first_response_due_at + timedelta(seconds=1)
        assert await SlaClock(session, tenant_a.id).check(held, late) != []
    await run_queued_jobs(runtime)
    notices = texts_to(telegram, ANNA_CHAT)[before:]
    assert len(notices) == 1 and notices[0].startswith("Нарушен срок SLA") and "first response" in notices[0]


async def test_invalid_expired_and_reused_tokens_link_nothing_and_are_answered_politely(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
) -> None:
    anna = await sign_in(client, database, tenant_a)

    await press_start(client, telegram, bot_a, BOT_A, STRANGER_CHAT, "notify_0123456789ab_guessed-secret")
    await run_queued_jobs(runtime)
    assert texts_to(telegram, STRANGER_CHAT)[-1].startswith(REFUSED_RU)

    token = await link_token(client, anna)
    public_id = token.split("_")[1]
    await press_start(client, telegram, bot_a, BOT_A, STRANGER_CHAT, f"notify_{public_id}_not-the-secret", "en")
    await run_queued_jobs(runtime)
    assert texts_to(telegram, STRANGER_CHAT)[-1].startswith("This notifications link is invalid or has expired")

    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(text("UPDATE staff_link_tokens SET expires_at = now() - interval '1 second'"))
    await press_start(client, telegram, bot_a, BOT_A, ANNA_CHAT, token)
    await run_queued_jobs(runtime)
    assert texts_to(telegram, ANNA_CHAT)[-1].startswith(REFUSED_RU)
    assert (await notifications(client, anna))["telegram"]["linked"] is False

    earlier = await link_token(client, anna)
    token = await link_token(client, anna)
    await press_start(client, telegram, bot_a, BOT_A, ANNA_CHAT, earlier)  # asking again voided it
    await press_start(client, telegram, bot_a, BOT_A, ANNA_CHAT, token)
    await press_start(client, telegram, bot_a, BOT_A, STRANGER_CHAT, token)  # spent
    await run_queued_jobs(runtime)
    assert texts_to(telegram, ANNA_CHAT)[-2:][0].startswith(REFUSED_RU)
    assert texts_to(telegram, ANNA_CHAT)[-1].startswith(LINKED_RU)
    assert texts_to(telegram, STRANGER_CHAT)[-1].startswith(REFUSED_RU)
    assert await conversation_count(client, tenant_a) == 0

    written = await customer_writes(client, tenant_a, "Здравствуйте")
    await run_queued_jobs(runtime)
    owner = {"Authorization": tenant_a.headers["Authorization"]}
    await patch(client, owner, written["conversation_id"], assignee_id=str(anna.user_id))
    await run_queued_jobs(runtime)
    assert texts_to(telegram, ANNA_CHAT)[-1].startswith("Вас ждёт разговор")
    assert len(texts_to(telegram, STRANGER_CHAT)) == 3  # the stranger never became anyone's chat


async def test_a_bot_in_long_polling_mode_links_the_same_way(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime, telegram: TelegramServer
) -> None:
    bot = await connect_bot(client, runtime, telegram, tenant_a, BOT_A, "lotos_salon_bot", mode="polling")
    anna = await sign_in(client, database, tenant_a)
    token = await link_token(client, anna)
    telegram.double.queue_update(BOT_A, telegram.double.start_update(9001, ANNA_CHAT, token))
    assert await TelegramPoller(runtime).poll_once(uuid.UUID(bot["id"])) == 1
    await run_queued_jobs(runtime)
    assert texts_to(telegram, ANNA_CHAT)[-1].startswith(LINKED_RU)
    assert (await notifications(client, anna))["telegram"]["linked"] is True
    assert await conversation_count(client, tenant_a) == 0


async def test_preferences_switch_a_kind_off_and_unlinking_stops_telegram(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    await link(client, runtime, telegram, bot_a, anna, ANNA_CHAT)
    shown = await set_preferences(client, anna, telegram={"waiting": False})
    assert shown["telegram"]["kinds"] == {"waiting": False, "mention": True, "sla_breach": True, "booking": True}
    owner = {"Authorization": tenant_a.headers["Authorization"]}

    first = await customer_writes(client, tenant_a, "Вопрос", contact="c1")
    await run_queued_jobs(runtime)
    await patch(client, owner, first["conversation_id"], assignee_id=str(anna.user_id))
    assert "inbox.send_notice" not in await run_queued_jobs(runtime)  # nothing even deferred
    assert len(texts_to(telegram, ANNA_CHAT)) == 1

    await set_preferences(client, anna, telegram={"waiting": True})
    assert (await client.delete("/api/v1/account/telegram-link", headers=anna.headers)).status_code == 204
    assert (await notifications(client, anna))["telegram"]["linked"] is False
    second = await customer_writes(client, tenant_a, "Ещё вопрос", contact="c2")
    await run_queued_jobs(runtime)
    await patch(client, owner, second["conversation_id"], assignee_id=str(anna.user_id))
    assert "inbox.send_notice" not in await run_queued_jobs(runtime)
    assert len(texts_to(telegram, ANNA_CHAT)) == 1


async def test_a_mail_server_that_is_down_does_not_hold_up_telegram(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
    smtp_on: SmtpServer,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    await link(client, runtime, telegram, bot_a, anna, ANNA_CHAT)
    await set_preferences(client, anna, email={"waiting": True})
    runtime.settings = runtime.settings.model_copy(update={"smtp_port": free_port()})  # nothing listens there
    written = await customer_writes(client, tenant_a, "Помогите")
    await run_queued_jobs(runtime)
    owner = {"Authorization": tenant_a.headers["Authorization"]}
    await patch(client, owner, written["conversation_id"], assignee_id=str(anna.user_id))

    failures = []
    while True:  # as a worker: a failed job is retried later, the others still run
        try:
            await run_queued_jobs(runtime)
            break
        except OSError as error:
            failures.append(error)
    assert failures, "the e-mail could not have been sent"
    assert texts_to(telegram, ANNA_CHAT)[-1].startswith("Вас ждёт разговор")
    assert smtp_on.messages == []


async def test_a_token_from_one_tenant_links_nothing_on_another_tenants_bot(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
) -> None:
    bot_b = await connect_bot(client, runtime, telegram, tenant_b, BOT_B, "tours_b_bot")
    anna = await sign_in(client, database, tenant_a)
    token = await link_token(client, anna)
    await press_start(client, telegram, bot_b, BOT_B, ANNA_CHAT, token)
    await run_queued_jobs(runtime)
    [answer] = telegram.double.sent_messages(ANNA_CHAT, token=BOT_B)
    assert answer["plain_text"].startswith(REFUSED_RU)
    assert (await notifications(client, anna))["telegram"]["linked"] is False
    assert await conversation_count(client, tenant_b) == 0
    async with database.tenant_transaction(tenant_b.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM staff_telegram_links"))).scalar_one() == 0

    await press_start(client, telegram, bot_a, BOT_A, ANNA_CHAT, token)  # still good on its own tenant's bot
    await run_queued_jobs(runtime)
    assert telegram.double.sent_messages(ANNA_CHAT, token=BOT_A)[-1]["plain_text"].startswith(LINKED_RU)


async def test_who_may_ask_and_bad_input_are_problems(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    no_bot = await client.post("/api/v1/account/telegram-link", headers=anna.headers)
    assert no_bot.status_code == 409 and "no connected Telegram bot" in no_bot.json()["detail"]
    assert no_bot.headers["content-type"].startswith("application/problem+json")

    for method in ("POST", "DELETE"):
        as_key = await client.request(method, "/api/v1/account/telegram-link", headers=tenant_a.headers)
        assert as_key.status_code == 422 and "API key is nobody" in as_key.json()["detail"]
    assert (await client.get("/api/v1/account/notifications", headers=tenant_a.headers)).status_code == 422
    assert (await client.get("/api/v1/account/notifications")).status_code == 401
    viewer = await sign_in(client, database, tenant_a, Role.viewer)
    assert (await client.post("/api/v1/account/telegram-link", headers=viewer.headers)).status_code == 403
    viewer_key = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    assert (await client.get("/api/v1/account/notifications", headers=viewer_key)).status_code == 403

    for body in (
        {"telegram": {"urgent": True}},
        {"sms": {"waiting": True}},
        {"telegram": {"waiting": "yes"}},
        {"telegram": {"wait\u0000ing": True}},
        {"email\u0000": {"waiting": True}},
        {"email": {"waiting": True}},  # this platform has no SMTP server
    ):
        refused = await client.put("/api/v1/account/notifications", json=body, headers=anna.headers)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await notifications(client, anna))["email"]["kinds"]["waiting"] is False
