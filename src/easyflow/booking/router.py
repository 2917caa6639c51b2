"""HTTP routes of booking: free slots, appointments and holds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from easyflow.booking import schemas
from easyflow.booking.appointments import Appointments
from easyflow.booking.settings import BookingSettingsService
from easyflow.booking.slots import SlotFinder
from easyflow.kit.errors import Unprocessable
from easyflow.kit.schemas import Limit, Offset
from easyflow.models.booking import AppointmentSource, AppointmentStatus
from easyflow.tenancy.auth import Admin, Operator, Session, Viewer

router = APIRouter(prefix="/api/v1", tags=["booking"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Your id for this booking: sent again (a retry), it returns the same booking with 200; sent "
        "with a different body, 422 idempotency-key-reused.",
    ),
]


def _now() -> datetime:
    return datetime.now(UTC)


def _staff_choice(raw: str) -> uuid.UUID | None:
    if raw == "any":
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Unprocessable('staff_id: a staff member\'s id or "any"') from None


@router.get("/booking/slots")
async def list_slots(
    principal: Viewer,
    session: Session,
    service_id: uuid.UUID,
    first_day: Annotated[date, Query(alias="from", description="The first local day (the workspace's time zone).")],
    last_day: Annotated[date, Query(alias="to", description="The last local day, at most 62 days after `from`.")],
    staff_id: Annotated[str, Query(max_length=36, description='A staff member\'s id, or "any".')] = "any",
) -> schemas.SlotList:
    """The free starts for the service: the members' hours less breaks, days off and exceptions, their
    appointments and live holds (with buffers), the lead time and the horizon; for "any", one slot per start
    with the first member free then."""
    slots = await SlotFinder(session, principal.tenant_id).slots(
        service_id, _staff_choice(staff_id), first_day, last_day, _now()
    )
    return schemas.SlotList(
        items=[schemas.SlotRead(start=s.start, end=s.end, staff_id=uuid.UUID(s.staff_id)) for s in slots]
    )


@router.post("/appointments", status_code=status.HTTP_201_CREATED)
async def create_appointment(
    body: schemas.AppointmentCreate,
    principal: Operator,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> schemas.BookingRead:
    """Book one service or several back to back. A time already booked or held is 409 slot-taken (PostgreSQL's
    exclusion constraint decides, so two requests racing for it cannot both win); a start that is not one of
    the member's bookable times is 422 not-a-bookable-time."""
    booking, made = await Appointments(session, principal.tenant_id, actor_id=principal.user_id).book(
        body, idempotency_key=idempotency_key, source=AppointmentSource.api, now=_now()
    )
    if not made:
        response.status_code = status.HTTP_200_OK
    return booking


@router.get("/appointments")
async def list_appointments(
    principal: Viewer,
    session: Session,
    day: Annotated[date | None, Query(description="One local day of the workspace.")] = None,
    starts: Annotated[datetime | None, Query(alias="from", description="Appointments ending after this.")] = None,
    ends: Annotated[datetime | None, Query(alias="to", description="Appointments starting before this.")] = None,
    staff_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    status_in: Annotated[
        list[Literal["pending", "confirmed", "arrived", "no_show", "cancelled"]] | None,
        Query(alias="status", max_length=5),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> schemas.AppointmentPage:
    """Appointments by start (holds are not listed), narrowed by day, time, staff member, contact and status."""
    service = Appointments(session, principal.tenant_id)
    for given in (starts, ends):
        if given is not None and given.tzinfo is None:
            raise Unprocessable("from and to need their UTC offset (e.g. 2027-03-01T00:00:00+03:00)")
    if day is not None:
        day_start, day_end = await service.day_bounds(day)
        starts, ends = max(starts or day_start, day_start), min(ends or day_end, day_end)
    statuses: list[str] = (
        list(status_in) if status_in else [s.value for s in AppointmentStatus if s is not AppointmentStatus.held]
    )
    return await service.page(
        starts=starts,
        ends=ends,
        staff_id=staff_id,
        contact_id=contact_id,
        statuses=statuses,
        limit=limit,
        offset=offset,
    )


@router.get("/appointments/{appointment_id}")
async def get_appointment(appointment_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.AppointmentRead:
    return await Appointments(session, principal.tenant_id).get(appointment_id)


@router.patch("/appointments/{appointment_id}")
async def update_appointment(
    appointment_id: uuid.UUID, body: schemas.AppointmentUpdate, principal: Operator, session: Session
) -> schemas.AppointmentRead:
    """Move it (`start`: 409 slot-taken when that time is taken) or change its status: pending → confirmed;
    confirmed → arrived, no_show; pending or confirmed → cancelled (409 for any other change)."""
    return await Appointments(session, principal.tenant_id, actor_id=principal.user_id).update(
        appointment_id, body, now=_now()
    )


@router.post("/booking/holds", status_code=status.HTTP_201_CREATED)
async def create_hold(body: schemas.HoldCreate, principal: Operator, session: Session) -> schemas.AppointmentRead:
    """Hold a slot for the workspace's hold minutes (5 by default) while a customer confirms: nobody else can
    book it until the hold is confirmed, released or expires."""
    return await Appointments(session, principal.tenant_id, actor_id=principal.user_id).hold(body, now=_now())


@router.post("/booking/holds/{hold_id}/confirm")
async def confirm_hold(
    hold_id: uuid.UUID, principal: Operator, session: Session, body: schemas.HoldConfirm | None = None
) -> schemas.BookingRead:
    """The hold becomes an appointment (the same row and id); an expired hold is 409 slot-taken."""
    return await Appointments(session, principal.tenant_id, actor_id=principal.user_id).confirm_hold(
        hold_id, body or schemas.HoldConfirm(), now=_now()
    )


@router.delete("/booking/holds/{hold_id}", status_code=status.HTTP_204_NO_CONTENT)
async def release_hold(hold_id: uuid.UUID, principal: Operator, session: Session) -> None:
    await Appointments(session, principal.tenant_id).release_hold(hold_id)


@router.get("/booking/settings")
async def get_booking_settings(principal: Viewer, session: Session) -> schemas.BookingSettingsRead:
    return await BookingSettingsService(session, principal.tenant_id).view()


@router.patch("/booking/settings")
async def update_booking_settings(
    body: schemas.BookingSettingsUpdate, principal: Admin, session: Session
) -> schemas.BookingSettingsRead:
    """Change how customers book and are reminded; settings left out keep their value."""
    return await BookingSettingsService(session, principal.tenant_id).update(body)
