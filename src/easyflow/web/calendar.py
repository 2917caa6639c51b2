"""The bookings calendar: a day (all staff side by side, or one member) or a week of one member, in the
workspace's time zone, with working hours shaded and appointments (held slots too) in the half hour they start;
creating an appointment from an empty slot, moving one (dragged by the calendar's script, or by the "Move" form
of its page), and changing its status. Every read and change goes through booking's `Appointments`, as the
API's routes do; nothing here writes SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking import schemas
from easyflow.booking.appointments import TRANSITIONS, Appointments, IdempotencyKeyReused, NotABookableTime
from easyflow.booking.availability import StaffSchedule, instants, working_intervals
from easyflow.booking.backend import NoStaffFree, OverlapInRequest, ServiceNotBookable, SlotTaken
from easyflow.booking.slots import local_midnight
from easyflow.catalogue.schemas import ServiceRead, StaffRead
from easyflow.catalogue.services import Services
from easyflow.catalogue.staff import Staff
from easyflow.crm.contacts import ContactProfiles, read_contact
from easyflow.crm.repository import ContactFilters
from easyflow.kit.errors import Conflict, NotFound
from easyflow.models.booking import AppointmentSource, AppointmentStatus
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.funnel_shared import refused_json, wants_json, zone_of
from easyflow.web.page import N_, PageRefused, SignedIn, SignedInPage, render, see_other, text_field
from easyflow.web.workspace import WEEKDAY_TITLES

router = APIRouter()

CELL = timedelta(minutes=30)
# The hours a day shows when nobody works earlier or later and nothing is booked outside them.
FIRST_HOUR, LAST_HOUR = 9, 19
MAX_APPOINTMENTS_SHOWN = 1000
MAX_STAFF = 200
MAX_SERVICES = 500
CONTACTS_OFFERED = 20
UPCOMING_SHOWN = 5
# The furthest a page may be asked to look (the booking horizon is far shorter).
MAX_YEARS_AWAY = 5
SHOWN_STATUSES = [status.value for status in AppointmentStatus if status is not AppointmentStatus.cancelled]
UPCOMING_STATUSES = [AppointmentStatus.pending.value, AppointmentStatus.confirmed.value]
STATUS_CHANGES = ("confirmed", "arrived", "no_show", "cancelled")

STATUS_TITLES = {
    "pending": N_("Awaiting confirmation"),
    "confirmed": N_("Confirmed"),
    "arrived": N_("Arrived"),
    "no_show": N_("No-show"),
    "cancelled": N_("Cancelled"),
    "held": N_("Held"),
}
# The status buttons say what they do.
STATUS_ACTIONS = {
    "confirmed": N_("Confirm"),
    "arrived": N_("Arrived"),
    "no_show": N_("No-show"),
    "cancelled": N_("Cancel the appointment"),
}

NO_SUCH_APPOINTMENT = N_("There is no such appointment in your workspace.")
NO_SUCH_CHOICE = N_("There is no such service, staff member or contact in your workspace.")
BAD_DAY = N_("The calendar cannot be shown: the day, view or staff member asked for is not valid.")
OPERATORS_ONLY = N_("Only operators, admins and owners can change appointments.")
SLOT_TAKEN = N_("This time is already taken.")
OUTSIDE_HOURS = N_(
    "This time is outside the member's working hours (or off their slot grid, too soon or too far ahead): "
    "choose another time."
)
NOT_PERFORMED = N_("This member does not perform the service, or the service cannot be booked.")
BAD_APPOINTMENT = N_(
    "The appointment was not made: choose a service, a member and a time, and give the customer's name and "
    "phone (or choose a contact)."
)
RESUBMITTED = N_("This form was already used for a booking: check the choices and press Book again.")
BAD_START = N_("Choose the day and time to move the appointment to.")
CANNOT_CHANGE = N_("The appointment cannot be changed so: it is already past that status.")


@dataclass(frozen=True)
class Shown:
    """An appointment as the calendar and the contact's panel show it."""

    appointment: schemas.AppointmentRead
    service: str
    staff: str
    starts: str  # local "HH:MM"
    ends: str
    day: date


@dataclass
class Cell:
    start: datetime  # UTC
    label: str
    working: bool
    items: list[Shown] = field(default_factory=list)


@dataclass
class Column:
    title: str
    day: date
    staff_id: uuid.UUID
    cells: list[Cell]


@dataclass(frozen=True)
class Catalogue:
    services: dict[uuid.UUID, ServiceRead]
    staff: list[StaffRead]

    def staff_name(self, staff_id: uuid.UUID) -> str:
        return next((member.name for member in self.staff if member.id == staff_id), "")

    def service_name(self, service_id: uuid.UUID) -> str:
        service = self.services.get(service_id)
        return service.name if service else ""


async def catalogue_of(session: AsyncSession, tenant_id: uuid.UUID) -> Catalogue:
    """Every service (archived ones too: appointments still name them) and every member of staff."""
    services = Services(session, tenant_id)
    current, _ = await services.page(query=None, category=None, archived=False, limit=MAX_SERVICES, offset=0)
    archived, _ = await services.page(query=None, category=None, archived=True, limit=MAX_SERVICES, offset=0)
    staff, _ = await Staff(session, tenant_id).page(query=None, limit=MAX_STAFF, offset=0)
    return Catalogue({service.id: service for service in [*current, *archived]}, staff)


def shown(appointment: schemas.AppointmentRead, catalogue: Catalogue, zone: ZoneInfo) -> Shown:
    starts, ends = appointment.start.astimezone(zone), appointment.end.astimezone(zone)
    return Shown(
        appointment,
        catalogue.service_name(appointment.service_id),
        catalogue.staff_name(appointment.staff_id),
        starts.strftime("%H:%M"),
        ends.strftime("%H:%M"),
        starts.date(),
    )


def _schedule(member: StaffRead) -> StaffSchedule:
    return StaffSchedule(
        staff_id=str(member.id),
        duration=CELL,
        working_hours=[interval.model_dump(mode="json") for interval in member.working_hours],
        days_off=[day.isoformat() for day in member.days_off],
        exceptions=[exception.model_dump(mode="json") for exception in member.exceptions],
    )


def _hours_shown(
    columns: Sequence[tuple[date, StaffRead]], appointments: Sequence[Shown], zone: ZoneInfo
) -> tuple[int, int]:
    """The first and the last (exclusive) hour of the grid: the usual day, widened to everyone's hours and to
    every appointment that starts on a day shown."""
    first, last = FIRST_HOUR, LAST_HOUR
    for day, member in columns:
        for start, end in working_intervals(_schedule(member), day):
            first, last = min(first, start.hour), max(last, end.hour + (1 if end.minute else 0))
    days = {day for day, _ in columns}
    for item in appointments:
        if item.day not in days:
            continue  # begun the evening before the first day shown (the listing overlaps the range)
        starts, ends = item.appointment.start.astimezone(zone), item.appointment.end.astimezone(zone)
        first = min(first, starts.hour)
        last = max(last, ends.hour + (1 if ends.minute else 0))
    return first, min(last, 24)


def _cells(day: date, member: StaffRead, zone: ZoneInfo, hours: tuple[int, int]) -> list[Cell]:
    """The half hours of a local day: a wall time the clocks skip (spring forward) has no cell, one they
    repeat (fall back) has two, each labelled with its offset."""
    intervals = working_intervals(_schedule(member), day)
    cells: list[Cell] = []
    wall = datetime.combine(day, time(hours[0]))
    end = datetime.combine(day, time()) + timedelta(hours=hours[1])
    while wall < end:
        found = instants(day, wall.time(), zone)
        for instant in found:
            label = wall.strftime("%H:%M")
            if len(found) > 1:
                label += instant.astimezone(zone).strftime(" (UTC%z)")
            working = any(start <= wall.time() < stop for start, stop in intervals)
            cells.append(Cell(instant, label, working))
        wall += CELL
    # In the order they happen: a repeated hour's second pass comes after its first, not interleaved.
    return sorted(cells, key=lambda each: each.start)


def _place(columns: list[Column], appointments: Sequence[Shown]) -> None:
    """Each appointment goes in its member's column of its day, in the last cell starting at or before it."""
    for item in appointments:
        for column in columns:
            if column.staff_id != item.appointment.staff_id or column.day != item.day or not column.cells:
                continue
            target = column.cells[0]
            for cell in column.cells:
                if cell.start <= item.appointment.start:
                    target = cell
            target.items.append(item)


def _day(value: str, zone: ZoneInfo) -> date:
    if not value:
        return datetime.now(UTC).astimezone(zone).date()
    try:
        chosen = date.fromisoformat(value)
    except ValueError:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_DAY) from None
    if abs(chosen.year - datetime.now(UTC).year) > MAX_YEARS_AWAY:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_DAY)
    return chosen


def _uuid(value: str | None, message: str, status_code: int = status.HTTP_404_NOT_FOUND) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise PageRefused(status_code, message) from None


def _appointment_id(appointment_id: str) -> uuid.UUID:
    return _uuid(appointment_id, NO_SUCH_APPOINTMENT)


AppointmentId = Annotated[uuid.UUID, Depends(_appointment_id)]


def _operator(page: SignedIn) -> None:
    if not page.role.at_least(Role.operator):
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)


def _start(text: str | None, zone: ZoneInfo) -> datetime:
    """A start as the forms send it: a local "YYYY-MM-DDTHH:MM" of the workspace (the form's field), or an
    instant with its offset (a calendar cell's, dropped on by the script)."""
    moment = datetime.fromisoformat(text or "")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def local_input(moment: datetime, zone: ZoneInfo) -> str:
    """The value of a datetime-local field for `moment` in the workspace's zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


@router.get("/calendar", response_class=HTMLResponse)
async def calendar(
    request: Request, session: Session, page: SignedInPage, day: str = "", view: str = "day", staff: str = ""
) -> Response:
    """A day of every member (or of the one chosen) side by side, or a week of one member."""
    if view not in ("day", "week"):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_DAY)
    zone = zone_of(page)
    chosen_day = _day(day, zone)
    staff_id = _uuid(staff, BAD_DAY, status.HTTP_400_BAD_REQUEST) if staff else None
    catalogue = await catalogue_of(session, page.tenant_id)
    member = next((each for each in catalogue.staff if each.id == staff_id), None)
    if staff_id is not None and member is None:
        raise PageRefused(status.HTTP_404_NOT_FOUND, BAD_DAY)
    if view == "week":
        member = member or (catalogue.staff[0] if catalogue.staff else None)
        first = chosen_day - timedelta(days=chosen_day.weekday())
        wanted = [(first + timedelta(days=n), member) for n in range(7)] if member else []
        days = 7
    else:
        first = chosen_day
        wanted = [(chosen_day, each) for each in ([member] if member else catalogue.staff)]
        days = 1
    listed = await Appointments(session, page.tenant_id).page(
        starts=local_midnight(first, zone),
        ends=local_midnight(first + timedelta(days=days), zone),
        staff_id=member.id if member else None,
        contact_id=None,
        statuses=SHOWN_STATUSES,
        limit=MAX_APPOINTMENTS_SHOWN,
        offset=0,
    )
    appointments = [shown(item, catalogue, zone) for item in listed.items]
    hours = _hours_shown(wanted, appointments, zone)
    columns = [
        Column(each.name if view == "day" else "", column_day, each.id, _cells(column_day, each, zone, hours))
        for column_day, each in wanted
    ]
    _place(columns, appointments)
    step = timedelta(days=days)

    def link(**changes: Any) -> str:
        asked = {"view": view, "day": chosen_day.isoformat(), "staff": str(staff_id) if staff_id else "", **changes}
        return "/app/calendar?" + urlencode({key: value for key, value in asked.items() if value})

    context = {
        "view": view,
        "day": chosen_day,
        "columns": columns,
        "staff": catalogue.staff,
        "member": member,
        "staff_id": staff_id,
        "zone": zone.key,
        "can_act": page.role.at_least(Role.operator),
        "previous": link(day=(chosen_day - step).isoformat()),
        "next": link(day=(chosen_day + step).isoformat()),
        "today": link(day=""),
        "day_link": lambda column_day: link(view="day", day=column_day.isoformat()),
        "week_link": link(view="week", staff=str(member.id) if member else ""),
        "new_link": lambda column, cell: (
            "/app/calendar/new?" + urlencode({"staff": column.staff_id, "start": local_input(cell.start, zone)})
        ),
        "status_titles": STATUS_TITLES,
        "weekdays": [title for _, title in WEEKDAY_TITLES],
        "now": datetime.now(UTC),
    }
    return render(request, "calendar.html", context, page=page)


@router.get("/calendar/new", response_class=HTMLResponse)
async def new_appointment_form(
    request: Request,
    session: Session,
    page: SignedInPage,
    staff: str = "",
    start: str = "",
    contact: str = "",
    contact_q: str = "",
) -> Response:
    """The form for an appointment in an empty slot: the service, the member, the start, and the customer
    (a contact found by name or phone, or a name and phone)."""
    _operator(page)
    values = {"staff_id": staff, "start": start, "contact_id": contact}
    if len(contact_q) > 200 or any(ord(char) < 32 for char in contact_q) or len(start) > 40:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_APPOINTMENT)
    return await _new_page(request, session, page, values=values, contact_q=contact_q.strip())


async def _new_page(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    *,
    values: dict[str, str],
    contact_q: str = "",
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    catalogue = await catalogue_of(session, page.tenant_id)
    profiles = ContactProfiles(session, page.principal)
    offered = []
    if values.get("contact_id"):
        contact_id = _uuid(values["contact_id"], NO_SUCH_CHOICE)
        try:
            offered = [read_contact(await profiles.get(contact_id))]
        except NotFound:
            raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CHOICE) from None
    if contact_q:
        found = await profiles.search(ContactFilters(q=contact_q), limit=CONTACTS_OFFERED, offset=0)
        offered += [each for each in found.items if str(each.id) != values.get("contact_id")]
    context = {
        "services": [service for service in catalogue.services.values() if not service.archived],
        "staff": catalogue.staff,
        "contacts": offered,
        "contact_q": contact_q,
        "values": values,
        "form_key": values.get("form_key") or str(uuid.uuid4()),
        "error": error,
        "zone": zone_of(page).key,
    }
    return render(request, "calendar_new.html", context, status_code, page=page)


def _refusal(error: Exception) -> tuple[int, str]:
    """What the member is told when booking refuses a time, and with which status."""
    if isinstance(error, SlotTaken | NoStaffFree):
        return status.HTTP_409_CONFLICT, SLOT_TAKEN
    if isinstance(error, NotABookableTime):
        return status.HTTP_422_UNPROCESSABLE_CONTENT, OUTSIDE_HOURS
    if isinstance(error, ServiceNotBookable | OverlapInRequest):
        return status.HTTP_422_UNPROCESSABLE_CONTENT, NOT_PERFORMED
    return status.HTTP_409_CONFLICT, CANNOT_CHANGE


@router.post("/calendar/appointments")
async def create_appointment(request: Request, session: Session, page: SignedInPage) -> Response:
    """An appointment through booking's `Appointments.book`, made by the member (source: dashboard)."""
    _operator(page)
    form = await request.form(max_fields=20)
    names = ("service_id", "staff_id", "start", "contact_id", "name", "phone", "note", "form_key")
    read = {name: text_field(form, name, max_chars=2000) for name in names}
    values = {name: (value or "").strip() for name, value in read.items()}
    zone = zone_of(page)
    try:
        if any(value is None and name in form for name, value in read.items()):
            raise ValueError("a field too long, a file, or with a NUL character")
        contact_id = uuid.UUID(values["contact_id"]) if values["contact_id"] else None
        # The form's own key: a second press of "Book" (or a resent form) gets the first booking back.
        form_key = f"dashboard:{uuid.UUID(values['form_key'])}" if values["form_key"] else None
        body = schemas.AppointmentCreate(
            service_id=uuid.UUID(values["service_id"]),
            staff_id=uuid.UUID(values["staff_id"]),
            start=_start(values["start"], zone),
            contact_id=contact_id,
            contact=None if contact_id else schemas.ContactGiven(name=values["name"], phone=values["phone"]),
            note=values["note"],
        )
    except (ValidationError, ValueError):
        return await _new_page(request, session, page, values=values, error=BAD_APPOINTMENT, status_code=422)
    try:
        async with session.begin_nested():
            booking, _ = await Appointments(session, page.tenant_id, actor_id=page.user.id).book(
                body, idempotency_key=form_key, source=AppointmentSource.dashboard, now=datetime.now(UTC)
            )
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CHOICE) from None
    except (Conflict, NotABookableTime, ServiceNotBookable, OverlapInRequest) as refused:
        status_code, message = _refusal(refused)
        return await _new_page(request, session, page, values=values, error=message, status_code=status_code)
    except IdempotencyKeyReused:
        # The same form sent again with other choices: a fresh key lets this one through as its own booking.
        values["form_key"] = ""
        return await _new_page(
            request, session, page, values=values, error=RESUBMITTED, status_code=status.HTTP_409_CONFLICT
        )
    local_day = booking.start.astimezone(zone).date().isoformat()
    return see_other(f"/app/calendar?day={local_day}#appointment-{booking.id}")


@router.get("/calendar/appointments/{appointment_id}", response_class=HTMLResponse)
async def appointment_page(
    appointment_id: AppointmentId, request: Request, session: Session, page: SignedInPage
) -> Response:
    return await _appointment_page(request, session, page, appointment_id)


async def _appointment_page(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    appointment_id: uuid.UUID,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    try:
        appointment = await Appointments(session, page.tenant_id).get(appointment_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_APPOINTMENT) from None
    if appointment.status == AppointmentStatus.held:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_APPOINTMENT)
    zone = zone_of(page)
    context = {
        "item": shown(appointment, await catalogue_of(session, page.tenant_id), zone),
        "start_value": local_input(appointment.start, zone),
        "zone": zone.key,
        "can_act": page.role.at_least(Role.operator),
        "status_titles": STATUS_TITLES,
        # Only the changes booking allows from where it is: an arrived customer cannot be cancelled.
        "status_actions": {
            value: title for value, title in STATUS_ACTIONS.items() if value in TRANSITIONS[appointment.status]
        },
        "error": error,
    }
    return render(request, "calendar_appointment.html", context, status_code, page=page)


async def _change(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    appointment_id: uuid.UUID,
    body: schemas.AppointmentUpdate,
) -> Response:
    """Apply `body` through `Appointments.update`; the calendar's script gets JSON (a refusal's message in the
    member's language), a form gets the appointment's page back."""
    as_json = wants_json(request)
    try:
        async with session.begin_nested():
            changed = await Appointments(session, page.tenant_id, actor_id=page.user.id).update(
                appointment_id, body, now=datetime.now(UTC)
            )
    except NotFound:
        if as_json:
            return refused_json(request, page, status.HTTP_404_NOT_FOUND, NO_SUCH_APPOINTMENT)
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_APPOINTMENT) from None
    except (Conflict, NotABookableTime, ServiceNotBookable) as refused:
        status_code, message = _refusal(refused)
        if as_json:
            return refused_json(request, page, status_code, message)
        return await _appointment_page(request, session, page, appointment_id, error=message, status_code=status_code)
    if as_json:
        return JSONResponse({"id": str(changed.id), "start": changed.start.isoformat(), "status": changed.status})
    local_day = changed.start.astimezone(zone_of(page)).date().isoformat()
    return see_other(
        f"/app/calendar/appointments/{changed.id}"
        if changed.status != "cancelled"
        else f"/app/calendar?day={local_day}"
    )


@router.post("/calendar/appointments/{appointment_id}/move")
async def move_appointment(
    appointment_id: AppointmentId, request: Request, session: Session, page: SignedInPage
) -> Response:
    """Move it to `start` (the same rules as booking: 409 when the time is taken)."""
    if not page.role.at_least(Role.operator):
        if wants_json(request):
            return refused_json(request, page, status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)
    form = await request.form(max_fields=10)
    try:
        body = schemas.AppointmentUpdate(start=_start(text_field(form, "start", max_chars=40), zone_of(page)))
    except (ValidationError, ValueError):
        if wants_json(request):
            return refused_json(request, page, status.HTTP_422_UNPROCESSABLE_CONTENT, BAD_START)
        return await _appointment_page(
            request, session, page, appointment_id, error=BAD_START, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    return await _change(request, session, page, appointment_id, body)


@router.post("/calendar/appointments/{appointment_id}/status")
async def change_status(
    appointment_id: AppointmentId, request: Request, session: Session, page: SignedInPage
) -> Response:
    """Confirm it, mark the customer arrived or not come, or cancel it."""
    _operator(page)
    form = await request.form(max_fields=10)
    wanted = text_field(form, "status", max_chars=20)
    if wanted not in STATUS_CHANGES:
        return await _appointment_page(
            request,
            session,
            page,
            appointment_id,
            error=CANNOT_CHANGE,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return await _change(request, session, page, appointment_id, schemas.AppointmentUpdate(status=wanted))


async def upcoming_of_contact(session: AsyncSession, page: SignedIn, contact_id: uuid.UUID) -> list[Shown]:
    """The contact's next appointments (pending or confirmed), soonest first: the conversation's side panel."""
    listed = await Appointments(session, page.tenant_id).page(
        starts=datetime.now(UTC),
        ends=None,
        staff_id=None,
        contact_id=contact_id,
        statuses=UPCOMING_STATUSES,
        limit=UPCOMING_SHOWN,
        offset=0,
    )
    if not listed.items:
        return []
    catalogue = await catalogue_of(session, page.tenant_id)
    return [shown(item, catalogue, zone_of(page)) for item in listed.items]
