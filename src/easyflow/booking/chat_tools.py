"""The model's booking tools, bound to one conversation. Reads answer at once; every write (a client, a booking,
a cancellation, a move) is only described and stored for the customer's Confirm (`BookingChat.ask_to_confirm`),
and the reply then carries the Confirm / Change buttons. Appointments the model may cancel or move are only those
of the client this conversation is known to be."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from easyflow.booking.backend import Appointment, BookableService, BookingBackend, SlotTaken
from easyflow.booking.chat import BookingChat, Pending, confirmation_buttons
from easyflow.booking.chat_phrases import say, when_name
from easyflow.crm.phones import normalize_phone
from easyflow.kit.errors import DomainError
from easyflow.models.booking_chat import DialogueState

MAX_SLOTS_SHOWN = 30
MAX_DAYS_ASKED = 31
MAX_PHONE_CHARS = 40


def normalized_phone(text: str) -> str | None:
    """E.164 from what a customer types («8 900 123-45-67», "+44 7700 900123"), or None."""
    return normalize_phone(text.strip()) if len(text) <= MAX_PHONE_CHARS else None


class ConversationBookingTools:
    def __init__(self, chat: BookingChat) -> None:
        self.chat = chat
        self.asked_to_confirm = False

    def confirmation_buttons(self) -> list[str]:
        return confirmation_buttons(self.chat.language) if self.asked_to_confirm else []

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.chat.timezone))

    def _when(self, text: str) -> datetime | None:
        """An aware time from the model's ISO text (a naive one is in the tenant's timezone)."""
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.chat.timezone))

    async def _state(self, state: DialogueState) -> None:
        async with self.chat.dialogue() as (session, _):
            await self.chat.set_state(session, state)

    async def get_services(self) -> list[dict[str, Any]]:
        async with self.chat.backend() as backend:
            services = await backend.services() if backend else []
        await self._state(DialogueState.consulting)
        return [_service(service) for service in services]

    async def get_available_slots(
        self, service_id: str, staff_id: str | None, first_day: str, last_day: str | None
    ) -> list[dict[str, Any]] | str:
        try:
            first = date.fromisoformat(first_day.strip())
            last = date.fromisoformat(last_day.strip()) if last_day else first
        except ValueError:
            return "Give days as YYYY-MM-DD."
        if last < first or (last - first).days >= MAX_DAYS_ASKED:
            return f"Ask for at most {MAX_DAYS_ASKED} days, first_day not after last_day."
        async with self.chat.backend() as backend:
            if backend is None:
                return "Booking is not available."
            try:
                slots = await backend.slots(service_id, staff_id or None, first, last)
            except DomainError as error:
                return f"Not available: {error.detail}"
        await self._state(DialogueState.booking)
        return [
            {"start": self._local(slot.start).isoformat(), "staff_id": slot.staff_id}
            for slot in slots[:MAX_SLOTS_SHOWN]
        ]

    async def get_client_by_phone(self, phone: str) -> dict[str, Any]:
        normalized = normalized_phone(phone)
        if normalized is None:
            return {"found": False, "note": "Not a phone number; ask the customer for it in full."}
        async with self.chat.backend() as backend:
            client = await backend.client_by_phone(normalized) if backend else None
        if client is None:
            return {"found": False, "phone": normalized}
        await self.chat.remember_client(client)
        await self._state(DialogueState.collecting_info)
        return {"found": True, "name": client.name}

    async def create_client(self, name: str, phone: str) -> str:
        cleaned, normalized = _name(name), normalized_phone(phone)
        if not cleaned or normalized is None:
            return "A client needs a name and a full phone number; ask the customer."
        summary = say("client", self.chat.language, name=cleaned, phone=normalized)
        return await self._ask(Pending("create_client", {"name": cleaned, "phone": normalized}, summary))

    async def create_appointment(
        self, service_id: str, start: str, staff_id: str | None, client_name: str | None, client_phone: str | None
    ) -> str:
        moment = self._when(start)
        if moment is None:
            return "start must be an ISO date and time, e.g. 2026-12-11T15:00."
        client = await self.chat.known_client()
        name, phone = _name(client_name or ""), normalized_phone(client_phone or "")
        if client is None and (not name or phone is None):
            return "Ask the customer for their name and phone number first (or find them with get_client_by_phone)."
        async with self.chat.backend() as backend:
            if backend is None:
                return "Booking is not available."
            try:
                service, slot_staff = await _bookable(backend, service_id, staff_id or None, moment, self.chat)
                if service is None or slot_staff is None:
                    return "That time is not free for this service; offer times from get_available_slots."
                hold = await backend.hold(service.id, slot_staff, moment, str(self.chat.conversation_id))
            except SlotTaken:
                return "That time was just taken; offer another from get_available_slots."
            except DomainError as error:
                return f"Not possible: {error.detail}"
            staff_name = next((s.name for s in await backend.staff(service.id) if s.id == slot_staff), "")
        args = {"service_id": service.id, "staff_id": slot_staff, "start": moment.isoformat()}
        args |= {"client_id": client.id} if client else {"name": name, "phone": phone or ""}
        summary = say(
            "appointment",
            self.chat.language,
            service=service.name,
            when=when_name(self._local(moment), self.chat.language),
            staff=staff_name or "—",
        )
        return await self._ask(Pending("create_appointment", args, summary, hold_id=hold.id))

    async def cancel_appointment(self, appointment_id: str) -> str:
        appointment = await self._own(appointment_id)
        if isinstance(appointment, str):
            return appointment
        summary = say("cancel", self.chat.language, summary=self._describe(appointment))
        return await self._ask(Pending("cancel_appointment", {"appointment_id": appointment.id}, summary))

    async def reschedule_appointment(self, appointment_id: str, start: str) -> str:
        appointment = await self._own(appointment_id)
        if isinstance(appointment, str):
            return appointment
        moment = self._when(start)
        if moment is None:
            return "start must be an ISO date and time, e.g. 2026-12-11T15:00."
        summary = say(
            "reschedule",
            self.chat.language,
            when=when_name(self._local(moment), self.chat.language),
            summary=self._describe(appointment),
        )
        args = {"appointment_id": appointment.id, "start": moment.isoformat()}
        return await self._ask(Pending("reschedule_appointment", args, summary))

    async def get_my_appointments(self) -> list[dict[str, Any]] | str:
        client = await self.chat.known_client()
        if client is None:
            return "The customer is not known yet: ask for their phone number and call get_client_by_phone."
        appointments = await self._appointments_of(client.id)
        return [
            {
                "id": each.id,
                "service": each.service_name,
                "staff": each.staff_name,
                "start": self._local(each.start).isoformat(),
                "status": each.status,
            }
            for each in appointments
        ]

    async def _own(self, appointment_id: str) -> Appointment | str:
        client = await self.chat.known_client()
        if client is None:
            return "The customer is not known yet: ask for their phone number and call get_client_by_phone."
        appointments = await self._appointments_of(client.id)
        found = next((each for each in appointments if each.id == appointment_id.strip()), None)
        return found or "No such appointment of this customer; see get_my_appointments."

    async def _appointments_of(self, client_id: str) -> list[Appointment]:
        own = await self.chat.own_appointment_ids()
        async with self.chat.backend() as backend:
            appointments = await backend.client_appointments(client_id) if backend else []
        return [each for each in appointments if own is None or each.id in own]

    def _describe(self, appointment: Appointment) -> str:
        when = when_name(self._local(appointment.start), self.chat.language)
        return ", ".join(part for part in (appointment.service_name, when, appointment.staff_name) if part)

    async def _ask(self, pending: Pending) -> str:
        await self.chat.ask_to_confirm(pending)
        self.asked_to_confirm = True
        buttons = " / ".join(confirmation_buttons(self.chat.language))
        return (
            f"Not done yet: awaiting the customer's confirmation. Show them exactly this: «{pending.summary}». "
            f"The buttons {buttons} are added to your reply automatically; do not say it is done."
        )


async def _bookable(
    backend: BookingBackend, service_id: str, staff_id: str | None, moment: datetime, chat: BookingChat
) -> tuple[BookableService | None, str | None]:
    """The service and the staff member free at `moment` for it (the one asked for, or anyone), or Nones."""
    service = next((each for each in await backend.services() if each.id == service_id.strip()), None)
    if service is None:
        return None, None
    day = moment.astimezone(ZoneInfo(chat.timezone)).date()
    slots = await backend.slots(service.id, staff_id, day, day)
    free = next((slot for slot in slots if slot.start == moment), None)
    return service, free.staff_id if free else None


def _name(text: str) -> str:
    return " ".join(text.replace("\x00", "").split())[:100]


def _service(service: BookableService) -> dict[str, Any]:
    price = (
        str(service.price)
        if service.price is not None
        else (f"{service.price_from}–{service.price_to}" if service.price_from is not None else None)
    )
    return {
        "id": service.id,
        "name": service.name,
        "category": service.category,
        "duration_minutes": service.duration_minutes,
        "price": price,
        "description": service.description[:300],
    }
