"""The chat books in the native engine itself (no stand-in): the guided flow on the API channel creates a real
appointment, held while the customer confirms; a reminder's Reschedule finds a new time and moves it after
Confirm; I'll come confirms it and Cancel cancels it, all answered in code before any assistant."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import text

from easyflow.booking.reminders import send_due_reminders
from easyflow.runtime import Runtime
from tests.booking.test_reminders import MOSCOW, service_and_staff
from tests.booking_chat.chat import Customer
from tests.conftest import TenantFixture


async def appointments(client: httpx.AsyncClient, tenant: TenantFixture, *statuses: str) -> list[dict]:
    response = await client.get(
        "/api/v1/appointments", params=[("status", s) for s in statuses], headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def free_starts(client: httpx.AsyncClient, tenant: TenantFixture, service: dict, day: str) -> list[str]:
    params = {"service_id": service["id"], "staff_id": "any", "from": day, "to": day}
    response = await client.get("/api/v1/booking/slots", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [
        datetime.fromisoformat(slot["start"]).astimezone(MOSCOW).strftime("%H:%M") for slot in response.json()["items"]
    ]


async def book_in_the_chat(client: httpx.AsyncClient, tenant: TenantFixture, customer: Customer, service: dict) -> dict:
    days = await customer.says("Здравствуйте, хочу записаться")  # one service, one master: straight to the days
    assert days["text"] == "Выберите день:", days
    day = (datetime.now(MOSCOW) + timedelta(days=3)).date()
    [label] = [label for label in days["buttons"] if label.endswith(day.strftime("%d.%m"))]
    times = await customer.says(label)
    assert times["text"].startswith("Свободное время, ")
    chosen = times["buttons"][3]
    assert (await customer.says(chosen))["text"] == "Как вас зовут?"
    await customer.says("Мария")
    proposal = await customer.says("+7 916 123-45-67")
    assert proposal["buttons"][:2] == ["Подтвердить", "Изменить"]
    assert await appointments(client, tenant) == []  # nothing booked before Confirm…
    assert chosen not in await free_starts(client, tenant, service, day.isoformat())  # …but the time is held
    async with customer.runtime.database.tenant_transaction(tenant.id) as session:
        held = await session.execute(text("SELECT id FROM appointments WHERE status = 'held'"))
        [hold_id] = [str(row.id) for row in held]
    done = await customer.says("Подтвердить")
    assert done["text"].startswith("Готово! Вы записаны."), done
    [booked] = await appointments(client, tenant)
    assert booked["conversation_id"] == customer.conversation_id and booked["status"] in ("pending", "confirmed")
    assert booked["id"] == hold_id  # the held row became the booking: the time was never free in between
    return booked


async def test_the_guided_flow_books_in_the_native_engine_and_a_reminder_moves_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    service, _ = await service_and_staff(client, tenant_a)
    customer = Customer(client, tenant_a, runtime, external_id="native-1")
    booked = await book_in_the_chat(client, tenant_a, customer, service)
    start = datetime.fromisoformat(booked["start"])
    assert start.astimezone(MOSCOW).date() == (datetime.now(MOSCOW) + timedelta(days=3)).date()

    assert await send_due_reminders(runtime.database, start - timedelta(hours=2) + timedelta(minutes=1)) == 1
    days = await customer.says("Перенести")
    assert days["text"].startswith("Хорошо, давайте подберём другое время для записи на ")
    assert days["text"].endswith("Выберите день:")
    times = await customer.says(days["buttons"][6])  # a week from today: after the booked day
    new_time = [label for label in times["buttons"] if len(label) == 5 and label[2] == ":"][-1]
    proposal = await customer.says(new_time)
    assert proposal["text"].startswith("Проверьте, пожалуйста:\nЗапись: Стрижка, ") and new_time in proposal["text"]
    assert (await customer.says("Подтвердить"))["text"].startswith("Запись перенесена.")
    [moved] = await appointments(client, tenant_a)
    assert moved["id"] == booked["id"]
    assert datetime.fromisoformat(moved["start"]).astimezone(MOSCOW).strftime("%H:%M") == new_time
    assert times["text"].startswith("Свободное время, ")


async def test_a_reminders_buttons_confirm_and_cancel_through_the_chat(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    service, _ = await service_and_staff(client, tenant_a)
    customer = Customer(client, tenant_a, runtime, external_id="native-2")
    booked = await book_in_the_chat(client, tenant_a, customer, service)
    start = datetime.fromisoformat(booked["start"])
    await client.patch(f"/api/v1/appointments/{booked['id']}", json={"note": "первый визит"}, headers=tenant_a.headers)
    assert await send_due_reminders(runtime.database, start - timedelta(hours=2) + timedelta(minutes=1)) == 1
    answer = await customer.says("Приду")
    assert answer["text"].startswith("Спасибо, ждём вас ")
    [shown] = await appointments(client, tenant_a)
    assert shown["status"] == "confirmed"
    assert (await customer.says("Отменить запись"))["text"].startswith("Запись на ")
    [shown] = await appointments(client, tenant_a)
    assert shown["status"] == "cancelled"
