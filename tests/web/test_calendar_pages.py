"""The calendar pages over HTTP through the app, on the real database: the day view (every member side by side,
working hours shaded, appointments and holds in the half hour they start, in the workspace's zone, DST days
included) and the week view; booking from an empty slot (a taken time and one outside the hours refused in
Russian); moving by the form and as the calendar's script does; status changes; the conversation's upcoming
appointments; viewers read but change nothing; other tenants' appointments, staff, services and contacts are
not found."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.booking.support import APPOINTMENTS, HOLDS, MOSCOW, Salon, a_week_ahead, booking_body, make_salon
from tests.catalogue.test_services import add_service
from tests.catalogue.test_staff import add_staff
from tests.conftest import TenantFixture
from tests.web.dashboard import home_csrf, sign_in
from tests.web.test_contact_pages import contact_id_of, customer_writes
from tests.web.test_deal_pages import sign_in_member

JSON = {"Accept": "application/json"}
SLOT_TAKEN = "Это время уже занято"
OUTSIDE_HOURS = "Это время вне рабочих часов сотрудника"


async def book(client: httpx.AsyncClient, tenant: TenantFixture, salon: Salon, clock: str, **fields: object) -> dict:
    body = booking_body(salon, clock, contact={"name": "Анна", "phone": "+79123456789"}, **fields)
    response = await client.post(APPOINTMENTS, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def column(html: str, staff_id: str) -> str:
    """The HTML of one member's column of the day view."""
    start = html.index(f'data-staff-id="{staff_id}"')
    return html[start : html.find("</section>", start)]


def cell(html: str, label: str) -> str:
    """The HTML of the half hour labelled `label` (the first such) within `html`."""
    start = html.index(f'<span class="calendar-time">{label}</span>')
    opening = html.rindex('<li class="calendar-cell', 0, start)
    closing = html.find('<li class="calendar-cell', start)
    return html[opening : closing if closing >= 0 else len(html)]


def labels(html: str) -> list[str]:
    return re.findall(r'<span class="calendar-time">([^<]+)</span>', html)


async def appointment_of(client: httpx.AsyncClient, tenant: TenantFixture, appointment_id: str) -> dict:
    response = await client.get(f"{APPOINTMENTS}/{appointment_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def local_clock(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(MOSCOW).strftime("%H:%M")


async def test_the_day_view_puts_members_side_by_side_with_their_hours_appointments_and_holds(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a, name="Айгерим")
    other = await add_staff(
        client,
        tenant_a,
        name="Бермет",
        services=[salon.service["id"]],
        working_hours=[{"weekday": d, "start": "12:00", "end": "20:00"} for d in range(7)],
    )
    booked = await book(client, tenant_a, salon, "11:00")
    held = await client.post(
        HOLDS,
        json={"service_id": salon.service["id"], "staff_id": other["id"], "start": salon.at("16:00")},
        headers=tenant_a.headers,
    )
    assert held.status_code == 201, held.text
    await sign_in(client, tenant_a)

    day = await client.get("/app/calendar", params={"day": salon.day.isoformat()})
    assert day.status_code == 200, day.text
    assert 'href="/app/calendar" aria-current="page">Календарь</a>' in day.text
    first, second = column(day.text, salon.staff["id"]), column(day.text, other["id"])
    assert "Айгерим" in first and "Бермет" in second
    assert day.text.index(salon.staff["id"]) < day.text.index(other["id"])  # by name
    # The grid runs from the earliest hour anyone works (or 09:00) to the latest (20:00), in half hours.
    assert labels(first)[0] == "09:00" and labels(first)[-1] == "19:30" and len(labels(first)) == 22
    # Working hours shaded, the lunch break not; the second member starts at noon.
    assert "working" not in cell(first, "09:30") and "working" in cell(first, "10:00")
    assert "working" not in cell(first, "14:00") and "working" in cell(first, "15:00")
    assert "working" not in cell(second, "11:30") and "working" in cell(second, "12:00")
    # The appointment in its half hour, with its service, customer and status; the hold shown as held.
    eleven = cell(first, "11:00")
    assert f'id="appointment-{booked["id"]}"' in eleven
    assert "11:00–12:00" in eleven and salon.service["name"] in eleven and "Анна" in eleven
    assert "Подтверждена" in eleven
    assert "Удерживается · 16:00–17:00" in cell(second, "16:00")
    assert booked["id"] not in second and "Удерживается" not in first
    # An empty working half hour offers a booking there; a booked one, a break and a closed one do not.
    assert f"/app/calendar/new?staff={salon.staff['id']}&amp;start={salon.day.isoformat()}T10%3A00" in first
    assert "Записать на" not in eleven and "Записать на" not in cell(first, "14:00")
    assert "Записать на" not in cell(first, "09:00")

    # One member alone, and the other day empty.
    alone = await client.get("/app/calendar", params={"day": salon.day.isoformat(), "staff": other["id"]})
    assert other["id"] in alone.text and f'data-staff-id="{salon.staff["id"]}"' not in alone.text
    elsewhere = await client.get("/app/calendar", params={"day": date(2026, 1, 5).isoformat()})
    assert booked["id"] not in elsewhere.text
    # Half hours gone by offer no booking.
    yesterday = await client.get("/app/calendar", params={"day": (salon.day - timedelta(days=8)).isoformat()})
    assert "working" in yesterday.text and "Записать на" not in yesterday.text


async def test_the_week_view_shows_one_member_day_by_day_and_the_tenant_zone_decides_the_hour(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    booked = await book(client, tenant_a, salon, "11:00")
    await sign_in(client, tenant_a)

    week = await client.get(
        "/app/calendar", params={"view": "week", "day": salon.day.isoformat(), "staff": salon.staff["id"]}
    )
    assert week.status_code == 200, week.text
    assert week.text.count('class="calendar-column"') == 7
    assert "Понедельник" in week.text and "Воскресенье" in week.text
    days = re.findall(r'data-day="([0-9-]+)"', week.text)
    assert date.fromisoformat(days[0]).weekday() == 0 and salon.day.isoformat() in days
    start = week.text.index(f'data-day="{salon.day.isoformat()}"')
    the_day = week.text[start : week.text.find("</section>", start)]
    assert f'id="appointment-{booked["id"]}"' in cell(the_day, "11:00")

    # The same instant in Bishkek (UTC+6) is three hours later on the clock: the page shows it so.
    changed = await client.patch("/api/v1/tenant", json={"timezone": "Asia/Bishkek"}, headers=tenant_a.headers)
    assert changed.status_code == 200, changed.text
    day = await client.get("/app/calendar", params={"day": salon.day.isoformat()})
    assert "Asia/Bishkek" in day.text
    assert f'id="appointment-{booked["id"]}"' in cell(day.text, "14:00")
    assert "14:00–15:00" in day.text


async def test_a_dst_day_has_no_skipped_half_hours_and_twice_the_repeated_ones(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    changed = await client.patch("/api/v1/tenant", json={"timezone": "Europe/Berlin"}, headers=tenant_a.headers)
    assert changed.status_code == 200, changed.text
    night = [{"weekday": 6, "start": "01:00", "end": "05:00"}]  # Sundays, across both of 2027's changes
    member = await add_staff(client, tenant_a, name="Ночная смена", working_hours=night)
    service = await add_service(client, tenant_a, duration_minutes=60, buffer_after_minutes=0)
    await sign_in(client, tenant_a)

    spring = await client.get("/app/calendar", params={"day": "2027-03-28", "staff": member["id"]})
    assert spring.status_code == 200, spring.text
    shown = labels(spring.text)
    # 02:00–03:00 never happens in Berlin that night: the grid goes from 01:30 straight to 03:00.
    assert shown[:4] == ["01:00", "01:30", "03:00", "03:30"] and "02:00" not in shown
    assert "working" in cell(spring.text, "03:00")
    assert 'data-start="2027-03-28T00:30:00+00:00"' in spring.text  # 01:30 CET
    assert 'data-start="2027-03-28T01:00:00+00:00"' in spring.text  # 03:00 CEST, the next instant

    autumn = await client.get("/app/calendar", params={"day": "2027-10-31", "staff": member["id"]})
    shown = labels(autumn.text)
    # 02:00–03:00 happens twice: once in summer time, once in winter time.
    assert shown[:7] == [
        "01:00",
        "01:30",
        "02:00 (UTC+0200)",
        "02:30 (UTC+0200)",
        "02:00 (UTC+0100)",
        "02:30 (UTC+0100)",
        "03:00",
    ]
    assert "working" in cell(autumn.text, "02:00 (UTC+0100)")
    assert 'data-start="2027-10-31T00:00:00+00:00"' in autumn.text
    assert 'data-start="2027-10-31T01:00:00+00:00"' in autumn.text

    # Hours shortened after a late booking: the grid still reaches the booking, the day before it does not.
    late = await add_staff(
        client,
        tenant_a,
        name="Поздняя смена",
        services=[service["id"]],
        working_hours=[{"weekday": d, "start": "10:00", "end": "22:00"} for d in range(7)],
    )
    day = a_week_ahead()
    at_night = datetime(day.year, day.month, day.day, 20, 0, tzinfo=ZoneInfo("Europe/Berlin")).isoformat()
    body = {"service_id": service["id"], "staff_id": late["id"], "start": at_night}
    booked = await client.post(APPOINTMENTS, json=body, headers=tenant_a.headers)
    assert booked.status_code == 201, booked.text
    shorter = [{"weekday": d, "start": "10:00", "end": "17:00"} for d in range(7)]
    patched = await client.patch(
        f"/api/v1/staff/{late['id']}", json={"working_hours": shorter}, headers=tenant_a.headers
    )
    assert patched.status_code == 200, patched.text
    evening = await client.get("/app/calendar", params={"day": day.isoformat(), "staff": late["id"]})
    assert labels(evening.text)[0] == "09:00" and labels(evening.text)[-1] == "20:30"
    assert booked.json()["id"] in cell(evening.text, "20:00") and "working" not in cell(evening.text, "20:00")
    before = await client.get(
        "/app/calendar", params={"day": (day - timedelta(days=1)).isoformat(), "staff": late["id"]}
    )
    assert labels(before.text)[-1] == "18:30"

    week = await client.get("/app/calendar", params={"view": "week", "day": "2027-03-24", "staff": member["id"]})
    assert week.text.count('class="calendar-column"') == 7 and 'data-day="2027-03-28"' in week.text


async def test_booking_from_an_empty_slot_and_a_taken_or_closed_time_refused_in_russian(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    await sign_in(client, tenant_a)
    start = f"{salon.day.isoformat()}T10:00"

    form = await client.get("/app/calendar/new", params={"staff": salon.staff["id"], "start": start})
    assert form.status_code == 200, form.text
    assert f'value="{start}"' in form.text and salon.service["name"] in form.text
    assert f'<option value="{salon.staff["id"]}" selected>' in form.text
    token = await home_csrf(client)
    fields = {
        "csrf_token": token,
        "service_id": salon.service["id"],
        "staff_id": salon.staff["id"],
        "start": start,
        "name": "<b>Гульнара</b>",
        "phone": "+996 700 123 456",
        "note": "Первый визит",
    }

    form_key = re.search(r'name="form_key" value="([0-9a-f-]{36})"', form.text)
    assert form_key is not None
    fields["form_key"] = form_key.group(1)
    made = await client.post("/app/calendar/appointments", data=fields)
    assert made.status_code == 303, made.text
    # "Book" pressed twice (or the form resent): the first booking again, not a second one, nor a refusal.
    twice = await client.post("/app/calendar/appointments", data=fields)
    assert twice.status_code == 303 and twice.headers["location"] == made.headers["location"]
    # The same form with another time: not taken for a resend; a fresh key in the form lets it through next.
    changed = await client.post("/app/calendar/appointments", data={**fields, "start": f"{salon.day}T12:00"})
    assert changed.status_code == 409 and "Эта форма уже использована" in changed.text
    assert f'name="form_key" value="{fields["form_key"]}"' not in changed.text
    del fields["form_key"]
    assert made.headers["location"].startswith(f"/app/calendar?day={salon.day.isoformat()}#appointment-")
    listed = (await client.get(APPOINTMENTS, params={"day": salon.day.isoformat()}, headers=tenant_a.headers)).json()
    (booked,) = listed["items"]
    assert booked["source"] == "dashboard" and booked["customer_name"] == "<b>Гульнара</b>"
    assert booked["customer_phone"] == "+996700123456" and booked["contact_id"] and booked["note"] == "Первый визит"
    assert local_clock(booked["start"]) == "10:00"
    day = await client.get("/app/calendar", params={"day": salon.day.isoformat()})
    assert "&lt;b&gt;Гульнара&lt;/b&gt;" in day.text and "<b>Гульнара</b>" not in day.text

    # The same time again, and one overlapping it: taken, said in Russian, the form kept.
    for clock in ("10:00", "10:30"):
        taken = await client.post("/app/calendar/appointments", data={**fields, "start": f"{salon.day}T{clock}"})
        assert taken.status_code == 409, taken.text
        assert SLOT_TAKEN in taken.text and 'value="+996 700 123 456"' in taken.text
    # The lunch break and the evening are outside the member's hours.
    for clock in ("14:30", "20:00"):
        closed = await client.post("/app/calendar/appointments", data={**fields, "start": f"{salon.day}T{clock}"})
        assert closed.status_code == 422, closed.text
        assert OUTSIDE_HOURS in closed.text
    # An existing contact instead of a name and phone: found by the form's search, then chosen.
    found = await client.get(
        "/app/calendar/new", params={"staff": salon.staff["id"], "start": start, "contact_q": "Гульнара"}
    )
    assert f'<option value="{booked["contact_id"]}"' in found.text
    again = await client.post(
        "/app/calendar/appointments",
        data={**fields, "start": f"{salon.day}T16:00", "name": "", "phone": "", "contact_id": booked["contact_id"]},
    )
    assert again.status_code == 303, again.text
    listed = await client.get(APPOINTMENTS, params={"contact_id": booked["contact_id"]}, headers=tenant_a.headers)
    assert len(listed.json()["items"]) == 2
    assert (await client.get(APPOINTMENTS, params={"day": salon.day.isoformat()}, headers=tenant_a.headers)).json()[
        "total"
    ] == 2


async def test_malformed_oversized_and_forged_bookings_are_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    await sign_in(client, tenant_a)
    token = await home_csrf(client)
    good = {
        "csrf_token": token,
        "service_id": salon.service["id"],
        "staff_id": salon.staff["id"],
        "start": f"{salon.day}T10:00",
        "name": "Анна",
        "phone": "+79123456789",
    }
    for bad in (
        {"start": "завтра"},
        {"start": f"{salon.day}T10:00:30"},
        {"service_id": "not-an-id"},
        {"name": ""},
        {"name": "А" * 201},
        {"phone": "позвоните мне"},
        {"name": "Анна\x00"},
        {"note": "x" * 5000},
        {"form_key": "not-a-key"},
    ):
        refused = await client.post("/app/calendar/appointments", data={**good, **bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert "Запись не создана" in refused.text
    forged = await client.post("/app/calendar/appointments", data={**good, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await client.get(APPOINTMENTS, headers=tenant_a.headers)).json()["items"] == []
    for params in ({"day": "вчера"}, {"view": "month"}, {"staff": "nobody"}, {"day": "9999-01-01"}):
        assert (await client.get("/app/calendar", params=params)).status_code == 400, params
    assert (await client.get("/app/calendar/new", params={"contact_q": "x" * 201})).status_code == 400


async def test_moving_by_the_form_and_by_dragging_and_changing_the_status(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    first = await book(client, tenant_a, salon, "11:00")
    second = await book(client, tenant_a, salon, "16:00")
    await sign_in(client, tenant_a)
    token = await home_csrf(client)
    path = f"/app/calendar/appointments/{first['id']}"

    shown = await client.get(path)
    assert shown.status_code == 200 and f'value="{salon.day}T11:00"' in shown.text and "Перенести" in shown.text
    buttons = re.findall(r'name="status" value="(\w+)"', shown.text)
    assert buttons == ["arrived", "no_show", "cancelled"]  # confirmed already
    moved = await client.post(f"{path}/move", data={"csrf_token": token, "start": f"{salon.day}T12:30"})
    assert moved.status_code == 303 and moved.headers["location"] == path
    assert local_clock((await appointment_of(client, tenant_a, first["id"]))["start"]) == "12:30"

    # As the calendar's script does it: a cell's instant, answered in JSON.
    dragged = await client.post(
        f"{path}/move", data={"start": salon.at("10:00")}, headers={**JSON, "X-CSRF-Token": token}
    )
    assert dragged.status_code == 200, dragged.text
    assert local_clock(dragged.json()["start"]) == "10:00"
    onto_taken = await client.post(
        f"{path}/move", data={"start": salon.at("15:30")}, headers={**JSON, "X-CSRF-Token": token}
    )
    assert onto_taken.status_code == 409 and onto_taken.json()["message"].startswith(SLOT_TAKEN)
    into_break = await client.post(
        f"{path}/move", data={"start": salon.at("14:00")}, headers={**JSON, "X-CSRF-Token": token}
    )
    assert into_break.status_code == 422 and into_break.json()["message"].startswith(OUTSIDE_HOURS)
    by_form = await client.post(f"{path}/move", data={"csrf_token": token, "start": f"{salon.day}T16:15"})
    assert by_form.status_code == 409 and SLOT_TAKEN in by_form.text
    nonsense = await client.post(f"{path}/move", data={"csrf_token": token, "start": "later"})
    assert nonsense.status_code == 422 and "Выберите день и время" in nonsense.text
    assert local_clock((await appointment_of(client, tenant_a, first["id"]))["start"]) == "10:00"

    arrived = await client.post(f"{path}/status", data={"csrf_token": token, "status": "arrived"})
    assert arrived.status_code == 303
    assert (await appointment_of(client, tenant_a, first["id"]))["status"] == "arrived"
    page = await client.get(path)
    assert "Пришёл" in page.text and 'action="' + path + '/move"' not in page.text and 'name="status"' not in page.text
    too_late = await client.post(f"{path}/status", data={"csrf_token": token, "status": "cancelled"})
    assert too_late.status_code == 409 and "Запись нельзя так изменить" in too_late.text
    unknown = await client.post(f"{path}/status", data={"csrf_token": token, "status": "deleted"})
    assert unknown.status_code == 422

    cancelled = await client.post(
        f"/app/calendar/appointments/{second['id']}/status", data={"csrf_token": token, "status": "cancelled"}
    )
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/app/calendar?day={salon.day}"
    day = await client.get("/app/calendar", params={"day": salon.day.isoformat()})
    assert second["id"] not in day.text and first["id"] in day.text

    # A pending booking is confirmed here (and shown as awaiting confirmation until then).
    pending = await book(client, tenant_a, salon, "17:30", status="pending")
    assert "Ждёт подтверждения" in cell(
        (await client.get("/app/calendar", params={"day": salon.day.isoformat()})).text, "17:30"
    )
    pending_page = await client.get(f"/app/calendar/appointments/{pending['id']}")
    assert re.findall(r'name="status" value="(\w+)"', pending_page.text) == ["confirmed", "cancelled"]
    confirmed = await client.post(
        f"/app/calendar/appointments/{pending['id']}/status", data={"csrf_token": token, "status": "confirmed"}
    )
    assert confirmed.status_code == 303
    assert (await appointment_of(client, tenant_a, pending["id"]))["status"] == "confirmed"


async def test_the_conversation_shows_the_contacts_next_appointments(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a, name="Айгерим")
    conversation = await customer_writes(database, tenant_a, "ext-calendar", "Хочу записаться", name="Дина")
    contact_id = await contact_id_of(client, tenant_a, conversation)
    await sign_in(client, tenant_a)
    before = await client.get(f"/app/conversations/{conversation}")
    assert before.status_code == 200 and "Предстоящих записей нет." in before.text

    clocks = ["10:00", "11:15", "12:30", "15:00", "16:15", "17:30"]
    made = []
    for clock in clocks:
        body = booking_body(salon, clock, contact_id=contact_id)
        response = await client.post(APPOINTMENTS, json=body, headers=tenant_a.headers)
        assert response.status_code == 201, response.text
        made.append(response.json())
    page = await client.get(f"/app/conversations/{conversation}")
    panel = page.text[page.text.index("data-appointments-panel") :]
    panel = panel[: panel.index("</section>")]
    # The next five, soonest first, each with its service, member, time and status, linked to its day.
    assert [f"{salon.day:%d.%m.%Y} {clock}" for clock in clocks[:5]] == re.findall(
        r">(\d\d\.\d\d\.\d{4} \d\d:\d\d)</a>", panel
    )
    assert "17:30" not in panel
    assert salon.service["name"] in panel and "Айгерим" in panel and "Подтверждена" in panel
    assert f'href="/app/calendar?day={salon.day}#appointment-{made[0]["id"]}"' in panel
    assert f'href="/app/calendar/new?contact={contact_id}"' in panel
    # Booking from there: the form with the contact already chosen.
    form = await client.get("/app/calendar/new", params={"contact": contact_id})
    assert form.status_code == 200 and f'<option value="{contact_id}" selected>Дина' in form.text


async def test_viewers_read_the_calendar_but_change_nothing(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    booked = await book(client, tenant_a, salon, "11:00")
    await sign_in_member(client, database, tenant_a, Role.viewer)
    token = await home_csrf(client)

    day = await client.get("/app/calendar", params={"day": salon.day.isoformat()})
    assert day.status_code == 200 and booked["id"] in day.text
    assert "Записать на" not in day.text and "data-can-move" not in day.text and "sortable" not in day.text
    page = await client.get(f"/app/calendar/appointments/{booked['id']}")
    assert page.status_code == 200 and "/move" not in page.text and 'name="status"' not in page.text
    assert (await client.get("/app/calendar/new")).status_code == 403
    made = await client.post(
        "/app/calendar/appointments",
        data={
            "csrf_token": token,
            "service_id": salon.service["id"],
            "staff_id": salon.staff["id"],
            "start": f"{salon.day}T15:00",
            "name": "Анна",
            "phone": "+79123456789",
        },
    )
    assert made.status_code == 403
    dragged = await client.post(
        f"/app/calendar/appointments/{booked['id']}/move",
        data={"start": salon.at("15:00")},
        headers={**JSON, "X-CSRF-Token": token},
    )
    assert dragged.status_code == 403 and "Изменять записи могут только" in dragged.json()["message"]
    status = await client.post(
        f"/app/calendar/appointments/{booked['id']}/status", data={"csrf_token": token, "status": "cancelled"}
    )
    assert status.status_code == 403
    after = await appointment_of(client, tenant_a, booked["id"])
    assert after["status"] == "confirmed" and after["start"] == booked["start"]
    assert (await client.get(APPOINTMENTS, headers=tenant_a.headers)).json()["total"] == 1


async def test_other_tenants_appointments_staff_services_and_contacts_are_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await make_salon(client, tenant_b, name="Чужой мастер")
    their_booking = await book(client, tenant_b, theirs, "11:00")
    ours = await make_salon(client, tenant_a)
    await sign_in(client, tenant_a)
    token = await home_csrf(client)
    path = f"/app/calendar/appointments/{their_booking['id']}"

    day = await client.get("/app/calendar", params={"day": theirs.day.isoformat()})
    assert their_booking["id"] not in day.text and "Чужой мастер" not in day.text
    assert (await client.get(path)).status_code == 404
    assert (await client.get(f"/app/calendar/appointments/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/app/calendar/appointments/not-an-id")).status_code == 404
    moved = await client.post(f"{path}/move", data={"start": ours.at("12:00")}, headers={**JSON, "X-CSRF-Token": token})
    assert moved.status_code == 404
    by_form = await client.post(f"{path}/move", data={"csrf_token": token, "start": f"{ours.day}T12:00"})
    assert by_form.status_code == 404
    status = await client.post(f"{path}/status", data={"csrf_token": token, "status": "cancelled"})
    assert status.status_code == 404
    assert (await client.get("/app/calendar", params={"staff": theirs.staff["id"]})).status_code == 404
    assert (await client.get("/app/calendar/new", params={"contact": their_booking["contact_id"]})).status_code == 404
    fields = {
        "csrf_token": token,
        "service_id": ours.service["id"],
        "staff_id": ours.staff["id"],
        "start": f"{ours.day}T12:00",
        "name": "Анна",
        "phone": "+79123456789",
    }
    for foreign in (
        {"service_id": theirs.service["id"]},
        {"staff_id": theirs.staff["id"]},
        {"contact_id": their_booking["contact_id"], "name": "", "phone": ""},
    ):
        refused = await client.post("/app/calendar/appointments", data={**fields, **foreign})
        assert refused.status_code == 404, (foreign, refused.text)
    after = await appointment_of(client, tenant_b, their_booking["id"])
    assert after["status"] == "confirmed" and after["start"] == their_booking["start"]
    assert (await client.get(APPOINTMENTS, headers=tenant_a.headers)).json()["total"] == 0
