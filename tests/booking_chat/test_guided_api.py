"""The guided flow without a model, end to end on the API channel: service → staff or anyone → day → time → name
and phone → Confirm → booked; typed shortcuts; Change; and the gate refusing forged, expired and foreign presses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking.backend import BackendUnavailable
from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.booking_chat.chat import Customer
from tests.booking_chat.memory_backend import MemoryBackend
from tests.conftest import TenantFixture
from tests.web.dashboard import sign_in

MOSCOW = ZoneInfo("Europe/Moscow")


def tomorrow() -> datetime:
    return datetime.now(UTC).astimezone(MOSCOW) + timedelta(days=1)


async def test_a_customer_books_with_buttons_only(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    customer = Customer(client, tenant_a, runtime)
    services = await customer.says("Здравствуйте, хочу записаться")
    assert services["text"] == "На какую услугу вас записать?"
    assert services["buttons"][:2] == ["Стрижка", "Маникюр"]
    assert (await customer.conversation())["dialogue_state"] == "consulting"

    staff = await customer.says("Стрижка")
    assert staff["buttons"][:3] == ["Анна", "Мария", "Любой мастер"]
    days = await customer.says("Мария")
    assert days["text"] == "Выберите день:" and 1 <= len([b for b in days["buttons"] if "." in b]) <= 7
    times = await customer.says(days["buttons"][0])
    assert times["text"].startswith("Свободное время, ")
    assert all(len(label) == 5 and label[2] == ":" for label in times["buttons"][:-1])
    assert (await customer.conversation())["dialogue_state"] == "booking"

    chosen = times["buttons"][0]
    assert (await customer.says(chosen))["text"] == "Как вас зовут?"
    assert (await customer.says("Айгерим"))["text"].startswith("Ваш номер телефона")
    assert (await customer.says("ну не знаю"))["text"].startswith("Не похоже на номер телефона")
    proposal = await customer.says("8 (900) 123-45-67")
    assert proposal["text"].startswith("Проверьте, пожалуйста:\nЗапись: Стрижка, ")
    assert f"{chosen}, мастер: Мария" in proposal["text"]
    assert proposal["buttons"][:2] == ["Подтвердить", "Изменить"]
    assert (await customer.conversation())["dialogue_state"] == "confirming"
    await sign_in(client, tenant_a)
    page = await client.get(f"/app/conversations/{customer.conversation_id}")
    assert '<span data-dialogue-state="confirming">Запись: ждёт подтверждения клиента</span>' in page.text
    # Nothing is booked before the press, but the slot is held for the customer meanwhile.
    assert salon.booked() == [] and len(salon.held()) == 1

    done = await customer.says("Подтвердить")
    assert done["text"].startswith("Готово! Вы записаны. Запись: Стрижка")
    [booked] = salon.booked()
    assert booked.start.astimezone(MOSCOW).strftime("%H:%M") == chosen
    assert booked.staff_id == next(s.id for s in salon.staff_ if s.name == "Мария")
    assert salon.held() == []
    assert [(c.name, c.phone) for c in salon.clients] == [("Айгерим", "+79001234567")]
    assert (await customer.conversation())["dialogue_state"] == "completed"
    listed = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    assert [item["dialogue_state"] for item in listed] == ["completed"]

    # A second press (a double tap, a replayed message) books nothing more.
    again = await customer.says("Подтвердить")
    assert again["text"].startswith("Подтверждать нечего") and len(salon.booked()) == 1


async def test_a_typed_shortcut_picks_the_day_and_time_and_a_known_phone_is_not_a_new_client(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    await salon.create_client("Айгерим", "+79001234567")
    customer = Customer(client, tenant_a, runtime)
    await customer.says("Запишите меня")
    await customer.says("Маникюр")  # one person does it: straight to the days
    assert (await customer.says("завтра в 15"))["text"] == "Как вас зовут?"
    await customer.says("Айгерим")
    proposal = await customer.says("+7 900 123 45 67")
    expected = f"{tomorrow().day} "
    assert "Маникюр" in proposal["text"] and expected in proposal["text"] and "15:00" in proposal["text"]
    await customer.says("Подтвердить")
    [booked] = salon.booked()
    assert booked.start.astimezone(MOSCOW).date() == tomorrow().date()
    assert booked.start.astimezone(MOSCOW).hour == 15
    assert len(salon.clients) == 1  # found by phone, not created twice


async def test_a_part_of_the_day_offers_the_times_within_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    customer = Customer(client, tenant_a, runtime)
    await customer.says("хочу записаться")
    await customer.says("Стрижка")
    times = await customer.says("в пятницу после обеда")
    assert times["text"].startswith("Свободное время, пт,")
    assert [label for label in times["buttons"] if ":" in label] == ["13:00", "14:00", "15:00", "16:00", "17:00"]


async def test_in_english_next_monday_at_10(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    customer = Customer(client, tenant_a, runtime, external_id="visitor-en")
    services = await customer.says("Hello, I would like to book an appointment")
    assert services["text"] == "Which service would you like to book?"
    staff = await customer.says("Стрижка")
    assert "Anyone" in staff["buttons"]
    assert (await customer.says("next Monday at 10"))["text"] == "What is your name?"
    await customer.says("John Smith")
    proposal = await customer.says("+44 7700 900123")
    assert proposal["text"].startswith("Please check:\nBooking: Стрижка, Mon ") and "10:00" in proposal["text"]
    assert proposal["buttons"][:2] == ["Confirm", "Change"]
    assert (await customer.says("Confirm"))["text"].startswith("Done! You are booked.")
    [booked] = salon.booked()
    assert booked.start.astimezone(MOSCOW).weekday() == 0 and booked.start.astimezone(MOSCOW).hour == 10


async def test_change_drops_the_pending_booking_releases_the_hold_and_offers_days_again(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    customer = await _customer_at_confirmation(client, tenant_a, runtime)
    assert len(salon.held()) == 1
    changed = await customer.says("Изменить")
    assert changed["text"].startswith("Хорошо, ничего не делаю.") and "Выберите день:" in changed["text"]
    assert salon.held() == [] and salon.booked() == []
    # The Confirm that comes after Change has nothing left to run.
    assert (await customer.says("Подтвердить"))["text"].startswith("Подтверждать нечего")
    assert salon.booked() == []


async def test_an_expired_confirmation_books_nothing(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    salon: MemoryBackend,
    session: AsyncSession,
) -> None:
    customer = await _customer_at_confirmation(client, tenant_a, runtime)
    await enter_system_scope(session)
    await session.execute(
        text(
            "UPDATE booking_dialogues SET pending_expires_at = now() - interval '1 minute' WHERE conversation_id = :c"
        ),
        {"c": customer.conversation_id},
    )
    expired = await customer.says("Подтвердить")
    assert expired["text"].startswith("Время на подтверждение истекло")
    assert salon.booked() == [] and salon.held() == []


async def test_forged_and_foreign_presses_book_nothing(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    runtime: Runtime,
    salon: MemoryBackend,
    backends: dict,
) -> None:
    waiting = await _customer_at_confirmation(client, tenant_a, runtime)
    # Another customer of the same business presses Confirm: their conversation has nothing to confirm.
    stranger = Customer(client, tenant_a, runtime, external_id="stranger")
    await stranger.says("хочу записаться")
    assert (await stranger.says("Подтвердить"))["text"].startswith("Подтверждать нечего")
    # A customer of another business presses it too.
    backends[tenant_b.id] = MemoryBackend()
    backends[tenant_b.id].add_service("Экскурсия", 120, staff=("Гид",))
    foreign = Customer(client, tenant_b, runtime, external_id="customer-1")
    offered = await foreign.says("хочу записаться")
    assert "Экскурсия" in offered["text"] or offered["text"] == "Выберите день:"
    await foreign.says("Подтвердить")
    # Payloads the flow never offered choose nothing: a typed choice value, a label of another step.
    for forged in (
        f"time:{tomorrow().replace(hour=11, minute=0, second=0, microsecond=0).isoformat()}|{salon.staff_[0].id}",
        "service:service-1",
        "Подтвердить" + "\u200b",
    ):
        await stranger.sends(forged)
    assert salon.booked() == [] and backends[tenant_b.id].booked() == []
    # Tenant B cannot see tenant A's conversation, nor its dialogue state.
    response = await client.get(waiting.url, headers=tenant_b.headers)
    assert response.status_code == 404
    # The one who was asked still can.
    assert (await waiting.says("Подтвердить"))["text"].startswith("Готово!")
    assert len(salon.booked()) == 1 and backends[tenant_b.id].booked() == []


async def test_a_slot_taken_meanwhile_is_not_double_booked(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    first = Customer(client, tenant_a, runtime, external_id="first")
    await first.says("хочу записаться")
    await first.says("Маникюр")
    times = await first.says("завтра")
    taken = times["buttons"][0]
    # The held time is not offered to another customer.
    second = Customer(client, tenant_a, runtime, external_id="second")
    await first.says(taken)
    await first.says("Ольга Петрова")
    await first.says("+7 900 000-00-01")
    await second.says("хочу записаться")
    await second.says("Маникюр")
    offered = await second.says("завтра")
    assert taken not in offered["buttons"]
    await first.says("Подтвердить")
    assert len(salon.booked()) == 1


async def test_a_service_removed_while_the_customer_chooses_starts_the_flow_again(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    customer = Customer(client, tenant_a, runtime)
    await customer.says("хочу записаться")
    days = await customer.says("Маникюр")
    salon.services_ = [each for each in salon.services_ if each.name != "Маникюр"]
    refused = await customer.says(days["buttons"][0])
    assert refused["text"] == "Не получилось: No such service." and salon.held() == []
    # The one service left needs no choosing: straight to who does it.
    assert (await customer.says("хочу записаться"))["buttons"][:3] == ["Анна", "Мария", "Любой мастер"]


async def test_an_unreachable_booking_system_leaves_the_offline_answer(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    async def unreachable() -> list:
        raise BackendUnavailable("YCLIENTS did not answer")

    salon.services = unreachable  # type: ignore[method-assign]
    reply = await Customer(client, tenant_a, runtime).says("Здравствуйте")
    assert reply["text"].startswith("Здравствуйте! Я виртуальный помощник")


async def test_without_a_booking_backend_the_offline_assistant_answers_as_before(
    client: httpx.AsyncClient, tenant_b: TenantFixture, runtime: Runtime, backends: dict
) -> None:
    customer = Customer(client, tenant_b, runtime)
    reply = await customer.says("хочу записаться")
    assert "Подтвердить" not in reply["buttons"] and "На какую услугу" not in reply["text"]
    said = [m["text"] for m in await customer.sends("Подтвердить") if m["role"] == "assistant"]
    assert not any(text.startswith("Подтверждать нечего") for text in said)


async def _customer_at_confirmation(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime) -> Customer:
    customer = Customer(client, tenant, runtime)
    await customer.says("хочу записаться")
    await customer.says("Стрижка")
    await customer.says("Любой мастер")
    await customer.says("завтра в 12")
    await customer.says("Айгерим")
    proposal = await customer.says("+7 900 123-45-67")
    assert proposal["buttons"][:2] == ["Подтвердить", "Изменить"], proposal
    return customer
