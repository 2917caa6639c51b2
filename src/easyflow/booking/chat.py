"""One conversation's booking: its dialogue state, the write waiting for the customer's Confirm, and running that
write once they press it. Neither the model's tools nor the guided flow ever write: they describe the write
(`Pending`), and only `BookingChat.press` — called by the reply pipeline before any answerer, when the customer's
message is the Confirm button — runs it, once, and only while it has not expired (the slot is held that long)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import Reply
from easyflow.booking.backend import BookedService, BookingBackend, BookingRequest, Client, SlotTaken
from easyflow.booking.chat_backends import open_backend
from easyflow.booking.chat_phrases import PHRASES, say
from easyflow.booking.dialogue_repository import DialogueRepository
from easyflow.conversations.repository import ConversationRepository
from easyflow.kit.errors import DomainError
from easyflow.models.booking_chat import BookingDialogue, DialogueState

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

# How long the customer has to press Confirm; the offered slot is held as long.
HOLD_MINUTES = 5
# Telegram returns at most 64 bytes of a button's callback data: labels are compared as far as it keeps them.
CALLBACK_BYTES = 64


def button_key(label: str) -> str:
    return label.strip().encode()[:CALLBACK_BYTES].decode(errors="ignore").casefold()


_CONFIRM = {button_key(label) for label in PHRASES["confirm"].values()}
_CHANGE = {button_key(label) for label in PHRASES["change"].values()}


def pressed_button(texts: list[str]) -> str | None:
    """ "confirm" or "change" when the customer's latest message is that button, else None."""
    latest = next((text for text in reversed(texts) if text.strip()), "")
    key = button_key(latest)
    if key in _CONFIRM:
        return "confirm"
    if key in _CHANGE:
        return "change"
    return None


def confirmation_buttons(language: str) -> list[str]:
    return [say("confirm", language), say("change", language)]


@dataclass(frozen=True)
class Pending:
    """A write the customer was asked to confirm: what it does (`kind`, `args`) and how it was put to them."""

    kind: str  # create_client, create_appointment, cancel_appointment, reschedule_appointment
    args: dict[str, Any]
    summary: str
    hold_id: str | None = None
    # Also the booking's idempotency key: a retried reply job books once.
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Pending:
        return cls(
            kind=str(stored["kind"]),
            args=dict(stored["args"]),
            summary=str(stored["summary"]),
            hold_id=stored.get("hold_id"),
            token=str(stored["token"]),
        )


class BookingChat:
    def __init__(
        self, runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID, language: str, timezone: str
    ) -> None:
        self.runtime = runtime
        self.tenant_id = tenant_id
        self.conversation_id = conversation_id
        self.language = language
        self.timezone = timezone

    @asynccontextmanager
    async def dialogue(self) -> AsyncIterator[tuple[AsyncSession, BookingDialogue]]:
        """The conversation's dialogue row, locked, in a short transaction of its own."""
        async with self.runtime.database.tenant_transaction(self.tenant_id) as session:
            yield session, await DialogueRepository(session, self.tenant_id).locked(self.conversation_id)

    def backend(self) -> AbstractAsyncContextManager[BookingBackend | None]:
        return open_backend(self.runtime, self.tenant_id)

    async def set_state(self, session: AsyncSession, state: DialogueState) -> None:
        await ConversationRepository(session, self.tenant_id).set_dialogue_state(self.conversation_id, state.value)

    async def known_client(self) -> Client | None:
        async with self.dialogue() as (_, dialogue):
            stored = dialogue.client
        return Client(stored["id"], stored["name"], stored.get("phone")) if stored else None

    async def own_appointment_ids(self) -> set[str] | None:
        """The appointments this conversation may show, cancel or move: all its client's (None) when the client
        was created here; else only those booked here. Knowing a phone number is not knowing its owner."""
        async with self.dialogue() as (_, dialogue):
            stored = dialogue.client or {}
        return None if stored.get("created_here") else set(stored.get("booked_here", []))

    async def remember_client(self, client: Client, *, created_here: bool = False, booked: Sequence[str] = ()) -> None:
        async with self.dialogue() as (_, dialogue):
            stored = dialogue.client if dialogue.client and dialogue.client.get("id") == client.id else {}
            dialogue.client = asdict(client) | {
                "created_here": created_here or bool(stored.get("created_here")),
                "booked_here": [*stored.get("booked_here", []), *booked],
            }

    async def ask_to_confirm(self, pending: Pending) -> None:
        """Store `pending` as the one write awaiting Confirm (an older one is dropped, its hold released)."""
        async with self.dialogue() as (session, dialogue):
            replaced = dialogue.pending
            dialogue.pending = asdict(pending)
            dialogue.pending_expires_at = datetime.now(UTC) + timedelta(minutes=HOLD_MINUTES)
            await self.set_state(session, DialogueState.confirming)
        if replaced and replaced.get("hold_id"):
            await self.release(str(replaced["hold_id"]))

    async def release(self, hold_id: str) -> None:
        async with self.backend() as backend:
            if backend is not None:
                await backend.release(hold_id)

    async def press(self, button: str) -> tuple[Reply, bool] | None:
        """The customer pressed Confirm or Change: run the pending write (Confirm, in time) or drop it. With the
        reply, whether the customer should choose a time again (changed, expired, or taken meanwhile). None for
        a Change with nothing pending: the word is the answerer's to understand."""
        now = datetime.now(UTC)
        async with self.dialogue() as (session, dialogue):
            stored, expires_at = dialogue.pending, dialogue.pending_expires_at
            # Taken out first: a second press (or a retried job) finds nothing left to run.
            dialogue.pending, dialogue.pending_expires_at = None, None
            if stored is not None:
                await self.set_state(session, DialogueState.booking)
        pending = Pending.of(stored) if stored is not None else None
        if pending is None:
            return (Reply(text=say("nothing_to_confirm", self.language)), False) if button == "confirm" else None
        if button == "change" or expires_at is None or expires_at <= now:
            if pending.hold_id:
                await self.release(pending.hold_id)
            return Reply(text=say("changed" if button == "change" else "expired", self.language)), True
        return await self._run(pending)

    async def _run(self, pending: Pending) -> tuple[Reply, bool]:
        async with self.backend() as backend:
            if backend is None:
                return Reply(text=say("failed", self.language, detail=say("no_services", self.language))), False
            try:
                text = await self._write(backend, pending)
            except SlotTaken:
                return Reply(text=say("slot_taken", self.language)), True
            except DomainError as error:
                log.info("booking.chat_write_refused", kind=pending.kind, error=error.detail)
                return Reply(text=say("failed", self.language, detail=error.detail)), False
        async with self.dialogue() as (session, _):
            await self.set_state(session, DialogueState.completed)
        return Reply(text=text), False

    async def _write(self, backend: BookingBackend, pending: Pending) -> str:
        args = pending.args
        if pending.kind == "create_client":
            client = await self._client(backend, args["name"], args["phone"])
            return say("client_saved", self.language, name=client.name)
        if pending.kind == "create_appointment":
            client = (
                Client(args["client_id"], args.get("name", ""), args.get("phone"))
                if args.get("client_id")
                else await self._client(backend, args["name"], args["phone"])
            )
            appointments = await backend.book(
                BookingRequest(
                    services=(BookedService(args["service_id"], args.get("staff_id")),),
                    start=datetime.fromisoformat(args["start"]),
                    client=client,
                    idempotency_key=pending.token,
                    conversation_id=str(self.conversation_id),
                    hold_id=pending.hold_id,  # the held time becomes the booking itself
                )
            )
            await self.remember_client(client, booked=[each.id for each in appointments])
            return say("booked", self.language, summary=pending.summary)
        if pending.kind == "cancel_appointment":
            await backend.cancel(args["appointment_id"])
            return say("cancelled", self.language, summary=pending.summary)
        if pending.kind == "reschedule_appointment":
            await backend.reschedule(args["appointment_id"], datetime.fromisoformat(args["start"]))
            return say("rescheduled", self.language, summary=pending.summary)
        raise ValueError(f"unknown booking write {pending.kind!r}")

    async def _client(self, backend: BookingBackend, name: str, phone: str) -> Client:
        existing = await backend.client_by_phone(phone)
        client = existing or await backend.create_client(name, phone)
        await self.remember_client(client, created_here=existing is None)
        return client
