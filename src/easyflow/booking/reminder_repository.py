"""Every SQL statement of appointment reminders: which are due across tenants, claiming one, and where its
customer can be written to."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.models.booking import (
    DEFAULT_REMINDER_OFFSETS,
    Appointment,
    AppointmentReminder,
    AppointmentStatus,
    BookingSettings,
)
from easyflow.models.conversations import Conversation

REMINDABLE = (AppointmentStatus.pending.value, AppointmentStatus.confirmed.value)
# The latest a reminder may still go out after its moment (a worker that was down): later, a "24 hours before"
# message would tell the customer something false, and the next offset's reminder takes over.
GRACE = timedelta(hours=1)
LONGEST_OFFSET = timedelta(days=14)


@dataclass(frozen=True)
class DueReminder:
    tenant_id: uuid.UUID
    appointment_id: uuid.UUID
    offset_minutes: int
    starts_at: datetime


class ReminderRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None = None) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def due(self, now: datetime, limit: int) -> Sequence[DueReminder]:
        """Every tenant's reminders whose moment has come (within the grace) and that were not sent for this start
        yet; a moment that passed before the appointment was booked is not due (nobody is reminded of what they
        booked a minute ago). Called in system scope."""
        offsets = (
            func.unnest(
                func.coalesce(
                    BookingSettings.reminder_offsets_minutes,
                    cast(literal(list(DEFAULT_REMINDER_OFFSETS)), ARRAY(Integer)),
                )
            )
            .table_valued("offset_minutes")
            .render_derived(name="offsets")
        )
        moment = Appointment.starts_at - func.make_interval(0, 0, 0, 0, 0, offsets.c.offset_minutes)
        sent = exists().where(
            AppointmentReminder.tenant_id == Appointment.tenant_id,
            AppointmentReminder.appointment_id == Appointment.id,
            AppointmentReminder.offset_minutes == offsets.c.offset_minutes,
            AppointmentReminder.starts_at == Appointment.starts_at,
        )
        statement = (
            select(Appointment.tenant_id, Appointment.id, offsets.c.offset_minutes, Appointment.starts_at)
            .select_from(Appointment)
            .outerjoin(BookingSettings, BookingSettings.tenant_id == Appointment.tenant_id)
            .join(offsets, literal(True))
            .where(
                Appointment.status.in_(REMINDABLE),
                Appointment.starts_at > now,
                Appointment.starts_at <= now + LONGEST_OFFSET + GRACE,
                moment <= now,
                moment > now - GRACE,
                moment > Appointment.created_at,
                ~sent,
            )
            .order_by(moment)
            .limit(limit)
        )
        return [DueReminder(*row) for row in (await self.session.execute(statement)).all()]

    async def claim(self, item: DueReminder, conversation_id: uuid.UUID | None, outcome: str, now: datetime) -> bool:
        """Record the reminder before it is sent, in the sending transaction: False when another worker did."""
        statement = (
            insert(AppointmentReminder)
            .values(
                tenant_id=item.tenant_id,
                appointment_id=item.appointment_id,
                offset_minutes=item.offset_minutes,
                starts_at=item.starts_at,
                sent_at=now,
                conversation_id=conversation_id,
                outcome=outcome,
            )
            .on_conflict_do_nothing()
            .returning(AppointmentReminder.appointment_id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def set_message(self, item: DueReminder, message_id: uuid.UUID) -> None:
        row = await self.session.get(
            AppointmentReminder, (item.tenant_id, item.appointment_id, item.offset_minutes, item.starts_at)
        )
        if row is not None:
            row.message_id = message_id
            await self.session.flush()

    async def conversation_for(self, appointment: Appointment, channel_types: Collection[str]) -> Conversation | None:
        """Where to write to the appointment's customer: the conversation it was booked in, else the contact's
        most recent conversation in a channel we can write to (an imported chat history is not one)."""
        scoped = select(Conversation).where(
            Conversation.tenant_id == appointment.tenant_id, Conversation.channel_type.in_(channel_types)
        )
        if appointment.conversation_id is not None:
            found = (
                await self.session.execute(scoped.where(Conversation.id == appointment.conversation_id))
            ).scalar_one_or_none()
            if found is not None:
                return found
        if appointment.contact_id is None:
            return None
        latest = scoped.where(Conversation.contact_id == appointment.contact_id).order_by(
            Conversation.created_at.desc()
        )
        return (await self.session.execute(latest.limit(1))).scalar_one_or_none()

    async def latest_in(self, conversation_id: uuid.UUID, since: datetime) -> AppointmentReminder | None:
        """The newest reminder sent in the conversation since `since`: what a pressed reminder button answers."""
        statement = (
            select(AppointmentReminder)
            .where(
                and_(
                    AppointmentReminder.conversation_id == conversation_id,
                    AppointmentReminder.outcome == "sent",
                    AppointmentReminder.sent_at >= since,
                )
            )
            .order_by(AppointmentReminder.sent_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
