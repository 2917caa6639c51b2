"""The one interface through which the API, the assistant's tools and the guided chat flow book: the native
engine (`booking.native`) by default, or an external booking system (YCLIENTS/Altegio; later Bitrix24, amoCRM, 1C,
EasyWeek) a tenant connects. Identifiers are strings because external systems number their own records; every
backend raises the same problems, so a customer hears "that time is taken" whichever system said it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from easyflow.kit.errors import Conflict, ServiceUnavailable, Unprocessable


class SlotTaken(Conflict):
    """The time (or part of it) is already booked or held: offer the customer another."""

    slug, title = "slot-taken", "Slot taken"


class NoStaffFree(Conflict):
    """Nobody who performs the service is free at that time."""

    slug, title = "no-staff-free", "No staff free"


class OverlapInRequest(Unprocessable):
    """Two services of one booking overlap each other."""

    slug, title = "overlap-in-request", "Services in the booking overlap"


class ServiceNotBookable(Unprocessable):
    """The service was removed, is not bookable online, or the staff member does not perform it."""

    slug, title = "service-unavailable", "Service unavailable"


class BackendUnavailable(ServiceUnavailable):
    """The external booking system did not answer or refused our credentials; nothing was booked."""

    slug, title = "booking-backend-unavailable", "Booking system unavailable"


@dataclass(frozen=True)
class BookableService:
    id: str
    name: str
    duration_minutes: int
    category: str = ""
    description: str = ""
    price: Decimal | None = None
    price_from: Decimal | None = None
    price_to: Decimal | None = None


@dataclass(frozen=True)
class BookableStaff:
    id: str
    name: str
    service_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime
    staff_id: str


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    phone: str | None  # E.164


@dataclass(frozen=True)
class BookedService:
    service_id: str
    staff_id: str | None  # None: anyone who performs it and is free


@dataclass(frozen=True)
class BookingRequest:
    """One booking of one or more services back to back from `start`, for `client`."""

    services: tuple[BookedService, ...]
    start: datetime
    client: Client
    idempotency_key: str | None = None
    comment: str = ""
    conversation_id: str | None = None
    # The hold (`hold`) of this very time that the booking takes over, so nobody can take the time in between; a
    # hold that is gone (expired, released) or a system that keeps none books the time afresh.
    hold_id: str | None = None


@dataclass(frozen=True)
class Appointment:
    id: str
    service_id: str
    staff_id: str
    client_id: str
    start: datetime
    end: datetime
    status: str  # held, unconfirmed, confirmed, arrived, no_show, cancelled
    service_name: str = ""
    staff_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class BookingBackend(Protocol):
    """What every booking system offers the tools. Times are aware datetimes; dates are the tenant's local days."""

    async def services(self) -> list[BookableService]: ...

    async def staff(self, service_id: str | None = None) -> list[BookableStaff]: ...

    async def slots(self, service_id: str, staff_id: str | None, first_day: date, last_day: date) -> list[Slot]: ...

    async def client_by_phone(self, phone: str) -> Client | None: ...

    async def create_client(self, name: str, phone: str) -> Client: ...

    async def book(self, request: BookingRequest) -> list[Appointment]: ...

    async def cancel(self, appointment_id: str) -> Appointment: ...

    async def reschedule(self, appointment_id: str, start: datetime) -> Appointment: ...

    async def client_appointments(self, client_id: str, *, upcoming_only: bool = True) -> list[Appointment]: ...

    async def hold(self, service_id: str, staff_id: str, start: datetime, conversation_id: str | None) -> Appointment:
        """Keep the slot from others while the customer confirms (status `held`, expiring on its own); raises
        SlotTaken like `book`."""
        ...

    async def release(self, hold_id: str) -> None:
        """Give a held slot back (the customer changed their mind, or is about to book it); a hold that is
        gone already is no error."""
        ...
