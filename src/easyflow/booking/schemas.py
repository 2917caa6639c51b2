"""Request and response bodies of booking."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from easyflow.conversations.schemas import CleanText, not_blank
from easyflow.kit.schemas import Output, StrictInput

MAX_SERVICES_PER_BOOKING = 10


def _whole_minute(value: datetime) -> datetime:
    if value.second or value.microsecond:
        raise ValueError("must be a whole minute (slots start on the minute)")
    return value


# An instant with its offset ("2027-03-01T10:00:00+03:00"); a time without one would be read in some zone
# the caller did not mean.
Start = Annotated[AwareDatetime, AfterValidator(_whole_minute)]
StaffChoice = uuid.UUID | Literal["any"]


class SlotRead(Output):
    start: datetime
    end: datetime
    staff_id: uuid.UUID


class SlotList(Output):
    items: list[SlotRead]


class ContactGiven(StrictInput):
    """A customer by name and phone: the contact with that number, or a new one."""

    name: Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)]
    phone: Annotated[str, Field(min_length=5, max_length=32, pattern=r"^\+?[0-9 ()\-]{5,32}$")]


class ServiceWanted(StrictInput):
    service_id: uuid.UUID
    staff_id: StaffChoice = "any"
    start: Start | None = Field(
        default=None, description="When this one starts; by default when the one before it ends (its buffer too)."
    )


class AppointmentCreate(StrictInput):
    """One service (`service_id`, `staff_id`) or several back to back (`services`), from `start`."""

    service_id: uuid.UUID | None = None
    staff_id: StaffChoice | None = None
    services: list[ServiceWanted] | None = Field(default=None, min_length=1, max_length=MAX_SERVICES_PER_BOOKING)
    start: Start
    contact_id: uuid.UUID | None = None
    contact: ContactGiven | None = None
    resource_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    status: Literal["pending", "confirmed"] = "confirmed"
    note: Annotated[CleanText, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.service_id is None) == (self.services is None):
            raise ValueError("give either service_id (and staff_id) or services")
        if self.services is None and self.staff_id is None:
            raise ValueError('staff_id is required with service_id (a member\'s id or "any")')
        if self.services is not None and self.staff_id is not None:
            raise ValueError("with services, give staff_id in each")
        if self.contact_id is not None and self.contact is not None:
            raise ValueError("give either contact_id or contact, not both")
        return self

    def wanted(self) -> list[ServiceWanted]:
        if self.services is not None:
            return self.services
        assert self.service_id is not None and self.staff_id is not None  # the validator saw to it
        return [ServiceWanted(service_id=self.service_id, staff_id=self.staff_id, start=None)]


class AppointmentUpdate(StrictInput):
    start: Start | None = Field(default=None, description="Move it here (the same rules as booking).")
    status: Literal["confirmed", "arrived", "no_show", "cancelled"] | None = None
    note: Annotated[CleanText, Field(max_length=2000)] | None = None


class HoldCreate(StrictInput):
    service_id: uuid.UUID
    staff_id: StaffChoice
    start: Start
    conversation_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None


class HoldConfirm(StrictInput):
    contact_id: uuid.UUID | None = None
    contact: ContactGiven | None = None
    status: Literal["pending", "confirmed"] = "confirmed"
    note: Annotated[CleanText, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _one_contact(self) -> Self:
        if self.contact_id is not None and self.contact is not None:
            raise ValueError("give either contact_id or contact, not both")
        return self


class AppointmentRead(Output):
    id: uuid.UUID
    booking_id: uuid.UUID
    position: int
    service_id: uuid.UUID
    staff_id: uuid.UUID
    resource_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    customer_name: str
    customer_phone: str | None
    start: datetime
    end: datetime
    blocked_until: datetime = Field(description="The end plus the service's buffer: the time kept free.")
    status: str
    hold_expires_at: datetime | None
    conversation_id: uuid.UUID | None
    source: str
    note: str
    created_at: datetime
    updated_at: datetime


class BookingRead(AppointmentRead):
    """The first appointment of the booking, and all of them (this one included) in order."""

    appointments: list[AppointmentRead]


class AppointmentPage(Output):
    items: list[AppointmentRead]
    total: int


ReminderOffsets = Annotated[
    list[Annotated[int, Field(ge=5, le=20160)]],
    Field(
        max_length=5,
        description="Minutes before an appointment its customer is reminded, e.g. [1440, 120] for 24 h and 2 h; "
        "[] sends no reminders.",
    ),
]


class BookingSettingsRead(Output):
    timezone: str = Field(
        description="The workspace's time zone, in which working hours and days are read (changed with the "
        "workspace's settings)."
    )
    lead_time_minutes: int
    horizon_days: int
    hold_minutes: int
    slot_step_minutes: int
    reminder_offsets_minutes: list[int]


class BookingSettingsUpdate(StrictInput):
    lead_time_minutes: Annotated[int, Field(ge=0, le=43200)] | None = Field(
        default=None, description="How soon before a slot it can still be booked online."
    )
    horizon_days: Annotated[int, Field(ge=1, le=730)] | None = Field(
        default=None, description="How far ahead slots are offered."
    )
    hold_minutes: Annotated[int, Field(ge=1, le=1440)] | None = Field(
        default=None, description="How long a slot offered in a chat is held while the customer confirms."
    )
    slot_step_minutes: Annotated[int, Field(ge=5, le=240)] | None = Field(
        default=None, description="The interval between offered start times."
    )
    reminder_offsets_minutes: ReminderOffsets | None = None
