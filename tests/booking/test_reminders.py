"""Booking reminders and staff notices: a customer is reminded 24 h and 2 h before (the tenant's offsets) in the
conversation they booked from, once per offset and start, again after a move, never after a cancellation; the
reminder's buttons confirm or cancel; a staff member who is a dashboard member hears of bookings with them in
Telegram and by e-mail; tenants never see each other's settings."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from easyflow.booking.reminders import answer_reminder_press, send_due_reminders
from easyflow.conversations.repository import ConversationRepository
from easyflow.db.database import Database
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.smtp_server import SmtpServer
from tests.doubles.telegram_server import TelegramServer
from tests.inbox.staff import customer_writes, messages, sign_in
from tests.inbox.test_notifications import ANNA_CHAT, bot_a, link, set_preferences, smtp_on, texts_to

__all__ = ["bot_a", "smtp_on"]  # fixtures used by name below

MOSCOW = ZoneInfo("Europe/Moscow")
EVERY_DAY = [{"weekday": day, "start": "09:00", "end": "21:00"} for day in range(7)]


async def service_and_staff(client: httpx.AsyncClient, tenant: TenantFixture, **staff: object) -> tuple[dict, dict]:
    service = await client.post(
        "/api/v1/services", json={"name": "Стрижка", "duration_minutes": 60, "price": "1500"}, headers=tenant.headers
    )
    assert service.status_code == 201, service.text
    member = await client.post(
        "/api/v1/staff",
        json={"name": "Ольга", "services": [service.json()["id"]], "working_hours": EVERY_DAY, **staff},
        headers=tenant.headers,
    )
    assert member.status_code == 201, member.text
    return service.json(), member.json()


def local_start(days_ahead: int, clock: str = "12:00") -> datetime:
    day = datetime.now(MOSCOW).date() + timedelta(days=days_ahead)
    hour, minute = map(int, clock.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MOSCOW)


async def book(
    client: httpx.AsyncClient, tenant: TenantFixture, service: dict, staff: dict, start: datetime, **extra: object
) -> dict:
    body = {"service_id": service["id"], "staff_id": staff["id"], "start": start.isoformat(), **extra}
    response = await client.post("/api/v1/appointments", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def reminders_in(items: list[dict]) -> list[dict]:
    return [item for item in items if item.get("notice") == "booking_reminder"]


async def test_a_customer_is_reminded_at_each_offset_once_and_again_after_a_move(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    service, staff = await service_and_staff(client, tenant_a)
    written = await customer_writes(client, tenant_a, "Здравствуйте, хочу записаться", contact="olga-client")
    await run_queued_jobs(runtime)
    start = local_start(3)
    booked = await book(
        client,
        tenant_a,
        service,
        staff,
        start,
        conversation_id=written["conversation_id"],
        contact={"name": "Мария", "phone": "+79161234567"},
    )
    database = runtime.database

    assert await send_due_reminders(database, start - timedelta(hours=25)) == 0
    assert await send_due_reminders(database, start - timedelta(hours=24) + timedelta(minutes=1)) == 1
    assert await send_due_reminders(database, start - timedelta(hours=23)) == 0  # sent once
    [reminder] = reminders_in(await messages(client, tenant_a, written["conversation_id"]))
    assert reminder["text"].startswith("Напоминаем о записи: Стрижка, мастер Ольга,")
    assert f"{start.day} " in reminder["text"] and "в 12:00" in reminder["text"]
    assert reminder["buttons"] == ["Приду", "Отменить запись", "Перенести"]

    moved_to = start + timedelta(days=1)
    response = await client.patch(
        f"/api/v1/appointments/{booked['id']}", json={"start": moved_to.isoformat()}, headers=tenant_a.headers
    )
    assert response.status_code == 200, response.text
    # The new start is reminded of afresh: 24 h before it, then 2 h before it.
    assert await send_due_reminders(database, moved_to - timedelta(hours=24) + timedelta(minutes=2)) == 1
    assert await send_due_reminders(database, moved_to - timedelta(hours=2) + timedelta(minutes=2)) == 1
    assert await send_due_reminders(database, moved_to - timedelta(minutes=30)) == 0
    assert len(reminders_in(await messages(client, tenant_a, written["conversation_id"]))) == 3


async def test_late_cancelled_and_unreachable_appointments_are_not_reminded(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    service, staff = await service_and_staff(client, tenant_a)
    written = await customer_writes(client, tenant_a, "Добрый день", contact="late-client")
    await run_queued_jobs(runtime)
    start = local_start(2, "15:00")
    cancelled = await book(client, tenant_a, service, staff, start, conversation_id=written["conversation_id"])
    response = await client.patch(
        f"/api/v1/appointments/{cancelled['id']}", json={"status": "cancelled"}, headers=tenant_a.headers
    )
    assert response.status_code == 200, response.text
    # Booked by phone, no conversation and no contact: nobody to write to; it is noted, not retried.
    await book(client, tenant_a, service, staff, start + timedelta(hours=2))
    database = runtime.database
    assert await send_due_reminders(database, start - timedelta(hours=24) + timedelta(minutes=1)) == 0
    assert await send_due_reminders(database, start + timedelta(hours=2) - timedelta(hours=24, minutes=-1)) == 0
    # A worker back after more than an hour does not send a "24 hours before" reminder 20 hours before.
    other = await book(
        client, tenant_a, service, staff, start + timedelta(hours=4), conversation_id=written["conversation_id"]
    )
    other_start = datetime.fromisoformat(other["start"])
    assert await send_due_reminders(database, other_start - timedelta(hours=20)) == 0
    assert await send_due_reminders(database, other_start - timedelta(hours=2)) == 1
    assert len(reminders_in(await messages(client, tenant_a, written["conversation_id"]))) == 1


async def test_a_reminders_buttons_confirm_or_cancel_the_appointment(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, database: Database
) -> None:
    service, staff = await service_and_staff(client, tenant_a)
    written = await customer_writes(client, tenant_a, "Здравствуйте", contact="press-client")
    await run_queued_jobs(runtime)
    conversation_id = uuid.UUID(written["conversation_id"])
    first = await book(
        client, tenant_a, service, staff, local_start(2), conversation_id=str(conversation_id), status="pending"
    )
    start = datetime.fromisoformat(first["start"])
    now = start - timedelta(hours=2) + timedelta(minutes=1)
    assert await send_due_reminders(runtime.database, now) == 1

    async with database.tenant_transaction(tenant_a.id) as session:
        conversation = await ConversationRepository(session, tenant_a.id).get(conversation_id)
        assert conversation is not None
        assert await answer_reminder_press(session, tenant_a.id, conversation, "Здравствуйте", now) is None
        answer = await answer_reminder_press(session, tenant_a.id, conversation, " приду ", now)
    assert answer is not None and answer.text.startswith("Спасибо, ждём вас")
    shown = (await client.get(f"/api/v1/appointments/{first['id']}", headers=tenant_a.headers)).json()
    assert shown["status"] == "confirmed"

    async with database.tenant_transaction(tenant_a.id) as session:
        conversation = await ConversationRepository(session, tenant_a.id).get(conversation_id)
        assert conversation is not None
        answer = await answer_reminder_press(session, tenant_a.id, conversation, "Отменить запись", now)
        assert answer is not None and answer.text.startswith("Запись на")
        again = await answer_reminder_press(session, tenant_a.id, conversation, "Приду", now)
    # The booking is cancelled: the old reminder's button no longer applies.
    assert again is not None and again.text.startswith("Эта запись уже изменилась")
    shown = (await client.get(f"/api/v1/appointments/{first['id']}", headers=tenant_a.headers)).json()
    assert shown["status"] == "cancelled"
    # Three days later the reminder is too old to be what a press answers.
    async with database.tenant_transaction(tenant_a.id) as session:
        conversation = await ConversationRepository(session, tenant_a.id).get(conversation_id)
        assert conversation is not None
        assert await answer_reminder_press(session, tenant_a.id, conversation, "Приду", now + timedelta(days=3)) is None


async def test_a_staff_member_who_is_a_member_hears_of_bookings_with_them(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
    bot_a: dict,
    smtp_on: SmtpServer,
) -> None:
    olga = await sign_in(client, database, tenant_a)
    await link(client, runtime, telegram, bot_a, olga, ANNA_CHAT)
    await set_preferences(client, olga, email={"booking": True})
    service, staff = await service_and_staff(client, tenant_a, user_id=str(olga.user_id))
    assert staff["user_id"] == str(olga.user_id)
    start = local_start(4, "10:30")
    booked = await book(client, tenant_a, service, staff, start, contact={"name": "Мария", "phone": "+79161234567"})
    await run_queued_jobs(runtime)
    notice = texts_to(telegram, ANNA_CHAT)[-1]
    assert notice.startswith(f"Новая запись: Стрижка, {start.day} ") and "в 10:30" in notice
    assert "Клиент: Мария +79161234567" in notice
    [mail] = smtp_on.messages
    assert mail.recipients == [olga.email] and mail.subject.startswith("Новая запись: Стрижка")

    moved = start + timedelta(hours=2)
    await client.patch(
        f"/api/v1/appointments/{booked['id']}", json={"start": moved.isoformat()}, headers=tenant_a.headers
    )
    await client.patch(f"/api/v1/appointments/{booked['id']}", json={"status": "cancelled"}, headers=tenant_a.headers)
    await run_queued_jobs(runtime)
    told = texts_to(telegram, ANNA_CHAT)
    assert told[-2].startswith("Запись перенесена: Стрижка") and "(было " in told[-2] and "в 10:30)" in told[-2]
    assert told[-1].startswith("Запись отменена: Стрижка")

    await set_preferences(client, olga, telegram={"booking": False})
    await book(client, tenant_a, service, staff, start + timedelta(days=1))
    await run_queued_jobs(runtime)
    assert texts_to(telegram, ANNA_CHAT) == told  # switched off in Telegram; e-mail still on
    assert len(smtp_on.messages) == 4  # made, moved, cancelled, made


async def test_staff_may_be_linked_only_to_a_member_of_their_own_workspace(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    _, staff = await service_and_staff(client, tenant_a)
    for user_id in (tenant_b.owner_id, uuid.uuid4()):
        response = await client.patch(
            f"/api/v1/staff/{staff['id']}", json={"user_id": str(user_id)}, headers=tenant_a.headers
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "user_id" in response.json()["detail"]
    response = await client.patch(
        f"/api/v1/staff/{staff['id']}", json={"user_id": str(tenant_a.owner_id)}, headers=tenant_a.headers
    )
    assert response.status_code == 200 and response.json()["user_id"] == str(tenant_a.owner_id)


async def test_booking_settings_are_the_tenants_own_and_checked(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    shown = (await client.get("/api/v1/booking/settings", headers=tenant_a.headers)).json()
    assert shown["reminder_offsets_minutes"] == [1440, 120] and shown["lead_time_minutes"] == 60
    changed = await client.patch(
        "/api/v1/booking/settings",
        json={"reminder_offsets_minutes": [60, 2880, 60], "lead_time_minutes": 0},
        headers=tenant_a.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["reminder_offsets_minutes"] == [2880, 60] and changed.json()["lead_time_minutes"] == 0
    untouched = (await client.get("/api/v1/booking/settings", headers=tenant_b.headers)).json()
    assert untouched["reminder_offsets_minutes"] == [1440, 120] and untouched["lead_time_minutes"] == 60
    for body in (
        {"reminder_offsets_minutes": [1]},
        {"reminder_offsets_minutes": [60] * 6},
        {"reminder_offsets_minutes": [10**12]},
        {"lead_time_minutes": -1},
        {"hold_minutes": "five"},
        {"unknown": 1},
    ):
        response = await client.patch("/api/v1/booking/settings", json=body, headers=tenant_a.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/api/v1/booking/settings", headers=tenant_a.headers)).json() == changed.json()


@pytest.mark.parametrize("offsets", [[], [30]])
async def test_the_tenants_offsets_decide_when_reminders_go(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, offsets: list[int]
) -> None:
    await client.patch("/api/v1/booking/settings", json={"reminder_offsets_minutes": offsets}, headers=tenant_a.headers)
    service, staff = await service_and_staff(client, tenant_a)
    written = await customer_writes(client, tenant_a, "Здравствуйте", contact="offsets-client")
    await run_queued_jobs(runtime)
    booked = await book(client, tenant_a, service, staff, local_start(2), conversation_id=written["conversation_id"])
    start = datetime.fromisoformat(booked["start"])
    assert await send_due_reminders(runtime.database, start - timedelta(hours=2) + timedelta(minutes=1)) == 0
    expected = 1 if offsets else 0
    assert await send_due_reminders(runtime.database, start - timedelta(minutes=29)) == expected
