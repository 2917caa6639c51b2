"""Booking, moving, confirming and cancelling appointments, and holding a slot while a customer confirms.

Whether a time is free is never checked before writing: the row is inserted (or moved) and PostgreSQL's
exclusion constraints refuse an overlap atomically, however many requests race (sqlstate 23P01, answered 409
slot-taken). What is checked first is only what no race can change: the start lies on the member's hours grid,
within the lead time and the horizon.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking import schemas
from easyflow.booking.availability import fits_schedule
from easyflow.booking.backend import NoStaffFree, OverlapInRequest, SlotTaken
from easyflow.booking.events import announce_booked, announce_cancelled, announce_moved, emit_booking_event
from easyflow.booking.repository import AppointmentRepository
from easyflow.booking.slots import SlotFinder, TenantRules, local_midnight
from easyflow.booking.staff_notices import notify_booking_staff
from easyflow.catalogue.repository import ResourceRepository
from easyflow.conversations.repository import ConversationRepository
from easyflow.crm.contacts import contact_for_phone
from easyflow.crm.repository import CrmContactRepository
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.booking import Appointment, AppointmentSource, AppointmentStatus
from easyflow.models.catalogue import Service

EXCLUSION_VIOLATION = "23P01"
UNIQUE_VIOLATION = "23505"
IDEMPOTENCY_CONSTRAINT = "uq_appointments_tenant_id_idempotency_key"
NO_SUCH_APPOINTMENT = "no such appointment"

# Where each status may go by PATCH; a hold becomes a booking only by being confirmed (or is deleted).
TRANSITIONS: dict[str, set[str]] = {
    AppointmentStatus.pending: {AppointmentStatus.confirmed, AppointmentStatus.cancelled},
    AppointmentStatus.confirmed: {AppointmentStatus.arrived, AppointmentStatus.no_show, AppointmentStatus.cancelled},
    AppointmentStatus.arrived: set(),
    AppointmentStatus.no_show: set(),
    AppointmentStatus.cancelled: set(),
    AppointmentStatus.held: set(),
}
MOVABLE = {AppointmentStatus.pending, AppointmentStatus.confirmed}


class NotABookableTime(Unprocessable):
    """The start is not one of the member's bookable times: outside their hours, off the slot grid, sooner
    than the lead time allows or beyond the horizon."""

    slug, title = "not-a-bookable-time", "Not a bookable time"


class IdempotencyKeyReused(Unprocessable):
    """The Idempotency-Key was first used with another request (the IETF draft's 422)."""

    slug, title = "idempotency-key-reused", "Idempotency key reused"


@dataclass(frozen=True)
class Customer:
    contact_id: uuid.UUID | None
    name: str
    phone: str | None


def read_appointment(row: Appointment) -> schemas.AppointmentRead:
    return schemas.AppointmentRead(
        id=row.id,
        booking_id=row.booking_id,
        position=row.position,
        service_id=row.service_id,
        staff_id=row.staff_id,
        resource_id=row.resource_id,
        contact_id=row.contact_id,
        customer_name=row.customer_name,
        customer_phone=row.customer_phone,
        start=row.starts_at,
        end=row.ends_at,
        blocked_until=row.ends_at + timedelta(minutes=row.buffer_after_minutes),
        status=row.status,
        hold_expires_at=row.hold_expires_at,
        conversation_id=row.conversation_id,
        source=row.source,
        note=row.note,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def read_booking(rows: Sequence[Appointment]) -> schemas.BookingRead:
    items = [read_appointment(row) for row in rows]
    return schemas.BookingRead(**items[0].model_dump(), appointments=items)


def request_digest(body: Any) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sqlstate(error: IntegrityError) -> tuple[str | None, str | None]:
    diag = getattr(error.orig, "diag", None)
    return getattr(error.orig, "sqlstate", None), getattr(diag, "constraint_name", None)


class Appointments:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, *, actor_id: uuid.UUID | None = None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.actor_id = actor_id
        self.rows = AppointmentRepository(session, tenant_id)
        self.finder = SlotFinder(session, tenant_id)

    # Reading

    async def get(self, appointment_id: uuid.UUID) -> schemas.AppointmentRead:
        return read_appointment(await self._row(appointment_id))

    async def page(
        self,
        *,
        starts: datetime | None,
        ends: datetime | None,
        staff_id: uuid.UUID | None,
        contact_id: uuid.UUID | None,
        statuses: Sequence[str] | None,
        limit: int,
        offset: int,
    ) -> schemas.AppointmentPage:
        rows, total = await self.rows.search(
            starts=starts,
            ends=ends,
            staff_id=staff_id,
            contact_id=contact_id,
            statuses=statuses,
            limit=limit,
            offset=offset,
        )
        return schemas.AppointmentPage(items=[read_appointment(row) for row in rows], total=total)

    async def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The instants a local day of the tenant starts and ends (23 or 25 hours apart on a DST change)."""
        zone = (await self.finder.tenant_rules()).rules.zone
        return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)

    # Booking

    async def book(
        self,
        body: schemas.AppointmentCreate,
        *,
        idempotency_key: str | None,
        source: AppointmentSource,
        now: datetime,
    ) -> tuple[schemas.BookingRead, bool]:
        """The booking and whether it was made now (False: the key's earlier booking, returned again)."""
        digest = request_digest(body)
        if idempotency_key is not None:
            earlier = await self._earlier(idempotency_key, digest)
            if earlier is not None:
                return earlier, False
        customer = await self._customer(body.contact_id, body.contact)
        await self._check_conversation(body.conversation_id)
        await self._check_resource(body.resource_id)
        tenant = await self.finder.tenant_rules()
        booking_id = uuid.uuid4()
        try:
            async with self.session.begin_nested():
                rows = await self._insert_all(
                    body, booking_id, customer, tenant, now, source, idempotency_key=idempotency_key, digest=digest
                )
        except (IntegrityError, SlotTaken, NoStaffFree) as error:
            # The same key may have raced us and committed first, refused by its key or (it booked the very same
            # time) by the exclusion constraint: its booking is then the answer.
            raced = isinstance(error, SlotTaken | NoStaffFree) or _sqlstate(error) == (
                UNIQUE_VIOLATION,
                IDEMPOTENCY_CONSTRAINT,
            )
            if raced and idempotency_key is not None:
                earlier = await self._earlier(idempotency_key, digest)
                if earlier is not None:
                    return earlier, False
            raise
        for row in rows:
            await self.session.refresh(row)
        announce_booked(self.session, self.tenant_id, rows)
        for row in rows:
            await notify_booking_staff(self.session, self.tenant_id, row, "created")
        await self._funnel(rows, "booking_made")
        return read_booking(rows), True

    async def _insert_all(
        self,
        body: schemas.AppointmentCreate,
        booking_id: uuid.UUID,
        customer: Customer,
        tenant: TenantRules,
        now: datetime,
        source: AppointmentSource,
        *,
        idempotency_key: str | None,
        digest: str,
    ) -> list[Appointment]:
        wanted = body.wanted()
        rows: list[Appointment] = []
        for position, item in enumerate(wanted):
            start = item.start or (_after(rows[-1], item.staff_id) if rows else body.start)
            service = await self.finder.service(item.service_id)
            row = Appointment(
                booking_id=booking_id,
                position=position,
                service_id=service.id,
                resource_id=body.resource_id if position == 0 else None,
                contact_id=customer.contact_id,
                customer_name=customer.name,
                customer_phone=customer.phone,
                buffer_after_minutes=service.buffer_after_minutes,
                status=body.status,
                conversation_id=body.conversation_id,
                idempotency_key=idempotency_key if position == 0 else None,
                request_digest=digest if position == 0 else None,
                source=source.value,
                note=body.note,
                created_by=self.actor_id,
            )
            await self._place(row, service, item.staff_id, start, tenant, now, taken=rows)
            rows.append(row)
        if any(item.start is not None for item in wanted):
            ordered = sorted(rows, key=lambda r: r.starts_at)
            for earlier, later in itertools.pairwise(ordered):
                if later.starts_at < earlier.ends_at:
                    raise OverlapInRequest("two services of the booking overlap: the customer cannot be at both")
        return rows

    async def _place(
        self,
        row: Appointment,
        service: Service,
        staff_choice: uuid.UUID | str,
        start: datetime,
        tenant: TenantRules,
        now: datetime,
        *,
        taken: Sequence[Appointment],
    ) -> None:
        """Give `row` a member (the one asked for, or the first free of those who perform the service) and
        insert it; the exclusion constraint is what says a member is free."""
        staff_id = staff_choice if isinstance(staff_choice, uuid.UUID) else None
        performers = await self.finder.performers(service, staff_id)
        fitting = [p for p in performers if fits_schedule(p, start, tenant.rules, now)]
        if not fitting:
            if staff_id is not None:
                raise NotABookableTime(
                    f"{start.isoformat()} is not a bookable start for this member and service "
                    "(outside their hours, off the slot grid, too soon or too far ahead)"
                )
            raise NoStaffFree("nobody who performs the service works then")
        for schedule in fitting:
            row.staff_id = uuid.UUID(schedule.staff_id)
            row.starts_at, row.ends_at = start, start + schedule.duration
            for mine in taken:
                if mine.staff_id == row.staff_id and _overlap(mine, row):
                    if staff_id is not None:
                        raise OverlapInRequest("two services of the booking overlap for the same member")
                    break
            else:
                if await self._insert(row):
                    return
        if staff_id is not None:
            raise SlotTaken("that time is already booked or held: choose another")
        raise NoStaffFree("everyone who performs the service is booked then")

    async def _insert(self, row: Appointment) -> bool:
        """Insert the row in a savepoint of its own; False when the exclusion constraint refused it."""
        blocked_until = row.ends_at + timedelta(minutes=row.buffer_after_minutes)
        await self.rows.sweep_expired_holds(row.staff_id, row.resource_id, row.starts_at, blocked_until)
        try:
            async with self.session.begin_nested():
                await self.rows.add(row)
        except IntegrityError as error:
            if _sqlstate(error)[0] == EXCLUSION_VIOLATION:
                return False
            raise
        return True

    async def _earlier(self, key: str, digest: str) -> schemas.BookingRead | None:
        first = await self.rows.by_idempotency_key(key)
        if first is None:
            return None
        if first.request_digest != digest:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        return read_booking(await self.rows.of_booking(first.booking_id))

    # Holds

    async def hold(self, body: schemas.HoldCreate, *, now: datetime) -> schemas.AppointmentRead:
        """Keep the slot for the hold minutes while the customer confirms; it blocks like a booking until then."""
        customer = await self._customer(body.contact_id, None)
        await self._check_conversation(body.conversation_id)
        tenant = await self.finder.tenant_rules()
        service = await self.finder.service(body.service_id)
        row = Appointment(
            booking_id=uuid.uuid4(),
            position=0,
            service_id=service.id,
            contact_id=customer.contact_id,
            customer_name=customer.name,
            customer_phone=customer.phone,
            buffer_after_minutes=service.buffer_after_minutes,
            status=AppointmentStatus.held.value,
            hold_expires_at=now + tenant.hold,
            conversation_id=body.conversation_id,
            source=AppointmentSource.chat.value,
            created_by=self.actor_id,
        )
        await self._place(row, service, body.staff_id, body.start, tenant, now, taken=())
        await self.session.refresh(row)
        return read_appointment(row)

    async def confirm_hold(
        self, hold_id: uuid.UUID, body: schemas.HoldConfirm, *, now: datetime
    ) -> schemas.BookingRead:
        """The hold becomes the appointment (the same row, so nobody can take the time in between)."""
        row = await self.rows.get_for_update(hold_id)
        if row is None:
            raise NotFound("no such hold")
        if row.status != AppointmentStatus.held:
            raise Conflict(f"this is no longer a hold (it is {row.status})")
        if row.hold_expires_at is not None and row.hold_expires_at <= now:
            raise SlotTaken("the hold expired: the time may have been taken; choose it again")
        if body.contact_id is not None or body.contact is not None:
            customer = await self._customer(body.contact_id, body.contact)
            row.contact_id, row.customer_name, row.customer_phone = customer.contact_id, customer.name, customer.phone
        row.status, row.hold_expires_at = body.status, None
        if body.note is not None:
            row.note = body.note
        await self.session.flush()
        await self.session.refresh(row)
        announce_booked(self.session, self.tenant_id, [row])
        await notify_booking_staff(self.session, self.tenant_id, row, "created")
        await self._funnel([row], "booking_made")
        return read_booking([row])

    async def release_hold(self, hold_id: uuid.UUID) -> None:
        row = await self.rows.get_for_update(hold_id)
        if row is None or row.status != AppointmentStatus.held:
            raise NotFound("no such hold")
        await self.rows.delete(row)

    # Changing

    async def update(
        self, appointment_id: uuid.UUID, body: schemas.AppointmentUpdate, *, now: datetime
    ) -> schemas.AppointmentRead:
        row = await self.rows.get_for_update(appointment_id)
        if row is None or row.status == AppointmentStatus.held:
            raise NotFound(NO_SUCH_APPOINTMENT)
        if body.start is not None and body.start != row.starts_at:
            await self._move(row, body.start, now)
        if body.status is not None and body.status != row.status:
            if body.status not in TRANSITIONS[row.status]:
                raise Conflict(f"an appointment that is {row.status} cannot become {body.status}")
            row.status = body.status
            if body.status == AppointmentStatus.cancelled:
                announce_cancelled(self.session, self.tenant_id, row)
                await notify_booking_staff(self.session, self.tenant_id, row, "cancelled")
                await self._funnel([row], "booking_cancelled")
        if body.note is not None:
            row.note = body.note
        await self.session.flush()
        await self.session.refresh(row)
        return read_appointment(row)

    async def _move(self, row: Appointment, start: datetime, now: datetime) -> None:
        if row.status not in MOVABLE:
            raise Conflict(f"an appointment that is {row.status} cannot be moved")
        tenant = await self.finder.tenant_rules()
        service = await self.finder.service(row.service_id)
        performers = await self.finder.performers(service, row.staff_id)
        if not performers or not fits_schedule(performers[0], start, tenant.rules, now):
            raise NotABookableTime(f"{start.isoformat()} is not a bookable start for this member and service")
        old_start = row.starts_at
        duration = row.ends_at - row.starts_at
        new_end = start + duration
        await self.rows.sweep_expired_holds(
            row.staff_id, row.resource_id, start, new_end + timedelta(minutes=row.buffer_after_minutes)
        )
        try:
            async with self.session.begin_nested():
                row.starts_at, row.ends_at = start, new_end
                await self.session.flush()
        except IntegrityError as error:
            if _sqlstate(error)[0] == EXCLUSION_VIOLATION:
                raise SlotTaken("that time is already booked or held: choose another") from error
            raise
        announce_moved(self.session, self.tenant_id, row, old_start)
        await notify_booking_staff(self.session, self.tenant_id, row, "moved", old_start)

    # Helpers

    async def _row(self, appointment_id: uuid.UUID) -> Appointment:
        row = await self.rows.get(appointment_id)
        if row is None:
            raise NotFound(NO_SUCH_APPOINTMENT)
        return row

    async def _customer(self, contact_id: uuid.UUID | None, given: schemas.ContactGiven | None) -> Customer:
        if contact_id is not None:
            contact = await CrmContactRepository(self.session, self.tenant_id).get(contact_id)
            if contact is None:
                raise NotFound("no such contact")
            return Customer(contact.id, contact.name, contact.phone)
        if given is not None:
            contact = await contact_for_phone(self.session, self.tenant_id, given.name, given.phone)
            return Customer(contact.id, given.name, contact.phone)
        return Customer(None, "", None)

    async def _check_conversation(self, conversation_id: uuid.UUID | None) -> None:
        # The foreign key alone would accept another tenant's conversation: it does not see tenants.
        if (
            conversation_id is not None
            and await ConversationRepository(self.session, self.tenant_id).get(conversation_id) is None
        ):
            raise NotFound("no such conversation")

    async def _check_resource(self, resource_id: uuid.UUID | None) -> None:
        if resource_id is not None and await ResourceRepository(self.session, self.tenant_id).get(resource_id) is None:
            raise NotFound("no such resource")

    async def _funnel(self, rows: Sequence[Appointment], kind: str) -> None:
        await emit_booking_event(self.session, self.tenant_id, rows, kind)


def _after(previous: Appointment, staff_choice: uuid.UUID | str) -> datetime:
    """Where the next service of a booking starts by default: when the previous one ends, or after its buffer
    too when the same member performs both."""
    if staff_choice == previous.staff_id:
        return previous.ends_at + timedelta(minutes=previous.buffer_after_minutes)
    return previous.ends_at


def _overlap(a: Appointment, b: Appointment) -> bool:
    a_end = a.ends_at + timedelta(minutes=a.buffer_after_minutes)
    b_end = b.ends_at + timedelta(minutes=b.buffer_after_minutes)
    return a.starts_at < b_end and b.starts_at < a_end
