"""A small salon to book in: one service with a buffer, a member who works every day with a lunch break."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.catalogue.test_services import add_service
from tests.catalogue.test_staff import add_staff
from tests.conftest import TenantFixture

MOSCOW = ZoneInfo("Europe/Moscow")  # new tenants' time zone
SLOTS = "/api/v1/booking/slots"
APPOINTMENTS = "/api/v1/appointments"
HOLDS = "/api/v1/booking/holds"
EVERY_DAY = [
    {"weekday": weekday, "start": "10:00", "end": "19:00", "breaks": [{"start": "14:00", "end": "15:00"}]}
    for weekday in range(7)
]


@dataclass
class Salon:
    service: dict
    staff: dict
    day: date  # a working day a week ahead: past the lead time, inside the horizon

    def at(self, clock: str) -> str:
        """An instant of `day` at the local wall time `clock`, as the API takes it."""
        hour, minute = (int(part) for part in clock.split(":"))
        return datetime(self.day.year, self.day.month, self.day.day, hour, minute, tzinfo=MOSCOW).isoformat()


def a_week_ahead() -> date:
    return (datetime.now(UTC) + timedelta(days=7)).astimezone(MOSCOW).date()


async def make_salon(
    client: httpx.AsyncClient, tenant: TenantFixture, *, minutes: int = 60, buffer: int = 15, name: str = "Мастер"
) -> Salon:
    service = await add_service(client, tenant, duration_minutes=minutes, buffer_after_minutes=buffer)
    staff = await add_staff(client, tenant, name=name, services=[service["id"]], working_hours=EVERY_DAY)
    return Salon(service, staff, a_week_ahead())


async def slot_starts(client: httpx.AsyncClient, tenant: TenantFixture, salon: Salon, staff_id: str = "") -> list[str]:
    params = {
        "service_id": salon.service["id"],
        "staff_id": staff_id or salon.staff["id"],
        "from": salon.day.isoformat(),
        "to": salon.day.isoformat(),
    }
    response = await client.get(SLOTS, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [
        datetime.fromisoformat(item["start"]).astimezone(MOSCOW).strftime("%H:%M") for item in response.json()["items"]
    ]


def booking_body(salon: Salon, clock: str, **fields: object) -> dict:
    return {"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at(clock), **fields}
