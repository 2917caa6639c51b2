"""The port through which the reply pipeline reaches booking: the dialogue state's instructions and the tools
(or, without a model, the guided flow) for a reply, and the confirmation gate that runs a write the customer
confirmed before any answerer is asked. The agents own this interface; booking implements it and registers
itself (`register_booking`), so neither the pipeline nor the agents import booking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import AssistantProfile, BookingTools, GuidedBooking, Reply

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


@dataclass(frozen=True)
class BookingContext:
    dialogue_instructions: str
    tools: BookingTools | None  # for a model
    guided: GuidedBooking | None  # for the offline answerer


class BookingPort(Protocol):
    async def context(
        self,
        session: AsyncSession,
        runtime: Runtime,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID,
        assistant: AssistantProfile,
        language: str,
    ) -> BookingContext | None:
        """None when the assistant has no booking tools or the tenant takes no bookings."""
        ...

    async def gate(
        self, runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID, texts: list[str], language: str
    ) -> Reply | None:
        """The reply when the customer pressed Confirm or Change (the confirmed write has run), else None."""
        ...


_BOOKING: list[BookingPort] = []


def register_booking(port: BookingPort) -> None:
    _BOOKING[:] = [port]


def booking() -> BookingPort | None:
    return _BOOKING[0] if _BOOKING else None
