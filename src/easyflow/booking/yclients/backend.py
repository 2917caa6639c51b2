"""The YCLIENTS (and Altegio) booking backend: the online-booking flow `book_services` → `book_staff` →
`book_dates` → `book_times` → `book_check` → `book_record`, and the company's records and clients for finding,
moving and cancelling. Identifiers are YCLIENTS' numbers as strings; a slot for "anyone" has staff_id "" and
YCLIENTS picks the member at booking time (its staff_id 0)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from easyflow.booking.backend import (
    Appointment,
    BackendUnavailable,
    BookableService,
    BookableStaff,
    BookingRequest,
    Client,
    ServiceNotBookable,
    Slot,
)
from easyflow.booking.backends import register_backend
from easyflow.booking.yclients.client import YclientsClient, YclientsLimiter
from easyflow.kit.errors import InvalidInput, Unprocessable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from easyflow.models.booking_connections import BookingConnection
    from easyflow.runtime import Runtime

KIND = "yclients"
MAX_SLOT_DAYS = 62
RECORDS_PAGE = 200
MIN_PHONE_DIGITS = 10
# YCLIENTS' `attendance`: 2 the client confirmed, 1 came, 0 waiting, -1 did not come.
ATTENDANCE = {2: "confirmed", 1: "arrived", 0: "unconfirmed", -1: "no_show"}


class YclientsBackend:
    def __init__(self, client: YclientsClient, company_id: int) -> None:
        self.client = client
        self.company_id = company_id

    async def services(self) -> list[BookableService]:
        data = await self.client.get(f"book_services/{self.company_id}")
        categories = {c.get("id"): str(c.get("title", "")) for c in data.get("category") or []}
        return [_service(s, categories) for s in data.get("services") or []]

    async def staff(self, service_id: str | None = None) -> list[BookableStaff]:
        params = [("service_ids[]", _number(service_id))] if service_id else []
        data = await self.client.get(f"book_staff/{self.company_id}", params)
        return [
            BookableStaff(id=str(s["id"]), name=str(s.get("name", "")), service_ids=(service_id,) if service_id else ())
            for s in data or []
        ]

    async def slots(self, service_id: str, staff_id: str | None, first_day: date, last_day: date) -> list[Slot]:
        if last_day < first_day or (last_day - first_day).days >= MAX_SLOT_DAYS:
            raise InvalidInput(f"from/to: at most {MAX_SLOT_DAYS} days, `to` not before `from`.")
        staff = _number(staff_id) if staff_id else 0
        service = [("service_ids[]", _number(service_id))]
        # One call says which days have any free time, so the per-day calls are only for those.
        dates = await self.client.get(
            f"book_dates/{self.company_id}",
            [*service, ("staff_id", staff), ("date_from", first_day.isoformat()), ("date_to", last_day.isoformat())],
        )
        slots: list[Slot] = []
        for day in sorted(d for d in map(_day, dates.get("booking_dates") or []) if first_day <= d <= last_day):
            for seance in await self.client.get(f"book_times/{self.company_id}/{staff}/{day.isoformat()}", service):
                start = _moment(seance["datetime"])
                end = start + timedelta(seconds=int(seance.get("seance_length") or 0))
                slots.append(Slot(start=start, end=end, staff_id=str(staff) if staff else ""))
        return slots

    async def client_by_phone(self, phone: str) -> Client | None:
        digits = _digits(phone)
        if len(digits) < MIN_PHONE_DIGITS:  # YCLIENTS lists every client for an empty filter
            return None
        found = await self.client.get(f"clients/{self.company_id}", {"phone": digits})
        return _client(found[0]) if found else None

    async def create_client(self, name: str, phone: str) -> Client:
        created = await self.client.call(
            "POST", f"clients/{self.company_id}", json={"name": name, "phone": _digits(phone)}
        )
        return _client(created)

    async def book(self, request: BookingRequest) -> list[Appointment]:
        if not request.services:
            raise InvalidInput("services: at least one.")
        if request.idempotency_key and (earlier := await self._booked_under(request)):
            return earlier
        durations = {s.id: s.duration_minutes for s in await self.services()}
        appointments, start = [], request.start
        for number, booked in enumerate(request.services, start=1):
            if booked.service_id not in durations:
                raise ServiceNotBookable(f"service {booked.service_id} cannot be booked online in YCLIENTS.")
            appointments.append(
                {
                    "id": number,
                    "services": [_number(booked.service_id)],
                    "staff_id": _number(booked.staff_id) if booked.staff_id else 0,
                    "datetime": start.isoformat(),
                }
            )
            start += timedelta(minutes=durations[booked.service_id])
        await self.client.call(
            "POST", f"book_check/{self.company_id}", json={"appointments": appointments}, retry_server_errors=True
        )
        body: dict[str, Any] = {
            "phone": _digits(request.client.phone or ""),
            "fullname": request.client.name,
            "email": "",
            "comment": request.comment,
            "notify_by_sms": 0,
            "notify_by_email": 0,
            "appointments": appointments,
        }
        if request.idempotency_key:
            body["api_id"] = _api_id(request.idempotency_key)
        created = await self.client.call("POST", f"book_record/{self.company_id}", json=body)
        return [await self._appointment(str(item["record_id"])) for item in created]

    async def hold(self, service_id: str, staff_id: str, start: datetime, conversation_id: str | None) -> Appointment:
        """YCLIENTS keeps no holds: the time is checked (`book_check`, which answers 433 when it is taken) and
        nothing is kept; `book` checks it again when the customer confirms."""
        durations = {s.id: s.duration_minutes for s in await self.services()}
        if service_id not in durations:
            raise ServiceNotBookable(f"service {service_id} cannot be booked online in YCLIENTS.")
        staff_number = _number(staff_id) if staff_id else 0
        appointment = {
            "id": 1,
            "services": [_number(service_id)],
            "staff_id": staff_number,
            "datetime": start.isoformat(),
        }
        await self.client.call(
            "POST", f"book_check/{self.company_id}", json={"appointments": [appointment]}, retry_server_errors=True
        )
        end = start + timedelta(minutes=durations[service_id])
        return Appointment("", service_id, staff_id, "", start, end, "held")

    async def release(self, hold_id: str) -> None:
        """Nothing is held in YCLIENTS (see `hold`)."""

    async def cancel(self, appointment_id: str) -> Appointment:
        appointment = await self._appointment(appointment_id)
        await self.client.call("DELETE", f"record/{self.company_id}/{_number(appointment_id)}")
        return replace(appointment, status="cancelled")

    async def reschedule(self, appointment_id: str, start: datetime) -> Appointment:
        moved = await self.client.call(
            "PUT", f"book_record/{self.company_id}/{_number(appointment_id)}", json={"datetime": start.isoformat()}
        )
        return _appointment(moved)

    async def client_appointments(self, client_id: str, *, upcoming_only: bool = True) -> list[Appointment]:
        params: dict[str, Any] = {"client_id": _number(client_id), "count": RECORDS_PAGE}
        now = datetime.now(UTC)
        if upcoming_only:
            params["start_date"] = (now - timedelta(days=1)).date().isoformat()
        records = await self.client.get(f"records/{self.company_id}", params)
        appointments = [_appointment(r) for r in records or []]
        return [a for a in appointments if not upcoming_only or a.end > now]

    async def _booked_under(self, request: BookingRequest) -> list[Appointment]:
        """The records an earlier try of this booking made (YCLIENTS keeps our key as the record's `api_id`
        but does not deduplicate on it): a confirmation pressed twice, or retried after an answer that was
        lost, returns them instead of booking again — with "anyone" the second try would find someone else."""
        client = await self.client_by_phone(request.client.phone or "")
        if client is None:
            return []
        params = {"client_id": _number(client.id), "start_date": request.start.date().isoformat(), "count": 200}
        records = await self.client.get(f"records/{self.company_id}", params)
        key = _api_id(request.idempotency_key or "")
        return [_appointment(r) for r in records or [] if str(r.get("api_id") or "") == key and not r.get("deleted")]

    async def _appointment(self, record_id: str) -> Appointment:
        return _appointment(await self.client.get(f"record/{self.company_id}/{_number(record_id)}"))


def yclients_backend(runtime: Runtime, connection: BookingConnection) -> YclientsBackend:
    """The backend of a tenant's stored connection (the factory the backend registry calls)."""
    credentials = json.loads(runtime.secrets.decrypt(connection.credentials_encrypted))
    return YclientsBackend(yclients_client(runtime, credentials["user_token"]), int(connection.account))


def _for_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, runtime: Runtime, connection: BookingConnection | None
) -> YclientsBackend:
    if connection is None:
        raise BackendUnavailable("No YCLIENTS connection is stored for this workspace.")
    return yclients_backend(runtime, connection)


register_backend(KIND, _for_tenant)


def yclients_client(runtime: Runtime, user_token: str | None) -> YclientsClient:
    settings = runtime.settings
    if settings.yclients_partner_token is None:
        raise BackendUnavailable("YCLIENTS is not set up on this server (EASYFLOW_YCLIENTS_PARTNER_TOKEN).")
    partner_token = settings.yclients_partner_token.get_secret_value()
    return YclientsClient(
        http=runtime.http,
        base_url=settings.yclients_base_url,
        partner_token=partner_token,
        user_token=user_token,
        limiter=YclientsLimiter(runtime.rate_limits, settings.yclients_rate_limit, partner_token),
        timeout_seconds=settings.yclients_timeout_seconds,
    )


def _number(identifier: str) -> int:
    """YCLIENTS numbers everything; anything else cannot be one of its ids."""
    if not identifier.isdigit() or len(identifier) > 18:
        raise Unprocessable(f"{identifier!r} is not a YCLIENTS id.")
    return int(identifier)


def _api_id(idempotency_key: str) -> str:
    return idempotency_key[:64]


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _moment(value: Any) -> datetime:
    """YCLIENTS writes times as ISO 8601 with the company's offset, or as Unix seconds in older answers."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise BackendUnavailable("YCLIENTS sent a time without its offset.")
    return moment.astimezone(UTC)


def _day(value: Any) -> date:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).date()
    return date.fromisoformat(str(value)[:10])


def _price(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "", 0) else None


def _service(data: dict[str, Any], categories: dict[Any, str]) -> BookableService:
    low, high = _price(data.get("price_min")), _price(data.get("price_max"))
    fixed = low if low is not None and low == high else None
    return BookableService(
        id=str(data["id"]),
        name=str(data.get("title", "")),
        duration_minutes=int(data.get("seance_length") or 0) // 60,
        category=categories.get(data.get("category_id"), ""),
        description=str(data.get("comment") or ""),
        price=fixed,
        price_from=None if fixed is not None else low,
        price_to=None if fixed is not None else high,
    )


def _client(data: dict[str, Any]) -> Client:
    digits = _digits(str(data.get("phone") or ""))
    return Client(id=str(data["id"]), name=str(data.get("name", "")), phone=f"+{digits}" if digits else None)


def _appointment(record: dict[str, Any]) -> Appointment:
    start = _moment(record["datetime"])
    services = record.get("services") or [{}]
    staff = record.get("staff") or {}
    status = "cancelled" if record.get("deleted") else ATTENDANCE.get(int(record.get("attendance") or 0), "unconfirmed")
    return Appointment(
        id=str(record["id"]),
        service_id=str(services[0].get("id", "")),
        staff_id=str(record.get("staff_id") or staff.get("id", "")),
        client_id=str((record.get("client") or {}).get("id", "")),
        start=start,
        end=start + timedelta(seconds=int(record.get("length") or record.get("seance_length") or 0)),
        status=status,
        service_name=str(services[0].get("title", "")),
        staff_name=str(staff.get("name", "")),
        extra={"yclients_record_id": str(record["id"])},
    )
