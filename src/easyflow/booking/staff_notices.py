"""Telling a staff member of bookings with them — made, moved or cancelled — in their own Telegram chat (linked
through the tenant's bot) or by e-mail, the ways and kinds they chose in their notification settings (kind
`booking`). A staff member is told only when they are a dashboard member (`staff_members.user_id`); the notice
goes out only if the booking commits, one job per way, each retried on its own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking.repository import AppointmentRepository
from easyflow.catalogue.repository import ServiceRepository, StaffRepository
from easyflow.inbox.notices import Notice, deliver_notice, language_of, member_recipient
from easyflow.inbox.notifications import wanted_ways
from easyflow.inbox.repository import NotificationRepository
from easyflow.kit.jobs import defer
from easyflow.models.booking import Appointment
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

BOOKING_NOTICE_JOB = "booking.send_staff_notice"
Change = Literal["created", "moved", "cancelled"]

_SUBJECTS = {
    "ru": {"created": "Новая запись", "moved": "Запись перенесена", "cancelled": "Запись отменена"},
    "en": {"created": "New booking", "moved": "Booking moved", "cancelled": "Booking cancelled"},
}
_WORDS = {
    "ru": {"when": "d MMMM 'в' HH:mm", "was": "было", "customer": "Клиент", "open": "Открыть"},
    "en": {"when": "MMMM d 'at' HH:mm", "was": "was", "customer": "Customer", "open": "Open"},
}


async def notify_booking_staff(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    row: Appointment,
    change: Change,
    previous_start: datetime | None = None,
) -> None:
    """Defer the notices of `change` to the appointment's staff member, inside the caller's transaction."""
    staff = await StaffRepository(session, tenant_id).get(row.staff_id)
    if staff is None or staff.user_id is None:
        return
    for via in await wanted_ways(NotificationRepository(session, tenant_id), staff.user_id, "booking"):
        await defer(
            session,
            BOOKING_NOTICE_JOB,
            tenant_id=str(tenant_id),
            user_id=str(staff.user_id),
            appointment_id=str(row.id),
            change=change,
            previous_start=previous_start.isoformat() if previous_start else None,
            via=via,
        )


async def send_booking_notice(
    runtime: Runtime,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    appointment_id: uuid.UUID,
    change: Change,
    previous_start: datetime | None,
    via: str,
) -> None:
    if via == "email" and not runtime.settings.smtp_host:
        return
    async with runtime.database.tenant_transaction(tenant_id) as session:
        recipient = await member_recipient(session, tenant_id, user_id, "booking", via)
        appointment = await AppointmentRepository(session, tenant_id).get(appointment_id)
        tenant = await TenantRepository(session).get(tenant_id)
        if recipient is None or appointment is None or tenant is None:
            return
        service = await ServiceRepository(session, tenant_id).get(appointment.service_id)
        language = language_of(tenant.default_language)
        notice = write_booking_notice(
            language,
            change,
            service=service.name if service else "",
            customer=" ".join(filter(None, (appointment.customer_name, appointment.customer_phone))),
            start=appointment.starts_at,
            previous_start=previous_start,
            zone=ZoneInfo(tenant.timezone),
            url=f"{runtime.settings.public_url}/app/appointments/{appointment.id}",
        )
    await deliver_notice(runtime, tenant_id, user_id, recipient, notice)


def write_booking_notice(
    language: str,
    change: Change,
    *,
    service: str,
    customer: str,
    start: datetime,
    previous_start: datetime | None,
    zone: ZoneInfo,
    url: str,
) -> Notice:
    words = _WORDS[language]

    def when(moment: datetime) -> str:
        return format_datetime(moment.astimezone(zone), words["when"], locale=language)

    subject = f"{_SUBJECTS[language][change]}: {service}, {when(start)}"
    lines = [subject]
    if change == "moved" and previous_start is not None:
        lines.append(f"({words['was']} {when(previous_start)})")
    if customer:
        lines.append(f"{words['customer']}: {customer}")
    lines.append(f"{words['open']}: {url}")
    return Notice(subject=subject, text="\n".join(lines))
