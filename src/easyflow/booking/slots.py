"""Loading what the slot computation needs (the tenant's rules, the service, the members who perform it and
their busy ranges) and asking `availability` for the free starts."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking import schemas
from easyflow.booking.availability import OpenSlot, Rules, StaffSchedule, merged_slots, staff_slots
from easyflow.booking.backend import ServiceNotBookable
from easyflow.booking.repository import AppointmentRepository, BookingSettingsRepository
from easyflow.catalogue.repository import ServiceRepository, StaffRepository, StaffServiceRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.booking import DEFAULT_REMINDER_OFFSETS, BookingSettings
from easyflow.models.catalogue import Service

MAX_DAYS = 62
DEFAULTS = BookingSettings(
    lead_time_minutes=60,
    horizon_days=60,
    hold_minutes=5,
    slot_step_minutes=15,
    reminder_offsets_minutes=list(DEFAULT_REMINDER_OFFSETS),
)


@dataclass(frozen=True)
class TenantRules:
    rules: Rules
    hold: timedelta


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A zone the tenancy code accepted but this machine's tz database lacks: Moscow, the product's default.
        return ZoneInfo("Europe/Moscow")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time()).replace(tzinfo=zone).astimezone(UTC)


class SlotFinder:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.settings_rows = BookingSettingsRepository(session, tenant_id)
        self.services = ServiceRepository(session, tenant_id)
        self.staff = StaffRepository(session, tenant_id)
        self.links = StaffServiceRepository(session, tenant_id)
        self.appointments = AppointmentRepository(session, tenant_id)

    async def tenant_rules(self) -> TenantRules:
        zone, row = await self.settings_rows.current()
        settings = row or DEFAULTS
        return TenantRules(
            Rules(
                zone=_zone(zone),
                lead_time=timedelta(minutes=settings.lead_time_minutes),
                horizon=timedelta(days=settings.horizon_days),
                step=timedelta(minutes=settings.slot_step_minutes),
            ),
            timedelta(minutes=settings.hold_minutes),
        )

    async def settings(self) -> schemas.BookingSettingsRead:
        zone, row = await self.settings_rows.current()
        settings = row or DEFAULTS
        return schemas.BookingSettingsRead(
            timezone=zone,
            lead_time_minutes=settings.lead_time_minutes,
            horizon_days=settings.horizon_days,
            hold_minutes=settings.hold_minutes,
            slot_step_minutes=settings.slot_step_minutes,
            reminder_offsets_minutes=list(settings.reminder_offsets_minutes),
        )

    async def change_settings(self, body: schemas.BookingSettingsUpdate) -> schemas.BookingSettingsRead:
        changes = body.model_dump(exclude_unset=True)
        if any(value is None for value in changes.values()):
            raise Unprocessable("settings cannot be null")
        if "reminder_offsets_minutes" in changes:
            changes["reminder_offsets_minutes"] = sorted(set(changes["reminder_offsets_minutes"]), reverse=True)
        if changes:
            await self.settings_rows.save(changes)
        return await self.settings()

    async def service(self, service_id: uuid.UUID) -> Service:
        service = await self.services.get(service_id)
        if service is None:
            raise NotFound("no such service")
        if service.archived_at is not None:
            raise ServiceNotBookable("the service was removed and cannot be booked")
        return service

    async def performers(self, service: Service, staff_id: uuid.UUID | None) -> list[StaffSchedule]:
        """Who performs the service: everyone who does (by name), or the one member asked for."""
        found = await self.links.performers(service.id, staff_id)
        if staff_id is not None and not found:
            if await self.staff.get(staff_id) is None:
                raise NotFound("no such staff member")
            raise ServiceNotBookable("this staff member does not perform the service")
        return [
            StaffSchedule(
                staff_id=str(member.id),
                duration=timedelta(minutes=duration or service.duration_minutes),
                working_hours=member.working_hours,
                days_off=member.days_off,
                exceptions=member.exceptions,
            )
            for member, duration in found
        ]

    async def slots(
        self, service_id: uuid.UUID, staff_id: uuid.UUID | None, first_day: date, last_day: date, now: datetime
    ) -> list[OpenSlot]:
        """The free starts for the service between two local days (inclusive), for one member or anyone."""
        if last_day < first_day:
            raise Unprocessable("`to` is before `from`")
        if (last_day - first_day).days + 1 > MAX_DAYS:
            raise Unprocessable(f"at most {MAX_DAYS} days at a time")
        tenant = await self.tenant_rules()
        service = await self.service(service_id)
        performers = await self.performers(service, staff_id)
        if not performers:
            return []
        zone = tenant.rules.zone
        # A day's appointments may have begun the evening before, and the last slot's buffer runs past midnight.
        window_start = local_midnight(first_day, zone) - timedelta(days=1)
        window_end = local_midnight(last_day + timedelta(days=2), zone)
        busy = await self.appointments.busy([uuid.UUID(p.staff_id) for p in performers], window_start, window_end)
        buffer = timedelta(minutes=service.buffer_after_minutes)
        per_staff = [
            staff_slots(
                dataclasses.replace(p, busy=busy.get(uuid.UUID(p.staff_id), [])),
                buffer,
                first_day,
                last_day,
                tenant.rules,
                now,
            )
            for p in performers
        ]
        return per_staff[0] if staff_id is not None else merged_slots(per_staff)
