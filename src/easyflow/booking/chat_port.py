"""Booking's side of the agents' booking port: the dialogue state's instructions and the tools or guided flow for
a reply, and the confirmation gate. Registered on import (wiring.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import AssistantProfile, Reply
from easyflow.agents.booking_port import BookingContext, register_booking
from easyflow.agents.schemas import BOOKING_TOOLS
from easyflow.booking.backend import BackendUnavailable
from easyflow.booking.chat import BookingChat, pressed_button
from easyflow.booking.chat_backends import may_book, open_backend
from easyflow.booking.chat_tools import ConversationBookingTools
from easyflow.booking.dialogue_repository import DialogueRepository
from easyflow.booking.guided import GuidedFlow
from easyflow.booking.reminders import answer_reminder_press, reminder_press
from easyflow.conversations.repository import ConversationRepository
from easyflow.models.booking_chat import DialogueState
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

DEFAULT_TIMEZONE = "Europe/Moscow"

# What the model is told in each state unless the assistant says otherwise (state_instructions).
DEFAULT_STATE_INSTRUCTIONS: dict[DialogueState, dict[str, str]] = {
    DialogueState.greeting: {
        "ru": "Поздоровайтесь и спросите, чем помочь; если клиент хочет записаться, спросите, на какую услугу.",
        "en": "Greet the customer and ask how you can help; if they want to book, ask which service.",
    },
    DialogueState.collecting_info: {
        "ru": "Узнайте, что нужно клиенту: услугу, удобный день и время, мастера. Для записи нужны имя и телефон.",
        "en": "Find out what the customer needs: the service, a convenient day and time, the staff member. "
        "A booking needs their name and phone number.",
    },
    DialogueState.consulting: {
        "ru": "Расскажите об услугах по get_services (цены, длительность), помогите выбрать; затем предложите время.",
        "en": "Explain the services from get_services (prices, duration), help choose one, then offer times.",
    },
    DialogueState.booking: {
        "ru": "Предложите 2–4 свободных времени из get_available_slots; выбранное оформите через create_appointment.",
        "en": "Offer 2-4 free times from get_available_slots; book the chosen one with create_appointment.",
    },
    DialogueState.confirming: {
        "ru": "Запись ждёт подтверждения кнопкой. Не говорите, что запись сделана, пока клиент не подтвердил.",
        "en": "The booking awaits the customer's Confirm button. Never say it is done before they confirm.",
    },
    DialogueState.completed: {
        "ru": "Запись сделана. Ответьте на оставшиеся вопросы; перенос и отмена — через кнопки подтверждения.",
        "en": "The booking is made. Answer remaining questions; moving or cancelling also needs confirmation.",
    },
}


def state_instructions(state: DialogueState, own: dict[str, str], language: str) -> str:
    text = own.get(state.value, "").strip()
    if text:
        return text
    defaults = DEFAULT_STATE_INSTRUCTIONS[state]
    return defaults.get(language, defaults["ru"])


async def _timezone(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    tenant = await TenantRepository(session).get(tenant_id)
    return tenant.timezone if tenant and tenant.timezone else DEFAULT_TIMEZONE


class ChatBooking:
    async def context(
        self,
        session: AsyncSession,
        runtime: Runtime,
        tenant_id: uuid.UUID,
        conversation_id: uuid.UUID,
        assistant: AssistantProfile,
        language: str,
    ) -> BookingContext | None:
        if BOOKING_TOOLS not in assistant.enabled_tools:
            return None
        if not await may_book(session, tenant_id):
            return None
        try:
            async with open_backend(runtime, tenant_id) as backend:
                if backend is None or not await backend.services():
                    return None
        except BackendUnavailable as error:  # the reply goes on without booking rather than fail
            log.warning("booking.chat_backend_unavailable", tenant_id=str(tenant_id), error=error.detail)
            return None
        conversations = ConversationRepository(session, tenant_id)
        state = DialogueState(await conversations.dialogue_state(conversation_id) or DialogueState.greeting)
        if state == DialogueState.greeting:  # greeted with this reply: next time, the customer's needs
            await conversations.set_dialogue_state(conversation_id, DialogueState.collecting_info.value)
        chat = BookingChat(runtime, tenant_id, conversation_id, language, await _timezone(session, tenant_id))
        instructions = state_instructions(state, assistant.state_instructions, language)
        return BookingContext(
            dialogue_instructions=f"Booking dialogue state: {state.value}. {instructions}",
            tools=ConversationBookingTools(chat),
            guided=GuidedFlow(chat),
        )

    async def gate(
        self, runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID, texts: list[str], language: str
    ) -> Reply | None:
        reminded = await _reminder_pressed(runtime, tenant_id, conversation_id, texts, language)
        if reminded is not None:
            return reminded
        button = pressed_button(texts)
        if button is None:
            return None
        async with runtime.database.tenant_transaction(tenant_id) as session:
            # A conversation that never booked has nothing to confirm, and its "Confirm" is just words.
            if await DialogueRepository(session, tenant_id).of_conversation(conversation_id) is None:
                return None
            timezone = await _timezone(session, tenant_id)
        chat = BookingChat(runtime, tenant_id, conversation_id, language, timezone)
        pressed = await chat.press(button)
        if pressed is None:
            return None
        reply, choose_again = pressed
        return await GuidedFlow(chat).after_change(reply.text) if choose_again else reply


async def _reminder_pressed(
    runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID, texts: list[str], language: str
) -> Reply | None:
    """The answer to a reminder's button (I'll come, Cancel, Reschedule), in code like Confirm: no model decides
    whether a customer's booking is cancelled."""
    latest = next((text for text in reversed(texts) if text.strip()), "")
    if reminder_press(latest) is None:
        return None
    async with runtime.database.tenant_transaction(tenant_id) as session:
        conversation = await ConversationRepository(session, tenant_id).get(conversation_id)
        if conversation is None:
            return None
        answer = await answer_reminder_press(session, tenant_id, conversation, latest, datetime.now(UTC))
        timezone = await _timezone(session, tenant_id)
    if answer is None:
        return None
    moving = answer.reschedule
    if moving is None:
        return Reply(text=answer.text)
    chat = BookingChat(runtime, tenant_id, conversation_id, language, timezone)
    return await GuidedFlow(chat).reschedule(
        str(moving.id), str(moving.service_id), answer.service_name, str(moving.staff_id), answer.text
    )


register_booking(ChatBooking())
