"""Request and response bodies of the catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from easyflow.conversations.schemas import CleanText, not_blank
from easyflow.kit.schemas import Output, StrictInput

Name = Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)]
Category = Annotated[CleanText, Field(max_length=100)]
Description = Annotated[CleanText, Field(max_length=4000)]
# Prices in the API are decimal strings in major units ("1500.00"); a JSON number is read exactly as written.
Price = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
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
