"""What the pipeline gives an answerer, and what it gets back."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

Speaker = Literal["contact", "assistant", "operator", "system"]


@dataclass(frozen=True)
class Picture:
    """A picture the customer sent, for models that can look at it."""

    data: bytes
    media_type: str


@dataclass(frozen=True)
class AttachedFile:
    """A file that came with a turn, named to the model (pictures it may see come as `Picture`s)."""

    kind: str
    name: str


@dataclass(frozen=True)
class Turn:
    role: Speaker
    text: str
    attachments: list[AttachedFile] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)


@dataclass(frozen=True)
class AssistantProfile:
    """The assistant's configuration, with its API key already decrypted."""

    id: uuid.UUID
    name: str
    instructions: str
    language: str
    greeting: str
    provider: str
    model_name: str
    base_url: str | None
    api_key: str | None
    temperature: float
    max_tokens: int
    input_price_per_million: float
    output_price_per_million: float
    enabled_tools: list[str]
    sees_pictures: bool = False
    tone: str = "neutral"
    # Its monthly budget is spent: the offline answerer stands in for the model until the month ends.
    over_budget: bool = False
    # The model may call `handoff(reason)` to pass the conversation to a person.
    may_hand_off: bool = True
    # Its own instructions per booking dialogue state (state -> text).
    state_instructions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DealContext:
    """The customer's deal as the assistant is told of it: where it is in the funnel and what the business
    wants done at that stage."""

    title: str
    stage: str
    stage_instructions: str
    qualification: dict[str, str]
    # The stages the assistant may move the deal to (forward ones, unless the business allows going back).
    next_stages: list[str]


class FunnelTools(Protocol):
    """What the model may do with the customer's deal (the CRM implements it, bound to one conversation)."""

    async def get_deal(self) -> dict[str, Any]: ...

    async def update_qualification(self, needs: str | None, budget: str | None, dates: str | None) -> str: ...

    async def move_deal_stage(self, stage: str, reason: str) -> str: ...

    async def create_task(self, title: str, due_in_hours: int | None) -> str: ...


class BookingTools(Protocol):
    """What the model may do about appointments, bound to one conversation (booking/chat.py implements it).
    A write only records what would be done and returns that text: it runs when the customer presses Confirm."""

    async def get_services(self) -> list[dict[str, Any]]: ...

    async def get_available_slots(
        self, service_id: str, staff_id: str | None, first_day: str, last_day: str | None
    ) -> list[dict[str, Any]] | str: ...

    async def get_client_by_phone(self, phone: str) -> dict[str, Any]: ...

    async def create_client(self, name: str, phone: str) -> str: ...

    async def create_appointment(
        self, service_id: str, start: str, staff_id: str | None, client_name: str | None, client_phone: str | None
    ) -> str: ...

    async def cancel_appointment(self, appointment_id: str) -> str: ...

    async def reschedule_appointment(self, appointment_id: str, start: str) -> str: ...

    async def get_my_appointments(self) -> list[dict[str, Any]] | str: ...

    def confirmation_buttons(self) -> list[str]:
        """Confirm and Change, when a write of this reply awaits the customer's confirmation; else none."""
        ...


class GuidedBooking(Protocol):
    """Booking without a model: the reply to the customer's messages when they are a step of the guided flow
    (or start it), else None."""

    async def step(self, texts: list[str]) -> Reply | None: ...


@dataclass(frozen=True)
class PricedItem:
    """A product or service of the catalogue with its price: a fixed one, a range (either end may be open), or
    none (priced on the spot)."""

    name: str
    price: Decimal | None
    price_from: Decimal | None
    price_to: Decimal | None
    currency: str
    stock: int | None = None  # products only; None: not tracked


class CatalogueTools(Protocol):
    """What the assistant may read of the business's catalogue (the catalogue implements it, bound to a tenant)."""

    async def search_products(self, query: str) -> list[dict[str, Any]]: ...

    async def priced(self, query: str, limit: int) -> list[PricedItem]: ...


@dataclass(frozen=True)
class ReplyRequest:
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    assistant: AssistantProfile
    tenant_facts: str
    language: str
    summary: str
    history: list[Turn]  # earlier turns inside the token budget, oldest first
    new_messages: list[Turn]  # the customer's messages this reply answers, oldest first
    deal: DealContext | None = None
    funnel: FunnelTools | None = None  # offered to the model when the assistant has the `crm` tools
    # Offered to the model, and read by the offline answerer for prices, when it has the `catalogue` tools.
    catalogue: CatalogueTools | None = None
    # Offered to the model when the assistant has the `booking` tools and the tenant takes bookings.
    booking: BookingTools | None = None
    # The same without a model: the guided flow of buttons.
    guided_booking: GuidedBooking | None = None
    # The dialogue state's instructions (the assistant's own or the default), for the model.
    dialogue_instructions: str = ""


@dataclass(frozen=True)
class Citation:
    document: str
    section: str
    chunk_id: str

    def as_dict(self) -> dict[str, str]:
        return {"document": self.document, "section": self.section, "chunk_id": self.chunk_id}


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    model: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": round(self.cost, 6),
            "model": self.model,
        }


# Why an answerer asks for a person: it found no answer, the model decided so, or the model failed.
HandoffTrigger = Literal["no_answer", "model", "failure"]


@dataclass(frozen=True)
class HandoffRequest:
    trigger: HandoffTrigger
    reason: str
    team: str | None = None  # the team the model named, if any


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    usage: Usage | None = None
    # The assistant could not help well: a person should take over (if the assistant's rules say so).
    handoff: HandoffRequest | None = None


# Receives the reply's text as written so far, while the model is still writing it.
DraftSink = Callable[[str], Awaitable[None]]


class Answerer(Protocol):
    async def answer(self, request: ReplyRequest, on_draft: DraftSink | None = None) -> Reply: ...
