"""The YCLIENTS backend against the API double: every operation the booking tools use, YCLIENTS' error codes as
the common booking problems, its rate limit kept, retries, timeouts and refused credentials."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from easyflow.booking.backend import (
    BackendUnavailable,
    BookedService,
    BookingRequest,
    Client,
    NoStaffFree,
    OverlapInRequest,
    ServiceNotBookable,
    SlotTaken,
)
from easyflow.booking.yclients.backend import YclientsBackend, yclients_client
from easyflow.booking.yclients.client import CredentialsRefused
from easyflow.kit.errors import InvalidInput, NotFound, Unprocessable
from easyflow.runtime import Runtime
from tests.booking.yclients_steps import USER_TOKEN, Salon


def _request(
    salon: Salon, *services: BookedService, hour: int = 12, phone: str = "+79161234567", key: str | None = None
) -> BookingRequest:
    """A confirmation in the chat: a new one each call unless `key` names the one pressed before."""
    return BookingRequest(
        services=services,
        start=salon.at(salon.tomorrow(), hour),
        client=Client(id="", name="Мария", phone=phone),
        idempotency_key=key or f"conv-1:{uuid.uuid4().hex}",
        comment="Из чата",
    )


async def test_services_and_staff_are_read_from_online_booking(backend: YclientsBackend, salon: Salon) -> None:
    services = {s.id: s for s in await backend.services()}
    haircut = services[str(salon.haircut.id)]
    assert (haircut.name, haircut.duration_minutes, haircut.category, haircut.price) == (
        "Стрижка женская",
        60,
        "Парикмахерская",
        Decimal("2500"),
    )
    assert services[str(salon.colouring.id)].duration_minutes == 90

    everyone = {s.name for s in await backend.staff()}
    assert everyone == {"Анна", "Ольга"}
    colourists = await backend.staff(str(salon.colouring.id))
    assert [(s.name, s.service_ids) for s in colourists] == [("Анна", (str(salon.colouring.id),))]


async def test_slots_of_one_member_and_of_anyone_follow_bookings(backend: YclientsBackend, salon: Salon) -> None:
    day = salon.tomorrow()
    anna = await backend.slots(str(salon.haircut.id), str(salon.anna.id), day, day)
    assert anna[0].start == salon.at(day, 10) and anna[0].end == salon.at(day, 11)
    assert anna[-1].start == salon.at(day, 18)  # an hour's haircut still ends by 19:00
    assert {s.staff_id for s in anna} == {str(salon.anna.id)}

    await backend.book(_request(salon, BookedService(str(salon.haircut.id), str(salon.anna.id)), hour=12))
    after = {s.start for s in await backend.slots(str(salon.haircut.id), str(salon.anna.id), day, day)}
    assert salon.at(day, 12) not in after and salon.at(day, 11, 30) not in after
    assert salon.at(day, 11) in after and salon.at(day, 13) in after
    anyone = await backend.slots(str(salon.haircut.id), None, day, day)
    assert salon.at(day, 12) in {s.start for s in anyone}  # Olga is free then
    assert {s.staff_id for s in anyone} == {""}


async def test_slots_skip_days_with_nothing_free_and_refuse_wide_ranges(backend: YclientsBackend, salon: Salon) -> None:
    day = salon.tomorrow()
    salon.olga.hours = {d: (10, 19) for d in range(7) if d != (day + timedelta(days=1)).weekday()}
    slots = await backend.slots(str(salon.haircut.id), str(salon.olga.id), day, day + timedelta(days=2))
    assert {s.start.astimezone(salon.company.tz).date() for s in slots} == {day, day + timedelta(days=2)}
    times_calls = [path for _, path in salon.double.calls if "/book_times/" in path]
    assert len(times_calls) == 2  # book_dates said which days to ask about
    with pytest.raises(InvalidInput):
        await backend.slots(str(salon.haircut.id), None, day, day + timedelta(days=100))
    with pytest.raises(Unprocessable):
        await backend.slots("../company/1", None, day, day)


async def test_clients_are_found_by_phone_and_created(backend: YclientsBackend, salon: Salon) -> None:
    found = await backend.client_by_phone("+7 (916) 123-45-67")
    assert found == Client(id=str(salon.regular.id), name="Мария", phone="+79161234567")
    assert await backend.client_by_phone("+79990000000") is None
    assert await backend.client_by_phone("") is None and await backend.client_by_phone("12") is None
    created = await backend.create_client("Иван", "+79990000000")
    assert created.phone == "+79990000000"
    assert await backend.client_by_phone("+79990000000") == created


async def test_a_booking_of_two_services_is_back_to_back_checked_then_recorded(
    backend: YclientsBackend, salon: Salon
) -> None:
    booked = await backend.book(
        _request(
            salon,
            BookedService(str(salon.haircut.id), str(salon.anna.id)),
            BookedService(str(salon.colouring.id), None),
            hour=12,
            key="conv-1:confirm-1",
        )
    )
    day = salon.tomorrow()
    assert [(a.service_name, a.staff_name, a.start, a.end, a.status) for a in booked] == [
        ("Стрижка женская", "Анна", salon.at(day, 12), salon.at(day, 13), "unconfirmed"),
        ("Окрашивание", "Анна", salon.at(day, 13), salon.at(day, 14, 30), "unconfirmed"),
    ]
    assert {a.client_id for a in booked} == {str(salon.regular.id)}
    paths = [path for method, path in salon.double.calls if method == "POST"]
    assert paths == [f"/api/v1/book_check/{salon.company.id}", f"/api/v1/book_record/{salon.company.id}"]
    records = [r for r in salon.double.records.values() if not r.deleted]
    assert {r.api_id for r in records} == {"conv-1:confirm-1"} and {r.comment for r in records} == {"Из чата"}

    mine = await backend.client_appointments(str(salon.regular.id))
    assert [a.id for a in mine] == [a.id for a in booked]


async def test_the_same_idempotency_key_returns_the_same_booking(backend: YclientsBackend, salon: Salon) -> None:
    anyone = _request(salon, BookedService(str(salon.haircut.id), None), hour=12, key="conv-1:confirm-1")
    first = await backend.book(anyone)
    again = await backend.book(anyone)  # with "anyone", booking again would have found the other member free
    assert [a.id for a in again] == [a.id for a in first]
    assert len([r for r in salon.double.records.values() if not r.deleted]) == 1
    other_key = await backend.book(replace(anyone, idempotency_key="conv-1:confirm-2"))
    assert other_key[0].id != first[0].id and other_key[0].staff_id != first[0].staff_id
    await backend.cancel(first[0].id)
    rebooked = await backend.book(anyone)  # a cancelled booking is not an answer to a new confirmation
    assert rebooked[0].id not in {first[0].id, other_key[0].id}


async def test_yclients_error_codes_become_the_common_problems(
    backend: YclientsBackend, yc_runtime: Runtime, salon: Salon
) -> None:
    haircut, anna = str(salon.haircut.id), str(salon.anna.id)
    await backend.book(_request(salon, BookedService(haircut, anna), hour=12))
    with pytest.raises(SlotTaken) as taken:  # 433
        await backend.book(_request(salon, BookedService(haircut, anna), hour=12))
    assert taken.value.status == 409 and taken.value.extra["yclients_code"] == 433

    await backend.book(_request(salon, BookedService(haircut, str(salon.olga.id)), hour=15))
    await backend.book(_request(salon, BookedService(haircut, anna), hour=15))
    with pytest.raises(NoStaffFree):  # 436: anyone, but both are busy
        await backend.book(_request(salon, BookedService(haircut, None), hour=15))

    with pytest.raises(ServiceNotBookable):  # 438: Olga does not colour
        await backend.book(_request(salon, BookedService(str(salon.colouring.id), str(salon.olga.id)), hour=17))

    client = yclients_client(yc_runtime, USER_TOKEN)
    start = salon.at(salon.tomorrow(), 10).isoformat()
    overlapping = [
        {"id": 1, "services": [salon.haircut.id], "staff_id": salon.olga.id, "datetime": start},
        {"id": 2, "services": [salon.haircut.id], "staff_id": salon.olga.id, "datetime": start},
    ]
    with pytest.raises(OverlapInRequest) as overlap:  # 437
        await client.call("POST", f"book_check/{salon.company.id}", json={"appointments": overlapping})
    assert overlap.value.status == 422

    salon.haircut.bookable = False  # removed from online booking after the assistant listed it
    with pytest.raises(ServiceNotBookable):
        await backend.book(_request(salon, BookedService(haircut, None), hour=17))
    with pytest.raises(Unprocessable):  # 431: YCLIENTS refuses the phone
        await backend.book(_request(salon, BookedService(str(salon.colouring.id), anna), hour=17, phone="12"))
    assert not any(r.start == salon.at(salon.tomorrow(), 17) for r in salon.double.records.values())


async def test_cancel_and_reschedule(backend: YclientsBackend, salon: Salon) -> None:
    haircut, anna = str(salon.haircut.id), str(salon.anna.id)
    first = (await backend.book(_request(salon, BookedService(haircut, anna), hour=12)))[0]
    second = (await backend.book(_request(salon, BookedService(haircut, anna), hour=14)))[0]

    moved = await backend.reschedule(first.id, salon.at(salon.tomorrow(), 16))
    assert (moved.id, moved.start, moved.end) == (
        first.id,
        salon.at(salon.tomorrow(), 16),
        salon.at(salon.tomorrow(), 17),
    )
    with pytest.raises(SlotTaken):
        await backend.reschedule(first.id, salon.at(salon.tomorrow(), 14, 30))

    cancelled = await backend.cancel(second.id)
    assert (cancelled.id, cancelled.status) == (second.id, "cancelled")
    assert salon.double.records[int(second.id)].deleted
    with pytest.raises(NotFound):
        await backend.cancel(second.id)
    assert [a.id for a in await backend.client_appointments(str(salon.regular.id))] == [first.id]


async def test_the_rate_limit_is_kept_across_a_burst(backend: YclientsBackend, salon: Salon) -> None:
    day = salon.tomorrow()
    await backend.slots(str(salon.haircut.id), str(salon.anna.id), day, day + timedelta(days=9))
    for _ in range(3):
        await backend.services()
    assert len(salon.double.request_times) == 14
    assert salon.double.max_requests_in_any_second() <= 5
    assert salon.double.refused_for_rate == 0


async def test_429_and_server_errors_are_retried_where_safe(backend: YclientsBackend, salon: Salon) -> None:
    salon.double.fail_next(429, 503)
    assert len(await backend.services()) == 2
    assert len(salon.double.calls) == 3
    salon.double.fail_next(500, 500, 500, 500)
    with pytest.raises(BackendUnavailable):
        await backend.services()

    haircut, anna = str(salon.haircut.id), str(salon.anna.id)
    salon.double.calls.clear()
    salon.double.fail_on("POST", "book_check", 503)
    booked = (await backend.book(_request(salon, BookedService(haircut, anna), hour=12)))[0]
    assert [p for _, p in salon.double.calls].count(f"/api/v1/book_check/{salon.company.id}") == 2

    salon.double.calls.clear()
    salon.double.fail_on("POST", "book_record", 500)
    with pytest.raises(BackendUnavailable):  # it may have booked: a second try could book twice
        await backend.book(_request(salon, BookedService(haircut, anna), hour=15))
    assert [p for _, p in salon.double.calls].count(f"/api/v1/book_record/{salon.company.id}") == 1

    salon.double.fail_on("DELETE", "record", 502)
    with pytest.raises(BackendUnavailable):
        await backend.cancel(booked.id)
    assert not salon.double.records[int(booked.id)].deleted


async def test_a_slow_yclients_is_unavailable_not_a_hang(yc_runtime: Runtime, salon: Salon) -> None:
    yc_runtime.settings = yc_runtime.settings.model_copy(update={"yclients_timeout_seconds": 0.3})
    slow = YclientsBackend(yclients_client(yc_runtime, USER_TOKEN), salon.company.id)
    salon.double.delay_seconds = 1.0
    with pytest.raises(BackendUnavailable) as unavailable:
        await slow.services()
    assert unavailable.value.status == 503
    assert len(salon.double.calls) == 1  # not retried: the customer is waiting


async def test_refused_credentials_are_unavailable(yc_runtime: Runtime, salon: Salon) -> None:
    stranger = YclientsBackend(yclients_client(yc_runtime, "not0a0token0at0all"), salon.company.id)
    with pytest.raises(CredentialsRefused):
        await stranger.client_by_phone("+79161234567")
    other = salon.double.add_company("Чужой салон")
    with pytest.raises(CredentialsRefused):  # a real user token, but not of this company
        await YclientsBackend(yclients_client(yc_runtime, USER_TOKEN), other.id).client_appointments("1")
    yc_runtime.settings = yc_runtime.settings.model_copy(update={"yclients_partner_token": None})
    with pytest.raises(BackendUnavailable):
        yclients_client(yc_runtime, USER_TOKEN)
