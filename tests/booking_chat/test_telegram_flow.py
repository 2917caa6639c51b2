"""The guided flow in Telegram, through the Bot API double: each step arrives as an inline keyboard, each press
comes back as a callback query carrying the button's data, and the booking is made only on Confirm."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import httpx
import pytest

from easyflow.runtime import Runtime
from tests.booking_chat.memory_backend import MemoryBackend
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.telegram_server import SentMessage, TelegramServer

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = 700_300_400


@pytest.fixture
async def bot(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, telegram: TelegramServer) -> dict:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(TOKEN, username="lotos_salon_bot")
    response = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": TOKEN, "mode": "webhook"}, headers=tenant_a.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


class TelegramCustomer:
    def __init__(self, client: httpx.AsyncClient, runtime: Runtime, telegram: TelegramServer, channel: dict) -> None:
        self.client, self.runtime, self.telegram, self.channel = client, runtime, telegram, channel
        self.update_id = 9000

    async def _send(self, update: dict) -> SentMessage:
        secret = self.telegram.double.webhook(TOKEN).secret_token
        response = await self.client.post(
            f"/webhooks/telegram/{self.channel['id']}", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        assert response.status_code == 200, response.text
        await run_queued_jobs(self.runtime)
        return self.telegram.double.sent_messages(CHAT)[-1]

    async def types(self, text: str) -> SentMessage:
        self.update_id += 1
        return await self._send(self.telegram.double.text_update(self.update_id, CHAT, text))

    async def presses(self, shown: SentMessage, label: str) -> SentMessage:
        """Press the button labelled `label` under the bot's message `shown`, sending its callback data."""
        self.update_id += 1
        data = next(key["callback_data"] for row in keyboard(shown) for key in row if key["text"] == label)
        return await self._send(self.telegram.double.callback_update(self.update_id, CHAT, data, shown["message_id"]))


def keyboard(sent: SentMessage) -> list[list[dict]]:
    markup = sent["reply_markup"] or {}
    return list(markup.get("inline_keyboard", []))


def labels(sent: SentMessage) -> list[str]:
    return [key["text"] for row in keyboard(sent) for key in row]


async def test_booking_in_telegram_with_inline_keyboards(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, salon: MemoryBackend
) -> None:
    customer = TelegramCustomer(client, runtime, telegram, bot)
    services = await customer.types("Здравствуйте! Хочу записаться")
    assert services["plain_text"] == "На какую услугу вас записать?"
    assert labels(services)[:2] == ["Стрижка", "Маникюр"]
    staff = await customer.presses(services, "Стрижка")
    assert labels(staff)[:3] == ["Анна", "Мария", "Любой мастер"]
    days = await customer.presses(staff, "Любой мастер")
    times = await customer.presses(days, labels(days)[1])
    chosen = labels(times)[0]
    assert (await customer.presses(times, chosen))["plain_text"] == "Как вас зовут?"
    await customer.types("Айгерим")
    proposal = await customer.types("+7 900 123-45-67")
    assert labels(proposal)[:2] == ["Подтвердить", "Изменить"]
    assert salon.booked() == []
    done = await customer.presses(proposal, "Подтвердить")
    assert (done["plain_text"] or "").startswith("Готово! Вы записаны.")
    [booked] = salon.booked()
    assert booked.start.astimezone(ZoneInfo("Europe/Moscow")).strftime("%H:%M") == chosen
    assert len(telegram.double.answered_callbacks) == 5  # every press's spinner was stopped


async def test_a_stale_keyboard_pressed_again_books_nothing_more(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, telegram: TelegramServer, salon: MemoryBackend
) -> None:
    customer = TelegramCustomer(client, runtime, telegram, bot)
    services = await customer.types("Запишите меня")
    days = await customer.presses(services, "Маникюр")
    times = await customer.presses(days, labels(days)[0])
    await customer.presses(times, labels(times)[0])
    await customer.types("Айгерим")
    proposal = await customer.types("89001234567")
    await customer.presses(proposal, "Подтвердить")
    again = await customer.presses(proposal, "Подтвердить")
    assert (again["plain_text"] or "").startswith("Подтверждать нечего")
    # An old day keyboard no longer chooses anything once the flow moved on: the time offered then is not booked.
    await customer.presses(times, labels(times)[1])
    assert len(salon.booked()) == 1
