"""The native booking engine behind the one interface (`BookingBackend`): the catalogue's services and staff,
the slot computation, CRM contacts as clients, and appointments in PostgreSQL (where the exclusion constraints
make a double booking impossible). What the assistant's tools and the guided chat flow book through."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking import schemas
from easyflow.booking.appointments import Appointments
from easyflow.booking.backend import (
    Appointment,
    BookableService,
    BookableStaff,
    BookingRequest,
    Client,
    ServiceNotBookable,
    Slot,
    SlotTaken,
)
from easyflow.booking.slots import SlotFinder
from easyflow.catalogue.repository import ServiceRepository, StaffRepository, StaffServiceRepository
from easyflow.crm.contacts import contact_for_phone
from easyflow.crm.phones import normalize_phone
from easyflow.crm.repository import CrmContactRepository
from easyflow.kit.errors import Conflict, NotFound
from easyflow.models.booking import AppointmentSource, AppointmentStatus

# The interface's name for a booking the business has not confirmed yet.
_STATUS_NAMES = {AppointmentStatus.pending.value: "unconfirmed"}
MAX_CLIENT_APPOINTMENTS = 100


def _id(raw: str, what: str) -> uuid.UUID:
    """An id the tools pass as text; one that is not ours cannot name anything of this tenant."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no such {what}") from None


def _appointment(read: schemas.AppointmentRead) -> Appointment:
    return Appointment(
        id=str(read.id),
        service_id=str(read.service_id),
        staff_id=str(read.staff_id),
        client_id=str(read.contact_id) if read.contact_id else "",
        start=read.start,
        end=read.end,
        status=_STATUS_NAMES.get(read.status, read.status),
        extra={"booking_id": str(read.booking_id)},
    )


class NativeBackend:
    def __init__(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        *,
        source: AppointmentSource = AppointmentSource.chat,
        actor_id: uuid.UUID | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.source = source
        self.appointments = Appointments(session, tenant_id, actor_id=actor_id)

    async def services(self) -> list[BookableService]:
        return [
            BookableService(
                id=str(service.id),
                name=service.name,
                duration_minutes=service.duration_minutes,
                category=service.category,
                description=service.description,
                price=service.price,
                price_from=service.price_from,
                price_to=service.price_to,
            )
            for service in await ServiceRepository(self.session, self.tenant_id).bookable()
        ]

    async def staff(self, service_id: str | None = None) -> list[BookableStaff]:
        members = await StaffRepository(self.session, self.tenant_id).all_by_name()
        services: dict[uuid.UUID, list[str]] = defaultdict(list)
        for link in await StaffServiceRepository(self.session, self.tenant_id).of_staff([m.id for m in members]):
            services[link.staff_id].append(str(link.service_id))
        return [
            BookableStaff(id=str(member.id), name=member.name, service_ids=tuple(services[member.id]))
            for member in members
            if service_id is None or service_id in services[member.id]
        ]

    async def slots(self, service_id: str, staff_id: str | None, first_day: date, last_day: date) -> list[Slot]:
        found = await SlotFinder(self.session, self.tenant_id).slots(
            _id(service_id, "service"),
            _id(staff_id, "staff member") if staff_id else None,
            first_day,
            last_day,
            datetime.now(UTC),
        )
        return [Slot(slot.start, slot.end, slot.staff_id) for slot in found]

    async def client_by_phone(self, phone: str) -> Client | None:
        number = normalize_phone(phone)
        if number is None:
            return None
        contact = await CrmContactRepository(self.session, self.tenant_id).first_with_phone(number)
        return Client(str(contact.id), contact.name, contact.phone) if contact else None

    async def create_client(self, name: str, phone: str) -> Client:
        contact = await contact_for_phone(self.session, self.tenant_id, name, phone)
        return Client(str(contact.id), contact.name, contact.phone)

    async def book(self, request: BookingRequest) -> list[Appointment]:
        if request.hold_id and len(request.services) == 1:
            held = await self._book_held(request.hold_id, request)
            if held is not None:
                return held
        services = [
            schemas.ServiceWanted(
                service_id=_id(wanted.service_id, "service"),
                staff_id=_id(wanted.staff_id, "staff member") if wanted.staff_id else "any",
            )
            for wanted in request.services
        ]
        if not services:
            raise ServiceNotBookable("a booking needs at least one service")
        body = schemas.AppointmentCreate(
            services=services,
            start=request.start,
            contact_id=_id(request.client.id, "client"),
            conversation_id=_id(request.conversation_id, "conversation") if request.conversation_id else None,
            note=request.comment,
        )
        booking, _ = await self.appointments.book(
            body, idempotency_key=request.idempotency_key, source=self.source, now=datetime.now(UTC)
        )
        return [_appointment(item) for item in booking.appointments]

    async def _book_held(self, hold_id: str, request: BookingRequest) -> list[Appointment] | None:
        """The hold becomes the booking when it is still this booking's time; None: book afresh."""
        wanted = request.services[0]
        try:
            found = await self.appointments.get(_id(hold_id, "hold"))
        except NotFound:
            return None
        if (
            found.status != AppointmentStatus.held
            or found.start != request.start
            or str(found.service_id) != wanted.service_id
            or (wanted.staff_id and str(found.staff_id) != wanted.staff_id)
        ):
            return None
        confirm = schemas.HoldConfirm(contact_id=_id(request.client.id, "client"), note=request.comment or None)
        try:
            booking = await self.appointments.confirm_hold(found.id, confirm, now=datetime.now(UTC))
        except (NotFound, Conflict, SlotTaken):
            return None  # expired or taken over meanwhile: the time may still be free
        return [_appointment(item) for item in booking.appointments]

    async def hold(self, service_id: str, staff_id: str, start: datetime, conversation_id: str | None) -> Appointment:
        body = schemas.HoldCreate(
            service_id=_id(service_id, "service"),
            staff_id=_id(staff_id, "staff member") if staff_id else "any",
            start=start,
            conversation_id=_id(conversation_id, "conversation") if conversation_id else None,
        )
        return _appointment(await self.appointments.hold(body, now=datetime.now(UTC)))

    async def release(self, hold_id: str) -> None:
        try:
            await self.appointments.release_hold(_id(hold_id, "hold"))
        except NotFound:
            return  # gone already: expired and swept, or booked

    async def cancel(self, appointment_id: str) -> Appointment:
        update = schemas.AppointmentUpdate(status="cancelled")
        changed = await self.appointments.update(_id(appointment_id, "appointment"), update, now=datetime.now(UTC))
        return _appointment(changed)

    async def reschedule(self, appointment_id: str, start: datetime) -> Appointment:
        update = schemas.AppointmentUpdate(start=start)
        changed = await self.appointments.update(_id(appointment_id, "appointment"), update, now=datetime.now(UTC))
        return _appointment(changed)

    async def client_appointments(self, client_id: str, *, upcoming_only: bool = True) -> list[Appointment]:
        live = [AppointmentStatus.pending.value, AppointmentStatus.confirmed.value]
        page = await self.appointments.page(
            starts=datetime.now(UTC) if upcoming_only else None,
            ends=None,
            staff_id=None,
            contact_id=_id(client_id, "client"),
            statuses=live if upcoming_only else [s.value for s in AppointmentStatus if s is not AppointmentStatus.held],
            limit=MAX_CLIENT_APPOINTMENTS,
            offset=0,
        )
        return [_appointment(item) for item in page.items]
