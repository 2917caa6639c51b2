"""A test double of OUR BookingBackend interface (booking/backend.py), kept in memory, one per tenant: staff work
every day 10:00-19:00 in the tenant's timezone, hour-long slots on the hour. It is honest where the chat relies on
it: a booking or hold that overlaps another (held or booked, not cancelled) raises SlotTaken, an expired hold
frees its time, and an idempotency key returns the same booking."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from easyflow.booking.backend import (
    Appointment,
    BookableService,
    BookableStaff,
    BookingRequest,
    Client,
    NoStaffFree,
    ServiceNotBookable,
    Slot,
    SlotTaken,
)
from easyflow.booking.chat_backends import BackendSource
from easyflow.runtime import Runtime

OPENS, CLOSES = time(10), time(19)
HOLD = timedelta(minutes=5)
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@dataclass
class MemoryBackend:
    timezone: str = "Europe/Moscow"
    services_: list[BookableService] = field(default_factory=list)
    staff_: list[BookableStaff] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    by_idempotency_key: dict[str, list[Appointment]] = field(default_factory=dict)
    hold_expiry: dict[str, datetime] = field(default_factory=dict)

    def add_service(self, name: str, minutes: int = 60, staff: tuple[str, ...] = ("Анна",)) -> BookableService:
        service = BookableService(_id("service"), name, minutes)
        self.services_.append(service)
        for staff_name in staff:
            known = next((each for each in self.staff_ if each.name == staff_name), None)
            if known is None:
                self.staff_.append(BookableStaff(_id("staff"), staff_name, (service.id,)))
            else:
                self.staff_[self.staff_.index(known)] = replace(known, service_ids=(*known.service_ids, service.id))
        return service

    def live(self) -> Iterator[Appointment]:
        now = datetime.now(UTC)
        for each in self.appointments:
            if each.status == "cancelled":
                continue
            if each.status == "held" and self.hold_expiry.get(each.id, now) <= now:
                continue
            yield each

    def booked(self) -> list[Appointment]:
        return [each for each in self.appointments if each.status not in ("held", "cancelled")]

    def held(self) -> list[Appointment]:
        return [each for each in self.live() if each.status == "held"]

    def _service(self, service_id: str) -> BookableService:
        service = next((each for each in self.services_ if each.id == service_id), None)
        if service is None:
            raise ServiceNotBookable("No such service.")
        return service

    def _free(self, staff_id: str, start: datetime, end: datetime, ignoring: str | None = None) -> bool:
        return not any(
            each.staff_id == staff_id and each.start < end and start < each.end and each.id != ignoring
            for each in self.live()
        )

    async def services(self) -> list[BookableService]:
        return list(self.services_)

    async def staff(self, service_id: str | None = None) -> list[BookableStaff]:
        return [each for each in self.staff_ if service_id is None or service_id in each.service_ids]

    async def slots(self, service_id: str, staff_id: str | None, first_day: date, last_day: date) -> list[Slot]:
        service = self._service(service_id)
        zone = ZoneInfo(self.timezone)
        length = timedelta(minutes=service.duration_minutes)
        now = datetime.now(UTC)
        found = []
        day = first_day
        while day <= last_day:
            hour = datetime.combine(day, OPENS, zone)
            while hour + length <= datetime.combine(day, CLOSES, zone):
                for member in await self.staff(service_id):
                    if staff_id not in (None, member.id):
                        continue
                    start = hour.astimezone(UTC)
                    if start > now and self._free(member.id, start, start + length):
                        found.append(Slot(start, start + length, member.id))
                hour += timedelta(hours=1)
            day += timedelta(days=1)
        return found

    async def client_by_phone(self, phone: str) -> Client | None:
        return next((each for each in self.clients if each.phone == phone), None)

    async def create_client(self, name: str, phone: str) -> Client:
        client = Client(_id("client"), name, phone)
        self.clients.append(client)
        return client

    async def book(self, request: BookingRequest) -> list[Appointment]:
        if request.idempotency_key in self.by_idempotency_key:
            return self.by_idempotency_key[request.idempotency_key]
        [wanted] = request.services
        if request.hold_id:  # the hold becomes the booking, as the native engine's does
            await self.release(request.hold_id)
        service = self._service(wanted.service_id)
        end = request.start + timedelta(minutes=service.duration_minutes)
        candidates = [wanted.staff_id] if wanted.staff_id else [s.id for s in await self.staff(service.id)]
        free = next((each for each in candidates if self._free(each, request.start, end)), None)
        if free is None:
            raise SlotTaken("That time is taken.") if wanted.staff_id else NoStaffFree("Nobody is free then.")
        appointment = Appointment(
            _id("appointment"), service.id, free, request.client.id, request.start, end, "confirmed", service.name
        )
        self.appointments.append(appointment)
        if request.idempotency_key:
            self.by_idempotency_key[request.idempotency_key] = [appointment]
        return [appointment]

    async def cancel(self, appointment_id: str) -> Appointment:
        return self._replace(appointment_id, status="cancelled")

    async def reschedule(self, appointment_id: str, start: datetime) -> Appointment:
        current = next(each for each in self.appointments if each.id == appointment_id)
        end = start + (current.end - current.start)
        if not self._free(current.staff_id, start, end, ignoring=current.id):
            raise SlotTaken("That time is taken.")
        return self._replace(appointment_id, start=start, end=end)

    async def client_appointments(self, client_id: str, *, upcoming_only: bool = True) -> list[Appointment]:
        return [each for each in self.booked() if each.client_id == client_id and each.status != "cancelled"]

    async def hold(self, service_id: str, staff_id: str, start: datetime, conversation_id: str | None) -> Appointment:
        service = self._service(service_id)
        end = start + timedelta(minutes=service.duration_minutes)
        if not self._free(staff_id, start, end):
            raise SlotTaken("That time is taken.")
        hold = Appointment(_id("hold"), service_id, staff_id, "", start, end, "held", service.name)
        self.appointments.append(hold)
        self.hold_expiry[hold.id] = datetime.now(UTC) + HOLD
        return hold

    async def release(self, hold_id: str) -> None:
        self.appointments = [each for each in self.appointments if each.id != hold_id]

    def _replace(self, appointment_id: str, **changes: object) -> Appointment:
        index = next(i for i, each in enumerate(self.appointments) if each.id == appointment_id)
        self.appointments[index] = replace(self.appointments[index], **changes)  # type: ignore[arg-type]
        return self.appointments[index]


def source_of(backends: dict[uuid.UUID, MemoryBackend]) -> BackendSource:
    """The chat's backend source over these tenants' doubles (a tenant without one takes no bookings)."""

    @asynccontextmanager
    async def open_for(runtime: Runtime, tenant_id: uuid.UUID) -> AsyncIterator[MemoryBackend | None]:
        yield backends.get(tenant_id)

    return open_for
