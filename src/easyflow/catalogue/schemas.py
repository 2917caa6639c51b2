"""Request and response bodies of the catalogue."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, AnyHttpUrl, Field, PlainSerializer, model_validator

from easyflow.conversations.schemas import CleanText, not_blank
from easyflow.kit.schemas import Output, StrictInput

Name = Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)]
Category = Annotated[CleanText, Field(max_length=100)]
Description = Annotated[CleanText, Field(max_length=4000)]
CENTS = Decimal("0.01")
# Prices in the API are decimal strings in major units ("1500.00"); a JSON number is read exactly as written.
Price = Annotated[
    Decimal, Field(ge=0, max_digits=16, decimal_places=2), AfterValidator(lambda value: value.quantize(CENTS))
]
DurationMinutes = Annotated[int, Field(ge=5, le=1440, description="5 minutes to a day.")]
BufferMinutes = Annotated[int, Field(ge=0, le=1440, description="Kept free after each appointment.")]


def _check_prices(price: Decimal | None, price_from: Decimal | None, price_to: Decimal | None) -> None:
    if price is not None and (price_from is not None or price_to is not None):
        raise ValueError("give either price or price_from/price_to, not both")
    if price_from is not None and price_to is not None and price_from > price_to:
        raise ValueError("price_from is above price_to")


class ServiceCreate(StrictInput):
    category: Category = ""
    name: Name
    description: Description = ""
    duration_minutes: DurationMinutes
    price: Price | None = Field(default=None, description="A fixed price, or use price_from/price_to.")
    price_from: Price | None = None
    price_to: Price | None = None
    buffer_after_minutes: BufferMinutes = 0
    online_bookable: bool = True

    @model_validator(mode="after")
    def _one_kind_of_price(self) -> Self:
        _check_prices(self.price, self.price_from, self.price_to)
        return self


class ServiceUpdate(StrictInput):
    """Only the fields sent change; setting `price` clears a range and a range clears `price`."""

    category: Category | None = None
    name: Name | None = None
    description: Description | None = None
    duration_minutes: DurationMinutes | None = None
    price: Price | None = None
    price_from: Price | None = None
    price_to: Price | None = None
    buffer_after_minutes: BufferMinutes | None = None
    online_bookable: bool | None = None

    @model_validator(mode="after")
    def _one_kind_of_price(self) -> Self:
        _check_prices(self.price, self.price_from, self.price_to)
        return self


class ServiceRead(Output):
    id: uuid.UUID
    category: str
    name: str
    description: str
    duration_minutes: int
    price: Decimal | None
    price_from: Decimal | None
    price_to: Decimal | None
    buffer_after_minutes: int
    online_bookable: bool
    archived: bool = Field(description="Removed from the catalogue; kept for the appointments that name it.")
    created_at: datetime
    updated_at: datetime


# Hours are local wall-clock times in the tenant's time zone, written and read as "HH:MM".
ClockTime = Annotated[time, PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str)]
MAX_INTERVALS = 50
MAX_DATES = 400


class Break(StrictInput):
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"break end {self.end:%H:%M} is not after its start {self.start:%H:%M}")
        return self


class WorkingInterval(StrictInput):
    weekday: int = Field(ge=0, le=6, description="0 is Monday.")
    start: ClockTime
    end: ClockTime
    breaks: list[Break] = Field(default_factory=list, max_length=MAX_INTERVALS)

    @model_validator(mode="after")
    def _breaks_inside(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%H:%M} is not after start {self.start:%H:%M}")
        for pause in self.breaks:
            if pause.start < self.start or pause.end > self.end:
                raise ValueError(f"break {pause.start:%H:%M}–{pause.end:%H:%M} is outside the working hours")
        _refuse_overlaps([(pause.start, pause.end) for pause in self.breaks], "breaks")
        return self


def _refuse_overlaps(intervals: list[tuple[time, time]], what: str) -> None:
    ordered = sorted(intervals)
    for (_, earlier_end), (later_start, later_end) in itertools.pairwise(ordered):
        if later_start < earlier_end:
            raise ValueError(f"{what} overlap at {later_start:%H:%M}–{later_end:%H:%M}")


class DayException(StrictInput):
    """One date's own hours (`start`, `end`), or `off: true` for a day off on a working day."""

    date: date
    start: ClockTime | None = None
    end: ClockTime | None = None
    off: bool = False

    @model_validator(mode="after")
    def _hours_or_off(self) -> Self:
        if self.off:
            if self.start is not None or self.end is not None:
                raise ValueError(f"{self.date}: give either off or start and end, not both")
        elif self.start is None or self.end is None:
            raise ValueError(f"{self.date}: give start and end, or off: true")
        elif self.end <= self.start:
            raise ValueError(f"{self.date}: end {self.end:%H:%M} is not after start {self.start:%H:%M}")
        return self


class ServiceOverride(StrictInput):
    service_id: uuid.UUID
    duration_minutes: DurationMinutes | None = None
    price: Price | None = None


def _schedule_problems(
    working_hours: list[WorkingInterval] | None, days_off: list[date] | None, exceptions: list[DayException] | None
) -> None:
    for weekday in range(7):
        _refuse_overlaps(
            [(i.start, i.end) for i in working_hours or () if i.weekday == weekday],
            f"working hours of weekday {weekday}",
        )
    if days_off is not None and len(set(days_off)) != len(days_off):
        raise ValueError("days_off repeats a date")
    if exceptions is not None and len({e.date for e in exceptions}) != len(exceptions):
        raise ValueError("exceptions repeat a date")


def _overrides_problems(services: list[uuid.UUID] | None, overrides: list[ServiceOverride] | None) -> None:
    if overrides is None:
        return
    outside = [str(o.service_id) for o in overrides if services is None or o.service_id not in services]
    if outside:
        raise ValueError(f"service_overrides name services not in services: {', '.join(outside)}")
    if len({o.service_id for o in overrides}) != len(overrides):
        raise ValueError("service_overrides repeat a service")


ServiceIds = Annotated[list[uuid.UUID], Field(max_length=500)]


class StaffCreate(StrictInput):
    name: Name
    services: ServiceIds = Field(default_factory=list)
    service_overrides: list[ServiceOverride] = Field(
        default_factory=list, max_length=500, description="This member's own length or price of their services."
    )
    working_hours: list[WorkingInterval] = Field(default_factory=list, max_length=MAX_INTERVALS)
    days_off: list[date] = Field(default_factory=list, max_length=MAX_DATES)
    exceptions: list[DayException] = Field(default_factory=list, max_length=MAX_DATES)
    user_id: uuid.UUID | None = Field(
        default=None,
        description="The dashboard member this person is, if any: they are told of bookings with them "
        "(kind `booking` of their notification settings).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _schedule_problems(self.working_hours, self.days_off, self.exceptions)
        _overrides_problems(self.services, self.service_overrides)
        return self


class StaffUpdate(StrictInput):
    """Only the fields sent change; `services` and `service_overrides` are replaced together when either is
    sent (overrides of services no longer listed go)."""

    name: Name | None = None
    services: ServiceIds | None = None
    service_overrides: list[ServiceOverride] | None = Field(default=None, max_length=500)
    working_hours: list[WorkingInterval] | None = Field(default=None, max_length=MAX_INTERVALS)
    days_off: list[date] | None = Field(default=None, max_length=MAX_DATES)
    exceptions: list[DayException] | None = Field(default=None, max_length=MAX_DATES)
    user_id: uuid.UUID | None = Field(
        default=None,
        description="The dashboard member this person is (null: none): they are told of bookings with them "
        "(kind `booking` of their notification settings).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _schedule_problems(self.working_hours, self.days_off, self.exceptions)
        if self.service_overrides and self.services is None:
            raise ValueError("send services with service_overrides")
        _overrides_problems(self.services, self.service_overrides)
        return self


class ServiceOverrideRead(Output):
    service_id: uuid.UUID
    duration_minutes: int | None
    price: Decimal | None


class StaffRead(Output):
    id: uuid.UUID
    name: str
    services: list[uuid.UUID]
    service_overrides: list[ServiceOverrideRead]
    working_hours: list[WorkingInterval]
    days_off: list[date]
    exceptions: list[DayException]
    user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ResourceCreate(StrictInput):
    name: Name
    services: ServiceIds = Field(default_factory=list, description="The services that need it.")


class ResourceUpdate(StrictInput):
    name: Name | None = None
    services: ServiceIds | None = None


class ResourceRead(Output):
    id: uuid.UUID
    name: str
    services: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


Currency = Literal["RUB", "KGS", "KZT", "USD", "EUR"]
Stock = Annotated[int, Field(ge=0, le=2**31 - 1, description="None: not tracked.")]
AttributeText = Annotated[CleanText, Field(max_length=500)]
Attributes = Annotated[
    dict[Annotated[CleanText, Field(min_length=1, max_length=64)], AttributeText | int | float | bool],
    Field(max_length=50, description="Flat pairs such as size or colour: text, numbers or yes/no."),
]
PictureUrl = Annotated[AnyHttpUrl, Field(max_length=2000), PlainSerializer(str, return_type=str)]


class Variant(StrictInput):
    name: Name
    price: Price | None = Field(default=None, description="The product's price when omitted.")
    stock: Stock | None = None
    attributes: Attributes = Field(default_factory=dict)


class TourDate(StrictInput):
    start: date
    end: date
    seats: int = Field(ge=0, le=100_000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"tour ending {self.end} starts after it ends")
        return self


class ProductCreate(StrictInput):
    name: Name
    description: Description = ""
    price: Price
    currency: Currency = "RUB"
    stock: Stock | None = None
    attributes: Attributes = Field(default_factory=dict)
    pictures: list[PictureUrl] = Field(default_factory=list, max_length=20, description="http(s) addresses.")
    variants: list[Variant] = Field(default_factory=list, max_length=100)
    dates: list[TourDate] = Field(default_factory=list, max_length=500, description="A tour's departures.")


class ProductUpdate(StrictInput):
    name: Name | None = None
    description: Description | None = None
    price: Price | None = None
    currency: Currency | None = None
    stock: Stock | None = None
    attributes: Attributes | None = None
    pictures: list[PictureUrl] | None = Field(default=None, max_length=20)
    variants: list[Variant] | None = Field(default=None, max_length=100)
    dates: list[TourDate] | None = Field(default=None, max_length=500)


class VariantRead(Output):
    name: str
    price: Decimal | None
    stock: int | None
    attributes: dict[str, Any]


class ProductRead(Output):
    id: uuid.UUID
    name: str
    description: str
    price: Decimal
    currency: str
    stock: int | None
    attributes: dict[str, Any]
    pictures: list[str]
    variants: list[VariantRead]
    dates: list[TourDate]
    created_at: datetime
    updated_at: datetime


class ImportedRow(Output):
    row: int = Field(description="The row's number in the file (the header is row 1).")
    name: str
    action: Literal["create", "update"] = Field(description="A new item, or the stored one of this name changed.")
    id: uuid.UUID | None = Field(description="The item's id (none for an item a dry run would create).")


class ImportRowError(Output):
    row: int
    name: str
    problems: list[str]


class ImportReport(Output):
    kind: Literal["services", "products"]
    dry_run: bool = Field(description="Nothing was written: this is what the import would do.")
    created: int = 0
    updated: int = 0
    rows: list[ImportedRow] = Field(default_factory=list, description="The rows imported (or that would be).")
    errors: list[ImportRowError] = Field(
        default_factory=list, description="The rows refused, with why (the first 500); the others are imported."
    )
    errors_total: int = 0
    ignored_columns: list[str] = Field(default_factory=list, description="Columns of the file no field matches.")
