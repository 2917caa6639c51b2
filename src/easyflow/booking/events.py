"""What a booking tells the rest of the product: staff live events (`appointment.created`, `.moved`,
`.cancelled`) for open calendars, and the funnel's `booking_made` / `booking_cancelled` rule events. Both are
written with the transaction that booked, so a rolled-back booking announces nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm.funnel.rules import FunnelEvent, emit_funnel_event
from easyflow.live.staff import queue_staff_event
from easyflow.models.booking import Appointment

APPOINTMENT_CREATED_EVENT = "appointment.created"
APPOINTMENT_MOVED_EVENT = "appointment.moved"
APPOINTMENT_CANCELLED_EVENT = "appointment.cancelled"


def _payload(row: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": str(row.id),
        "booking_id": str(row.booking_id),
        "service_id": str(row.service_id),
        "staff_id": str(row.staff_id),
        "contact_id": str(row.contact_id) if row.contact_id else None,
        "start": row.starts_at.isoformat(),
        "end": row.ends_at.isoformat(),
        "status": row.status,
    }


def announce_booked(session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[Appointment]) -> None:
    for row in rows:
        queue_staff_event(session, tenant_id, APPOINTMENT_CREATED_EVENT, _payload(row))


def announce_moved(session: AsyncSession, tenant_id: uuid.UUID, row: Appointment, old_start: datetime) -> None:
    queue_staff_event(
        session, tenant_id, APPOINTMENT_MOVED_EVENT, {**_payload(row), "from_start": old_start.isoformat()}
    )


def announce_cancelled(session: AsyncSession, tenant_id: uuid.UUID, row: Appointment) -> None:
    queue_staff_event(session, tenant_id, APPOINTMENT_CANCELLED_EVENT, _payload(row))


async def emit_booking_event(
    session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[Appointment], kind: str
) -> None:
    """`booking_made` once per booking, `booking_cancelled` once per cancelled appointment, for the funnel's
    rules (which move the contact's deal); nothing when the booking names neither contact nor conversation."""
    first = rows[0]
    if first.contact_id is None and first.conversation_id is None:
        return
    key = f"{kind}:{first.booking_id if kind == 'booking_made' else first.id}"
    await emit_funnel_event(
        session,
        tenant_id,
        FunnelEvent(kind=kind, key=key, contact_id=first.contact_id, conversation_id=first.conversation_id),
    )
