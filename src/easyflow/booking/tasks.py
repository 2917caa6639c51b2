"""Background jobs of booking: the reminders' sweep and the staff's notices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from easyflow.booking.reminders import send_due_reminders
from easyflow.booking.staff_notices import BOOKING_NOTICE_JOB, Change, send_booking_notice
from easyflow.kit.jobs import job

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

SEND_REMINDERS_JOB = "booking.send_reminders"


@job(SEND_REMINDERS_JOB, cron="* * * * *", max_attempts=1)
async def send_reminders(runtime: Runtime, *, timestamp: int) -> None:
    await send_due_reminders(runtime.database, datetime.now(UTC))


@job(BOOKING_NOTICE_JOB, max_attempts=6)
async def send_staff_notice(
    runtime: Runtime,
    *,
    tenant_id: str,
    user_id: str,
    appointment_id: str,
    change: Change,
    previous_start: str | None,
    via: str,
) -> None:
    await send_booking_notice(
        runtime,
        tenant_id=uuid.UUID(tenant_id),
        user_id=uuid.UUID(user_id),
        appointment_id=uuid.UUID(appointment_id),
        change=change,
        previous_start=datetime.fromisoformat(previous_start) if previous_start else None,
        via=via,
    )
