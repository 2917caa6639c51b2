"""Appointments through the API: slots, booking (one service or several back to back), idempotency, moving and
status changes, holds, contacts found by phone, the timeline, live and funnel events, roles, tenants kept apart,
and hostile input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.booking.support import (
    APPOINTMENTS,
    HOLDS,
    MOSCOW,
    SLOTS,
    booking_body,
    make_salon,
    slot_starts,
)
from tests.catalogue.test_services import add_service
from tests.conftest import TenantFixture, make_key


async def book(client: httpx.AsyncClient, tenant: TenantFixture, body: dict, **headers: str | bytes) -> httpx.Response:
    return await client.post(APPOINTMENTS, json=body, headers={**tenant.headers, **headers})


async def test_a_booked_slot_leaves_the_slots_with_its_buffer_and_a_second_booking_is_409(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    before = await slot_starts(client, tenant_a, salon)
    assert before[0] == "10:00" and "13:00" in before and "13:15" not in before and before[-1] == "18:00"

    made = await book(
        client, tenant_a, booking_body(salon, "11:00", contact={"name": "Анна", "phone": "8 912 345-67-89"})
    )
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["status"] == "confirmed" and booking["customer_name"] == "Анна"
    assert booking["customer_phone"] == "+79123456789" and booking["contact_id"]
    assert datetime.fromisoformat(booking["end"]) - datetime.fromisoformat(booking["start"]) == timedelta(hours=1)
    assert datetime.fromisoformat(booking["blocked_until"]) == datetime.fromisoformat(booking["end"]) + timedelta(
        minutes=15
    )
    assert [item["id"] for item in booking["appointments"]] == [booking["id"]]

    after = await slot_starts(client, tenant_a, salon)
    # 10:00 with its own 15-minute buffer would run into 11:00; 11:00-12:00 is taken and its buffer keeps
    # 12:00 free too.
    assert after[0] == "12:15" and "12:00" not in after and len(after) == len(before) - 9
    for clock in ("11:00", "11:30", "10:15"):
        taken = await book(client, tenant_a, booking_body(salon, clock))
        assert taken.status_code == 409, taken.text
        assert taken.json()["type"].endswith("slot-taken")

    one = await client.get(f"{APPOINTMENTS}/{booking['id']}", headers=tenant_a.headers)
    assert one.status_code == 200 and one.json()["id"] == booking["id"]
    listed = await client.get(APPOINTMENTS, params={"day": salon.day.isoformat()}, headers=tenant_a.headers)
    assert [item["id"] for item in listed.json()["items"]] == [booking["id"]]
    for params in (
        {"staff_id": salon.staff["id"]},
        {"contact_id": booking["contact_id"]},
        {"from": salon.at("10:30"), "to": salon.at("11:30")},
    ):
        found = await client.get(APPOINTMENTS, params=params, headers=tenant_a.headers)
        assert [item["id"] for item in found.json()["items"]] == [booking["id"]], params
    elsewhere = await client.get(
        APPOINTMENTS, params={"day": (salon.day + timedelta(days=1)).isoformat()}, headers=tenant_a.headers
    )
    assert elsewhere.json()["items"] == []


async def test_anyone_books_the_first_member_free_and_409_no_staff_free_when_none_is(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a, name="Алия")
    other = await client.patch(f"/api/v1/staff/{salon.staff['id']}", json={"name": "Алия"}, headers=tenant_a.headers)
    assert other.status_code == 200
    second = await client.post(
        "/api/v1/staff",
        json={
            "name": "Бакыт",
            "services": [salon.service["id"]],
            "working_hours": [{"weekday": salon.day.weekday(), "start": "10:00", "end": "12:00"}],
        },
        headers=tenant_a.headers,
    )
    assert second.status_code == 201
    first = await book(client, tenant_a, booking_body(salon, "10:00", staff_id="any"))
    again = await book(client, tenant_a, booking_body(salon, "10:00", staff_id="any"))
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert {first.json()["staff_id"], again.json()["staff_id"]} == {salon.staff["id"], second.json()["id"]}
    third = await book(client, tenant_a, booking_body(salon, "10:00", staff_id="any"))
    assert third.status_code == 409 and third.json()["type"].endswith("no-staff-free")
    anyone = await slot_starts(client, tenant_a, salon, staff_id="any")
    assert "10:00" not in anyone and "11:15" in anyone


async def test_the_same_idempotency_key_returns_the_same_booking_and_refuses_another_body(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    body = booking_body(salon, "15:00", contact={"name": "Олег", "phone": "+996 555 123 456"})
    first = await book(client, tenant_a, body, **{"Idempotency-Key": "order-42"})
    again = await book(client, tenant_a, body, **{"Idempotency-Key": "order-42"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = await book(client, tenant_a, booking_body(salon, "16:00"), **{"Idempotency-Key": "order-42"})
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")
    listed = await client.get(APPOINTMENTS, params={"day": salon.day.isoformat()}, headers=tenant_a.headers)
    assert listed.json()["total"] == 1
    for bad_key in ("", "ключ".encode(), "x" * 201, "a b", "\x7f"):
        refused = await book(client, tenant_a, booking_body(salon, "17:00"), **{"Idempotency-Key": bad_key})
        assert refused.status_code == 422, bad_key


async def test_several_services_back_to_back_and_overlaps_inside_the_request_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    colouring = await add_service(client, tenant_a, name="Окрашивание", duration_minutes=90)
    await client.patch(
        f"/api/v1/staff/{salon.staff['id']}",
        json={"services": [salon.service["id"], colouring["id"]]},
        headers=tenant_a.headers,
    )
    services = [
        {"service_id": salon.service["id"], "staff_id": salon.staff["id"]},
        {"service_id": colouring["id"], "staff_id": salon.staff["id"]},
    ]
    made = await book(client, tenant_a, {"services": services, "start": salon.at("10:00")})
    assert made.status_code == 201, made.text
    first, second = made.json()["appointments"]
    assert first["booking_id"] == second["booking_id"] and (first["position"], second["position"]) == (0, 1)
    # The same member goes on after the first service's buffer.
    assert second["start"] == first["blocked_until"]
    assert datetime.fromisoformat(second["end"]).astimezone(MOSCOW).strftime("%H:%M") == "12:45"

    overlapping = [
        {"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at("15:00")},
        {"service_id": colouring["id"], "staff_id": salon.staff["id"], "start": salon.at("15:30")},
    ]
    refused = await book(client, tenant_a, {"services": overlapping, "start": salon.at("15:00")})
    assert refused.status_code == 422 and refused.json()["type"].endswith("overlap-in-request")
    assert (await client.get(APPOINTMENTS, headers=tenant_a.headers)).json()["total"] == 2
    too_many = await book(client, tenant_a, {"services": services * 6, "start": salon.at("10:00")})
    assert too_many.status_code == 422


async def test_moving_and_status_changes_follow_the_rules(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    salon = await make_salon(client, tenant_a)
    first = (await book(client, tenant_a, booking_body(salon, "10:00", status="pending"))).json()
    second = (await book(client, tenant_a, booking_body(salon, "16:00"))).json()
    one = f"{APPOINTMENTS}/{first['id']}"

    moved = await client.patch(one, json={"start": salon.at("12:00")}, headers=tenant_a.headers)
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["start"]) == datetime.fromisoformat(salon.at("12:00"))
    assert "10:00" in await slot_starts(client, tenant_a, salon)
    onto = await client.patch(one, json={"start": salon.at("16:30")}, headers=tenant_a.headers)
    assert onto.status_code == 409 and onto.json()["type"].endswith("slot-taken")
    off_grid = await client.patch(one, json={"start": salon.at("12:10")}, headers=tenant_a.headers)
    assert off_grid.status_code == 422 and off_grid.json()["type"].endswith("not-a-bookable-time")

    assert (await client.patch(one, json={"status": "arrived"}, headers=tenant_a.headers)).status_code == 409
    for step in ("confirmed", "arrived"):
        changed = await client.patch(one, json={"status": step}, headers=tenant_a.headers)
        assert changed.status_code == 200 and changed.json()["status"] == step
    assert (await client.patch(one, json={"status": "cancelled"}, headers=tenant_a.headers)).status_code == 409
    assert (await client.patch(one, json={"start": salon.at("13:00")}, headers=tenant_a.headers)).status_code == 409

    other = f"{APPOINTMENTS}/{second['id']}"
    cancelled = await client.patch(other, json={"status": "cancelled"}, headers=tenant_a.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert "16:00" in await slot_starts(client, tenant_a, salon)
    rebooked = await book(client, tenant_a, booking_body(salon, "16:00"))
    assert rebooked.status_code == 201
    assert (await client.patch(other, json={"status": "held"}, headers=tenant_a.headers)).status_code == 422


async def test_a_hold_blocks_until_confirmed_released_or_expired(
    client: httpx.AsyncClient, tenant_a: TenantFixture, database: Database
) -> None:
    salon = await make_salon(client, tenant_a)
    hold_body = {"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at("11:00")}
    held = await client.post(HOLDS, json=hold_body, headers=tenant_a.headers)
    assert held.status_code == 201, held.text
    hold = held.json()
    assert hold["status"] == "held"
    expires = datetime.fromisoformat(hold["hold_expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=4) < expires <= timedelta(minutes=5)
    assert "11:00" not in await slot_starts(client, tenant_a, salon)
    assert (await book(client, tenant_a, booking_body(salon, "11:00"))).status_code == 409
    assert (await client.post(HOLDS, json=hold_body, headers=tenant_a.headers)).status_code == 409
    # Holds are not appointments yet: not listed, not readable or changeable as one.
    assert (await client.get(APPOINTMENTS, headers=tenant_a.headers)).json()["total"] == 0

    confirmed = await client.post(
        f"{HOLDS}/{hold['id']}/confirm",
        json={"contact": {"name": "Вика", "phone": "+79001112233"}},
        headers=tenant_a.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["id"] == hold["id"] and confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["hold_expires_at"] is None and confirmed.json()["customer_name"] == "Вика"
    assert (await client.post(f"{HOLDS}/{hold['id']}/confirm", headers=tenant_a.headers)).status_code == 409

    released = (
        await client.post(HOLDS, json={**hold_body, "start": salon.at("15:00")}, headers=tenant_a.headers)
    ).json()
    assert (await client.delete(f"{HOLDS}/{released['id']}", headers=tenant_a.headers)).status_code == 204
    assert "15:00" in await slot_starts(client, tenant_a, salon)
    assert (await client.delete(f"{HOLDS}/{released['id']}", headers=tenant_a.headers)).status_code == 404

    expired = (
        await client.post(HOLDS, json={**hold_body, "start": salon.at("16:00")}, headers=tenant_a.headers)
    ).json()
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(
            text("UPDATE appointments SET hold_expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": expired["id"]},
        )
    assert "16:00" in await slot_starts(client, tenant_a, salon)
    late = await client.post(f"{HOLDS}/{expired['id']}/confirm", headers=tenant_a.headers)
    assert late.status_code == 409 and late.json()["type"].endswith("slot-taken")
    # The expired hold is swept by the booking that needs its time, in the booking's own transaction.
    assert (await book(client, tenant_a, booking_body(salon, "16:00"))).status_code == 201
    assert (await client.post(f"{HOLDS}/{expired['id']}/confirm", headers=tenant_a.headers)).status_code == 404


async def test_a_phone_finds_its_contact_and_the_booking_joins_the_timeline_and_the_events(
    client: httpx.AsyncClient, tenant_a: TenantFixture, database: Database
) -> None:
    salon = await make_salon(client, tenant_a)
    first = (
        await book(
            client, tenant_a, booking_body(salon, "10:00", contact={"name": "Анна", "phone": "+7 912 345 67 89"})
        )
    ).json()
    second = (
        await book(client, tenant_a, booking_body(salon, "15:00", contact={"name": "Аня", "phone": "89123456789"}))
    ).json()
    assert first["contact_id"] == second["contact_id"]
    by_id = await book(client, tenant_a, booking_body(salon, "17:00", contact_id=first["contact_id"]))
    assert by_id.status_code == 201 and by_id.json()["customer_name"] == "Анна"
    await client.patch(f"{APPOINTMENTS}/{second['id']}", json={"status": "cancelled"}, headers=tenant_a.headers)

    timeline = await client.get(f"/api/v1/contacts/{first['contact_id']}/timeline", headers=tenant_a.headers)
    assert timeline.status_code == 200, timeline.text
    entries = [item for item in timeline.json()["items"] if item["kind"] == "appointment"]
    assert {entry["appointment_id"] for entry in entries} == {first["id"], second["id"], by_id.json()["id"]}
    assert {entry["status"] for entry in entries} == {"confirmed", "cancelled"}

    async with database.tenant_transaction(tenant_a.id) as session:
        kinds = [
            row[0]
            for row in await session.execute(
                text("SELECT kind FROM staff_events WHERE kind LIKE 'appointment.%' ORDER BY created_at, kind")
            )
        ]
        funnel = [
            row[0]
            for row in await session.execute(
                text(
                    "SELECT args->>'event' FROM procrastinate_jobs"
                    " WHERE task_name = 'crm.apply_rules' AND args->>'tenant_id' = :t"
                ),
                {"t": str(tenant_a.id)},
            )
        ]
    assert sorted(kinds) == ["appointment.cancelled"] + ["appointment.created"] * 3
    assert sorted(funnel) == ["booking_cancelled"] + ["booking_made"] * 3


async def test_viewers_read_operators_book_and_strangers_are_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, database: Database
) -> None:
    salon = await make_salon(client, tenant_a)
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    made = await client.post(APPOINTMENTS, json=booking_body(salon, "10:00"), headers=operator)
    assert made.status_code == 201
    assert (await client.post(APPOINTMENTS, json=booking_body(salon, "15:00"), headers=viewer)).status_code == 403
    hold = {"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at("15:00")}
    assert (await client.post(HOLDS, json=hold, headers=viewer)).status_code == 403
    one = f"{APPOINTMENTS}/{made.json()['id']}"
    assert (await client.patch(one, json={"status": "cancelled"}, headers=viewer)).status_code == 403
    assert (await client.get(one, headers=viewer)).status_code == 200
    assert (
        await client.get(
            SLOTS,
            params={"service_id": salon.service["id"], "from": salon.day.isoformat(), "to": salon.day.isoformat()},
            headers=viewer,
        )
    ).status_code == 200
    assert (await client.get(one)).status_code == 401
    assert (await client.post(APPOINTMENTS, json=booking_body(salon, "15:00"))).status_code == 401


async def test_another_tenants_ids_are_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    theirs = await make_salon(client, tenant_b)
    made = (
        await book(client, tenant_a, booking_body(salon, "10:00", contact={"name": "Анна", "phone": "+79123456789"}))
    ).json()
    hold = (
        await client.post(
            HOLDS,
            json={"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at("15:00")},
            headers=tenant_a.headers,
        )
    ).json()
    one = f"{APPOINTMENTS}/{made['id']}"
    assert (await client.get(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.patch(one, json={"status": "cancelled"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.post(f"{HOLDS}/{hold['id']}/confirm", headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(f"{HOLDS}/{hold['id']}", headers=tenant_b.headers)).status_code == 404
    params = {"service_id": salon.service["id"], "from": salon.day.isoformat(), "to": salon.day.isoformat()}
    assert (await client.get(SLOTS, params=params, headers=tenant_b.headers)).status_code == 404
    staff_mixed = {**params, "service_id": theirs.service["id"], "staff_id": salon.staff["id"]}
    assert (await client.get(SLOTS, params=staff_mixed, headers=tenant_b.headers)).status_code == 404
    for body in (
        booking_body(salon, "11:00"),  # A's service and member
        booking_body(theirs, "11:00", staff_id=salon.staff["id"]),
        booking_body(theirs, "11:00", contact_id=made["contact_id"]),
        booking_body(theirs, "11:00", conversation_id=str(uuid.uuid4())),
    ):
        refused = await book(client, tenant_b, body)
        assert refused.status_code == 404, (body, refused.text)
    listed = await client.get(APPOINTMENTS, params={"contact_id": made["contact_id"]}, headers=tenant_b.headers)
    assert listed.json()["items"] == []
    # B's own booking at the very same time is not A's business: tenants never block each other.
    assert (await book(client, tenant_b, booking_body(theirs, "10:00"))).status_code == 201


async def test_hostile_and_malformed_input_is_refused_with_problems(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    today = datetime.now(MOSCOW).date()
    refused_bodies = [
        booking_body(salon, "10:10"),  # off the slot grid
        booking_body(salon, "14:00"),  # the lunch break
        booking_body(salon, "18:30"),  # runs past closing
        {**booking_body(salon, "10:00"), "start": datetime.now(UTC).replace(second=0, microsecond=0).isoformat()},
        {
            **booking_body(salon, "10:00"),
            "start": (datetime.now(UTC) - timedelta(days=3))
            .replace(hour=7, minute=0, second=0, microsecond=0)
            .isoformat(),
        },
        {**booking_body(salon, "10:00"), "start": "2099-01-05T10:00:00+03:00"},  # far beyond the horizon
        {**booking_body(salon, "10:00"), "start": f"{salon.day.isoformat()}T10:00:00"},  # no UTC offset
        {**booking_body(salon, "10:00"), "start": f"{salon.day.isoformat()}T10:00:30+03:00"},
        {**booking_body(salon, "10:00"), "start": "soon"},
        booking_body(salon, "10:00", note="a\x00b"),
        booking_body(salon, "10:00", note="x" * 2001),
        booking_body(salon, "10:00", contact={"name": "Анна", "phone": "not a phone"}),
        booking_body(salon, "10:00", contact={"name": "\x00", "phone": "+79123456789"}),
        booking_body(salon, "10:00", contact={"name": "Анна", "phone": "+7000"}),
        booking_body(salon, "10:00", staff_id="nobody"),
        booking_body(salon, "10:00", service_id="not-a-uuid"),
        booking_body(salon, "10:00", contact_id=str(uuid.uuid4()), contact={"name": "A", "phone": "+79123456789"}),
        booking_body(salon, "10:00", status="arrived"),
        booking_body(salon, "10:00", surprise=True),
        {"start": salon.at("10:00")},
        {**booking_body(salon, "10:00"), "services": [{"service_id": salon.service["id"]}]},
    ]
    for body in refused_bodies:
        response = await book(client, tenant_a, body)
        assert 400 <= response.status_code < 500 and response.status_code != 409, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), body
    malformed = await client.post(
        APPOINTMENTS, content=b'{"service_id": ', headers={**tenant_a.headers, "content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.headers["content-type"].startswith("application/problem+json")
    base = {"service_id": salon.service["id"], "staff_id": salon.staff["id"]}
    for params in (
        {**base, "from": today.isoformat(), "to": (today + timedelta(days=62)).isoformat()},
        {**base, "from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()},
        {**base, "from": "yesterday", "to": today.isoformat()},
        {**base, "staff_id": "x\x00", "from": today.isoformat(), "to": today.isoformat()},
        {**base, "service_id": "1", "from": today.isoformat(), "to": today.isoformat()},
        {"service_id": salon.service["id"], "staff_id": salon.staff["id"]},
    ):
        response = await client.get(SLOTS, params=params, headers=tenant_a.headers)
        assert response.status_code == 422, (params, response.text)
    widest = {**base, "from": today.isoformat(), "to": (today + timedelta(days=61)).isoformat()}
    assert (await client.get(SLOTS, params=widest, headers=tenant_a.headers)).status_code == 200
    assert (await client.get(f"{APPOINTMENTS}/not-a-uuid", headers=tenant_a.headers)).status_code == 422
    assert (
        await client.get(APPOINTMENTS, params={"from": "2027-01-01T00:00:00"}, headers=tenant_a.headers)
    ).status_code == 422
    assert (await client.get(APPOINTMENTS, headers=tenant_a.headers)).json()["total"] == 0


async def test_a_merged_contacts_appointments_move_to_the_contact_kept(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    kept = (
        await book(client, tenant_a, booking_body(salon, "10:00", contact={"name": "Анна", "phone": "+79123456789"}))
    ).json()
    merged = (
        await book(client, tenant_a, booking_body(salon, "15:00", contact={"name": "Аня", "phone": "+996700111222"}))
    ).json()
    response = await client.post(
        "/api/v1/contacts/merge",
        json={"into": kept["contact_id"], "from": merged["contact_id"]},
        headers=tenant_a.headers,
    )
    assert response.status_code == 200, response.text
    listed = await client.get(APPOINTMENTS, params={"contact_id": kept["contact_id"]}, headers=tenant_a.headers)
    assert [item["id"] for item in listed.json()["items"]] == [kept["id"], merged["id"]]


async def test_a_booked_member_or_resource_is_not_deleted_from_under_its_appointments(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    salon = await make_salon(client, tenant_a)
    chair = await client.post(
        "/api/v1/resources", json={"name": "Кресло 1", "services": [salon.service["id"]]}, headers=tenant_a.headers
    )
    made = await book(client, tenant_a, booking_body(salon, "10:00", resource_id=chair.json()["id"]))
    assert made.status_code == 201 and made.json()["resource_id"] == chair.json()["id"]
    for path in (f"/api/v1/staff/{salon.staff['id']}", f"/api/v1/resources/{chair.json()['id']}"):
        refused = await client.delete(path, headers=tenant_a.headers)
        assert refused.status_code == 409, refused.text
        assert (await client.get(path, headers=tenant_a.headers)).status_code == 200


async def test_booking_settings_have_defaults_admins_change_them_and_slots_follow(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, database: Database
) -> None:
    settings_path = "/api/v1/booking/settings"
    defaults = await client.get(settings_path, headers=tenant_a.headers)
    assert defaults.json() == {
        "timezone": "Europe/Moscow",
        "lead_time_minutes": 60,
        "horizon_days": 60,
        "hold_minutes": 5,
        "slot_step_minutes": 15,
        "reminder_offsets_minutes": [1440, 120],
    }
    salon = await make_salon(client, tenant_a)
    changed = await client.patch(
        settings_path, json={"slot_step_minutes": 30, "hold_minutes": 10}, headers=tenant_a.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["slot_step_minutes"], changed.json()["hold_minutes"], changed.json()["horizon_days"]) == (
        30,
        10,
        60,
    )
    assert {clock[-2:] for clock in await slot_starts(client, tenant_a, salon)} == {"00", "30"}
    assert (await book(client, tenant_a, booking_body(salon, "10:15"))).status_code == 422
    hold = await client.post(
        HOLDS,
        json={"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at("10:30")},
        headers=tenant_a.headers,
    )
    assert datetime.fromisoformat(hold.json()["hold_expires_at"]) - datetime.now(UTC) > timedelta(minutes=9)
    await client.patch(settings_path, json={"horizon_days": 2}, headers=tenant_a.headers)
    assert await slot_starts(client, tenant_a, salon) == []

    assert (await client.get(settings_path, headers=tenant_b.headers)).json() == defaults.json()
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get(settings_path, headers=operator)).status_code == 200
    assert (await client.patch(settings_path, json={"hold_minutes": 7}, headers=operator)).status_code == 403
    for bad in (
        {"slot_step_minutes": 0},
        {"horizon_days": 10_000},
        {"lead_time_minutes": -1},
        {"hold_minutes": None},
        {"hold_minutes": "5 minutes"},
        {"backend": "yclients"},
    ):
        response = await client.patch(settings_path, json=bad, headers=tenant_a.headers)
        assert response.status_code == 422, bad
