"""A tenant's booking settings: how soon and how far ahead customers book, how long a chat holds a slot, the
slots' step and when customers are reminded. A tenant without a row has the defaults; the first change writes it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking import schemas
from easyflow.booking.repository import BookingSettingsRepository
from easyflow.models.booking import DEFAULT_REMINDER_OFFSETS, BookingSettings

_DEFAULTS = BookingSettings(
    lead_time_minutes=60,
    horizon_days=60,
    hold_minutes=5,
    slot_step_minutes=15,
    reminder_offsets_minutes=list(DEFAULT_REMINDER_OFFSETS),
)


class BookingSettingsService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.settings = BookingSettingsRepository(session, tenant_id)

    async def view(self) -> schemas.BookingSettingsRead:
        zone, row = await self.settings.current()
        return _read(zone, row or _DEFAULTS)

    async def update(self, body: schemas.BookingSettingsUpdate) -> schemas.BookingSettingsRead:
        zone, row = await self.settings.current()
        if row is None:
            row = await self.settings.add(
                BookingSettings(
                    lead_time_minutes=_DEFAULTS.lead_time_minutes,
                    horizon_days=_DEFAULTS.horizon_days,
                    hold_minutes=_DEFAULTS.hold_minutes,
                    slot_step_minutes=_DEFAULTS.slot_step_minutes,
                    reminder_offsets_minutes=list(DEFAULT_REMINDER_OFFSETS),
                )
            )
        for name, value in body.model_dump(exclude_unset=True).items():
            if value is None:
                continue
            setattr(row, name, sorted(set(value), reverse=True) if name == "reminder_offsets_minutes" else value)
        await self.session.flush()
        return _read(zone, row)


def _read(zone: str, row: BookingSettings) -> schemas.BookingSettingsRead:
    return schemas.BookingSettingsRead(
        timezone=zone,
        lead_time_minutes=row.lead_time_minutes,
        horizon_days=row.horizon_days,
        hold_minutes=row.hold_minutes,
        slot_step_minutes=row.slot_step_minutes,
        reminder_offsets_minutes=list(row.reminder_offsets_minutes),
    )
