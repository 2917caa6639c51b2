"""Booking without a model: a guided flow of buttons — service → staff or "anyone" → day → time → name and phone
if unknown → Confirm — where typed shortcuts («завтра в 15», «в пятницу после обеда», "next Monday at 10") stand
for the day and time buttons. Each button's label is its payload: the flow keeps what its last buttons offered
(label → choice), so only those labels choose anything, and the choice is re-checked against the backend."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from easyflow.agents.answers import Reply
from easyflow.booking.backend import BackendUnavailable, BookableService, BookingBackend, SlotTaken
from easyflow.booking.chat import BookingChat, Pending, button_key, confirmation_buttons
from easyflow.booking.chat_phrases import day_label, day_name, say, when_name
from easyflow.booking.chat_tools import normalized_phone
from easyflow.booking.shortcuts import Wanted, read_shortcut
from easyflow.kit.errors import DomainError
from easyflow.models.booking_chat import DialogueState

DAYS_AHEAD = 14
MAX_DAY_BUTTONS = 7
MAX_TIME_BUTTONS = 12
MAX_CHOICE_BUTTONS = 10
LABEL_CHARS = 30  # 2 bytes a Cyrillic letter: within Telegram's 64-byte callback data
_WANTS_TO_BOOK = re.compile(r"запи[сш]|забронир|\bbook|appointment|^/book", re.IGNORECASE)
ANYONE = "*"

Flow = dict[str, Any]


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


class GuidedFlow:
    def __init__(self, chat: BookingChat) -> None:
        self.chat = chat
        self.language = chat.language

    async def step(self, texts: list[str]) -> Reply | None:
        text = next((each.strip() for each in reversed(texts) if each.strip()), "")
        async with self.chat.dialogue() as (_, dialogue):
            flow: Flow = dict(dialogue.flow or {})
        if flow.get("step"):  # a flow speaks the language it began in, whatever language a service is named in
            self.language = str(flow.get("language", self.language))
        try:
            async with self.chat.backend() as backend:
                if backend is None:
                    return None
                return await self._react(backend, flow, text)
        except BackendUnavailable:
            return None  # the knowledge base still answers; booking waits for the system to come back
        except DomainError as error:  # e.g. the service was removed while the customer chose: start again
            return await self._save({}, Reply(text=say("failed", self.language, detail=error.detail)))

    async def _react(self, backend: BookingBackend, flow: Flow, text: str) -> Reply | None:
        step = flow.get("step")
        chosen = flow.get("options", {}).get(button_key(text)) if step else None
        if chosen is not None:
            return await self._chosen(backend, flow, str(chosen))
        if step == "name":
            name = " ".join(text.replace("\x00", "").split())[:100]
            if not name or len(name) > 60:
                return await self._save(flow, Reply(text=say("ask_name", self.language)))
            flow["name"] = name
            return await self._ask_details(backend, flow)
        if step == "phone":
            phone = normalized_phone(text)
            if phone is None:
                return await self._save(flow, Reply(text=say("bad_phone", self.language)))
            flow["phone"] = phone
            return await self._ask_details(backend, flow)
        if step in ("staff", "day", "time"):
            wanted = read_shortcut(text, self.chat.timezone, datetime.now(UTC))
            if wanted is not None:
                if step == "staff":
                    flow["staff_id"] = None
                return await self._offer_times(backend, flow, wanted)
        if _WANTS_TO_BOOK.search(text):
            return await self._start(backend)
        return None

    async def _chosen(self, backend: BookingBackend, flow: Flow, choice: str) -> Reply | None:
        kind, _, value = choice.partition(":")
        if kind == "service":
            service = next((each for each in await backend.services() if each.id == value), None)
            return await self._start(backend) if service is None else await self._choose_service(backend, service)
        if kind == "staff":
            flow["staff_id"] = None if value == ANYONE else value
            return await self._offer_days(backend, flow)
        if kind == "day":
            return await self._offer_times(backend, flow, Wanted(date.fromisoformat(value)))
        start, _, staff_id = value.partition("|")
        flow["start"], flow["slot_staff"] = start, staff_id
        return await self._ask_details(backend, flow)

    async def _start(self, backend: BookingBackend) -> Reply | None:
        services = await backend.services()
        if not services:
            return None
        if len(services) == 1:
            return await self._choose_service(backend, services[0])
        shown = services[:MAX_CHOICE_BUTTONS]
        options = {button_key(_label(each.name)): f"service:{each.id}" for each in shown}
        flow: Flow = {"step": "service", "options": options}
        reply = Reply(text=say("choose_service", self.language), buttons=[_label(each.name) for each in shown])
        return await self._save(flow, reply, DialogueState.consulting)

    async def _choose_service(self, backend: BookingBackend, service: BookableService) -> Reply:
        flow: Flow = {"service_id": service.id, "service_name": service.name, "staff_id": None}
        staff = (await backend.staff(service.id))[:MAX_CHOICE_BUTTONS]
        if len(staff) <= 1:
            return await self._offer_days(backend, flow)
        anyone = say("anyone", self.language)
        labels = [_label(each.name) for each in staff] + [anyone]
        options = {button_key(_label(each.name)): f"staff:{each.id}" for each in staff}
        options[button_key(anyone)] = f"staff:{ANYONE}"
        flow |= {"step": "staff", "options": options}
        return await self._save(flow, Reply(text=say("choose_staff", self.language), buttons=labels))

    async def _offer_days(self, backend: BookingBackend, flow: Flow, prefix: str = "") -> Reply:
        today = datetime.now(UTC).astimezone(self._zone).date()
        slots = await backend.slots(
            flow["service_id"], flow.get("staff_id"), today, today + timedelta(days=DAYS_AHEAD - 1)
        )
        days = sorted({slot.start.astimezone(self._zone).date() for slot in slots})[:MAX_DAY_BUTTONS]
        if not days:
            return await self._save({}, Reply(text=f"{prefix}{say('no_days', self.language)}"))
        labels = [day_label(day, self.language) for day in days]
        options = {button_key(label): f"day:{day.isoformat()}" for label, day in zip(labels, days, strict=True)}
        flow |= {"step": "day", "options": options}
        text = f"{prefix}{say('choose_day', self.language)}"
        return await self._save(flow, Reply(text=text, buttons=labels), DialogueState.booking)

    async def _offer_times(self, backend: BookingBackend, flow: Flow, wanted: Wanted) -> Reply:
        day = wanted.day or datetime.now(UTC).astimezone(self._zone).date()
        now = datetime.now(UTC)
        slots = [
            slot for slot in await backend.slots(flow["service_id"], flow.get("staff_id"), day, day) if slot.start > now
        ]
        by_start: dict[datetime, str] = {}
        for slot in slots:
            by_start.setdefault(slot.start, slot.staff_id)  # "anyone": the first free one at that time
        fitting = [start for start in by_start if wanted.fits(start.astimezone(self._zone))]
        if wanted.at is not None and len(fitting) == 1:
            flow["start"], flow["slot_staff"] = fitting[0].isoformat(), by_start[fitting[0]]
            return await self._ask_details(backend, flow)
        prefix = ""
        if not fitting:
            if not by_start:
                return await self._offer_days(backend, flow, prefix=say("nothing_then", self.language) + "\n")
            prefix = say("nothing_then", self.language) + "\n"
            fitting = list(by_start)
        shown = sorted(fitting)[:MAX_TIME_BUTTONS]
        labels = [start.astimezone(self._zone).strftime("%H:%M") for start in shown]
        options = {
            button_key(label): f"time:{start.isoformat()}|{by_start[start]}"
            for label, start in zip(labels, shown, strict=True)
        }
        flow |= {"step": "time", "options": options, "day": day.isoformat()}
        text = prefix + say("choose_time", self.language, day=day_name(day, self.language))
        return await self._save(flow, Reply(text=text, buttons=labels), DialogueState.booking)

    async def _ask_details(self, backend: BookingBackend, flow: Flow) -> Reply:
        """Name and phone when the customer is not known yet, then the booking to confirm."""
        if flow.get("reschedule_id"):
            return await self._propose_move(backend, flow)
        client = await self.chat.known_client()
        if client is None and not flow.get("name"):
            flow |= {"step": "name", "options": {}}
            return await self._save(flow, Reply(text=say("ask_name", self.language)), DialogueState.collecting_info)
        if client is None and not flow.get("phone"):
            flow |= {"step": "phone", "options": {}}
            return await self._save(flow, Reply(text=say("ask_phone", self.language)), DialogueState.collecting_info)
        if client is None:
            client = await backend.client_by_phone(flow["phone"])
            if client is not None:
                await self.chat.remember_client(client)
        start = datetime.fromisoformat(flow["start"])
        try:
            hold = await backend.hold(flow["service_id"], flow["slot_staff"], start, str(self.chat.conversation_id))
        except SlotTaken:
            return await self._offer_times(backend, flow, Wanted(start.astimezone(self._zone).date()))
        staff_name = next((s.name for s in await backend.staff(flow["service_id"]) if s.id == flow["slot_staff"]), "")
        summary = say(
            "appointment",
            self.language,
            service=flow["service_name"],
            when=when_name(start.astimezone(self._zone), self.language),
            staff=staff_name or "—",
        )
        args = {"service_id": flow["service_id"], "staff_id": flow["slot_staff"], "start": flow["start"]}
        args |= {"client_id": client.id} if client else {"name": flow["name"], "phone": flow["phone"]}
        # The flow goes back to its start: Change offers the days again, from this service and staff.
        await self._save(
            {key: flow[key] for key in ("service_id", "service_name", "staff_id") if key in flow} | {"step": "confirm"},
            Reply(text=""),
        )
        await self.chat.ask_to_confirm(Pending("create_appointment", args, summary, hold_id=hold.id))
        return Reply(text=say("propose", self.language, summary=summary), buttons=confirmation_buttons(self.language))

    async def reschedule(
        self, appointment_id: str, service_id: str, service_name: str, staff_id: str, said: str
    ) -> Reply:
        """Find a new time for a booked appointment (a reminder's Reschedule): its service and staff member's days,
        then times; the move itself waits for Confirm like any write."""
        flow: Flow = {
            "service_id": service_id,
            "service_name": service_name,
            "staff_id": staff_id,
            "reschedule_id": appointment_id,
        }
        async with self.chat.backend() as backend:
            if backend is None:
                return Reply(text=said)
            return await self._offer_days(backend, flow, prefix=said + "\n")

    async def _propose_move(self, backend: BookingBackend, flow: Flow) -> Reply:
        # No hold: the appointment itself occupies its member's time, and a hold beside it could overlap it.
        start = datetime.fromisoformat(flow["start"])
        staff_name = next((s.name for s in await backend.staff(flow["service_id"]) if s.id == flow["slot_staff"]), "")
        summary = say(
            "appointment",
            self.language,
            service=flow["service_name"],
            when=when_name(start.astimezone(self._zone), self.language),
            staff=staff_name or "—",
        )
        kept = ("service_id", "service_name", "staff_id", "reschedule_id")
        await self._save({key: flow[key] for key in kept if key in flow} | {"step": "confirm"}, Reply(text=""))
        args = {"appointment_id": flow["reschedule_id"], "start": flow["start"]}
        await self.chat.ask_to_confirm(Pending("reschedule_appointment", args, summary))
        return Reply(text=say("propose", self.language, summary=summary), buttons=confirmation_buttons(self.language))

    async def after_change(self, said: str) -> Reply:
        """What Change leads to: the days again when the flow knows its service."""
        async with self.chat.dialogue() as (_, dialogue):
            flow: Flow = dict(dialogue.flow or {})
        if not flow.get("service_id"):
            return Reply(text=said)
        async with self.chat.backend() as backend:
            if backend is None:
                return Reply(text=said)
            return await self._offer_days(backend, flow, prefix=said + "\n")

    async def _save(self, flow: Flow, reply: Reply, state: DialogueState | None = None) -> Reply:
        async with self.chat.dialogue() as (session, dialogue):
            dialogue.flow = flow | {"language": self.language} if flow else {}
            if state is not None:
                await self.chat.set_state(session, state)
        return reply

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.chat.timezone)
