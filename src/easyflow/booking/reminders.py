"""Reminding customers of their appointments: at each of the tenant's offsets (24 h and 2 h before by default) a
message in the customer's own channel, in their language, with three buttons — I'll come, Cancel, Reschedule —
that the reply pipeline answers before any assistant (`answer_reminder_press`). A sweep every minute sends what is
due, one transaction per reminder, so one that cannot go never holds back the others."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking import schemas
from easyflow.booking.appointments import Appointments
from easyflow.booking.reminder_repository import REMINDABLE, DueReminder, ReminderRepository
from easyflow.booking.repository import AppointmentRepository
from easyflow.catalogue.repository import ServiceRepository, StaffRepository
from easyflow.conversations.notices import CustomerNotices
from easyflow.conversations.ports import CHANNELS
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.kit.errors import DomainError
from easyflow.models.booking import Appointment
from easyflow.models.conversations import Conversation
from easyflow.models.tenancy import Tenant
from easyflow.tenancy.repository import TenantRepository

log = structlog.get_logger(__name__)

REMINDER_NOTICE = "booking_reminder"
REMINDERS_PER_RUN = 200
# A reminder's buttons answer it for this long; a press later is an ordinary message.
PRESS_WINDOW = timedelta(days=2)

_TEXTS = {
    "ru": {
        "reminder": "Напоминаем о записи: {service}, мастер {staff}, {when}. Ждём вас!",
        "when": "d MMMM 'в' HH:mm",
        "come": "Приду",
        "cancel": "Отменить запись",
        "reschedule": "Перенести",
        "confirmed": "Спасибо, ждём вас {when}!",
        "cancelled": "Запись на {when} отменена. Будем рады видеть вас в другой раз.",
        "reschedule_asked": "Хорошо, давайте подберём другое время для записи на {when}.",
        "gone": "Эта запись уже изменилась, поэтому кнопка больше не действует.",
    },
    "en": {
        "reminder": "A reminder of your booking: {service} with {staff}, {when}. See you then!",
        "when": "MMMM d 'at' HH:mm",
        "come": "I'll be there",
        "cancel": "Cancel booking",
        "reschedule": "Reschedule",
        "confirmed": "Thank you, see you {when}!",
        "cancelled": "Your booking for {when} is cancelled. We'd be glad to see you another time.",
        "reschedule_asked": "Sure, let's find another time for your booking of {when}.",
        "gone": "This booking has changed since, so the button no longer applies.",
    },
}


def language_for(conversation: Conversation, tenant: Tenant) -> str:
    code = conversation.language or tenant.default_language or "ru"
    return "en" if code.lower().startswith("en") else "ru"


def local_time(moment: datetime, tenant: Tenant, language: str) -> str:
    return format_datetime(moment.astimezone(ZoneInfo(tenant.timezone)), _TEXTS[language]["when"], locale=language)


def reminder_buttons(language: str) -> list[str]:
    texts = _TEXTS[language]
    return [texts["come"], texts["cancel"], texts["reschedule"]]


_PRESSES = {
    label.casefold(): action
    for texts in _TEXTS.values()
    for action, label in (("come", texts["come"]), ("cancel", texts["cancel"]), ("reschedule", texts["reschedule"]))
}


def reminder_press(text: str) -> str | None:
    """`come`, `cancel` or `reschedule` when the customer's message is one of a reminder's buttons."""
    return _PRESSES.get(" ".join(text.split()).casefold())


async def send_due_reminders(database: Database, now: datetime) -> int:
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        due = await ReminderRepository(session).due(now, limit=REMINDERS_PER_RUN)
    sent = 0
    for item in due:
        async with database.tenant_transaction(item.tenant_id) as session:
            if await _remind(session, item, now):
                sent += 1
    if sent:
        log.info("booking.reminders_sent", count=sent)
    return sent


async def _remind(session: AsyncSession, item: DueReminder, now: datetime) -> bool:
    reminders = ReminderRepository(session, item.tenant_id)
    appointment = await AppointmentRepository(session, item.tenant_id).get_for_update(item.appointment_id)
    if appointment is None or appointment.starts_at != item.starts_at or appointment.status not in REMINDABLE:
        return False
    conversation = await reminders.conversation_for(appointment, tuple(CHANNELS))
    tenant = await TenantRepository(session).get(item.tenant_id)
    if conversation is None or tenant is None:
        await reminders.claim(item, None, "unreachable", now)
        log.info("booking.reminder_unreachable", appointment_id=str(appointment.id))
        return False
    if not await reminders.claim(item, conversation.id, "sent", now):
        return False
    language = language_for(conversation, tenant)
    message = await CustomerNotices(session, item.tenant_id).send(
        conversation,
        tenant,
        text=await _reminder_text(session, appointment, tenant, language),
        notice=REMINDER_NOTICE,
        buttons=reminder_buttons(language),
        reply_to=[],
        now=now,
    )
    await reminders.set_message(item, message.id)
    return True


async def _reminder_text(session: AsyncSession, appointment: Appointment, tenant: Tenant, language: str) -> str:
    service = await ServiceRepository(session, appointment.tenant_id).get(appointment.service_id)
    staff = await StaffRepository(session, appointment.tenant_id).get(appointment.staff_id)
    return _TEXTS[language]["reminder"].format(
        service=service.name if service else "",
        staff=staff.name if staff else "",
        when=local_time(appointment.starts_at, tenant, language),
    )


@dataclass(frozen=True)
class PressAnswer:
    """What a pressed reminder button did: the text to answer with, and for Reschedule the appointment (and its
    service's name) whose new time the booking dialogue should now find."""

    text: str
    reschedule: Appointment | None = None
    service_name: str = ""


async def answer_reminder_press(
    session: AsyncSession, tenant_id: uuid.UUID, conversation: Conversation, text: str, now: datetime
) -> PressAnswer | None:
    """Answer the customer's press of a reminder's button (None: the message is not one, or no reminder in this
    conversation is recent enough to be what it answers)."""
    action = reminder_press(text)
    if action is None:
        return None
    reminder = await ReminderRepository(session, tenant_id).latest_in(conversation.id, now - PRESS_WINDOW)
    if reminder is None:
        return None
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is None:
        return None
    language = language_for(conversation, tenant)
    texts = _TEXTS[language]
    appointment = await AppointmentRepository(session, tenant_id).get_for_update(reminder.appointment_id)
    if appointment is None or appointment.starts_at != reminder.starts_at or appointment.status not in REMINDABLE:
        return PressAnswer(texts["gone"])
    when = local_time(appointment.starts_at, tenant, language)
    if action == "reschedule":
        service = await ServiceRepository(session, tenant_id).get(appointment.service_id)
        return PressAnswer(
            texts["reschedule_asked"].format(when=when),
            reschedule=appointment,
            service_name=service.name if service else "",
        )
    status = "confirmed" if action == "come" else "cancelled"
    if appointment.status != status:
        try:
            await Appointments(session, tenant_id).update(
                appointment.id, schemas.AppointmentUpdate(status=status), now=now
            )
        except DomainError:
            return PressAnswer(texts["gone"])
    return PressAnswer(texts["confirmed" if action == "come" else "cancelled"].format(when=when))
