"""Every SQL statement of booking."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import Range, insert

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.booking import LIVE_STATUSES, Appointment, AppointmentStatus, BookingSettings
from easyflow.models.booking_connections import BookingConnection
from easyflow.models.catalogue import Service
from easyflow.models.tenancy import Tenant

# A hold occupies its time only until it expires; every other live status until it changes.
_OCCUPYING = or_(
    Appointment.status.in_([status.value for status in LIVE_STATUSES if status is not AppointmentStatus.held]),
    and_(Appointment.status == AppointmentStatus.held.value, Appointment.hold_expires_at > func.now()),
)


class BookingSettingsRepository(TenantScopedRepository[BookingSettings]):
    model = BookingSettings

    async def current(self) -> tuple[str, BookingSettings | None]:
        """The tenant's time zone and its settings row (None: the defaults), in one round trip."""
        statement = (
            select(Tenant.timezone, BookingSettings)
            .outerjoin(BookingSettings, BookingSettings.tenant_id == Tenant.id)
            .where(Tenant.id == self.tenant_id)
        )
        zone, settings = (await self.session.execute(statement)).one()
        return zone, settings

    async def takes_bookings(self) -> bool:
        """Whether the tenant has a service customers may book online or a connected booking system: one
        round trip in the caller's transaction, so a reply of a tenant that takes no bookings costs no more."""
        bookable = exists().where(
            Service.tenant_id == self.tenant_id, Service.archived_at.is_(None), Service.online_bookable.is_(True)
        )
        connected = exists().where(BookingConnection.tenant_id == self.tenant_id)
        return bool((await self.session.execute(select(or_(bookable, connected)))).scalar_one())

    async def save(self, changes: dict[str, Any]) -> None:
        """Write the changed settings, making the tenant's row (the defaults, then these) if it has none."""
        statement = insert(BookingSettings).values(tenant_id=self.tenant_id, **changes)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[BookingSettings.tenant_id], set_={**changes, "updated_at": func.now()}
            )
        )


class AppointmentRepository(TenantScopedRepository[Appointment]):
    model = Appointment

    async def busy(
        self, staff_ids: Collection[uuid.UUID], starts: datetime, ends: datetime
    ) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
        """The ranges (buffers included) the members' live appointments and unexpired holds occupy between the
        two instants, by member, sorted by start: one round trip, served by the exclusion constraint's index."""
        statement = (
            select(Appointment.staff_id, func.lower(Appointment.blocked), func.upper(Appointment.blocked))
            .where(
                Appointment.tenant_id == self.tenant_id,
                Appointment.staff_id.in_(staff_ids),
                Appointment.blocked.overlaps(Range(starts, ends)),
                _OCCUPYING,
            )
            .order_by(func.lower(Appointment.blocked))
        )
        by_staff: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
        for staff_id, lower, upper in (await self.session.execute(statement)).all():
            by_staff[staff_id].append((lower, upper))
        return by_staff

    async def sweep_expired_holds(
        self, staff_id: uuid.UUID, resource_id: uuid.UUID | None, starts: datetime, ends: datetime
    ) -> None:
        """Delete the expired holds that would otherwise make the exclusion constraints refuse [starts, ends)
        for this member or resource: called in the booking's own transaction just before its insert or move."""
        holder = Appointment.staff_id == staff_id
        if resource_id is not None:
            holder = or_(holder, Appointment.resource_id == resource_id)
        await self.session.execute(
            delete(Appointment)
            .where(
                Appointment.tenant_id == self.tenant_id,
                Appointment.status == AppointmentStatus.held.value,
                Appointment.hold_expires_at <= func.now(),
                holder,
                Appointment.blocked.overlaps(Range(starts, ends)),
            )
            .execution_options(synchronize_session=False)
        )

    async def of_booking(self, booking_id: uuid.UUID) -> Sequence[Appointment]:
        statement = self.scoped().where(Appointment.booking_id == booking_id).order_by(Appointment.position)
        return (await self.session.execute(statement)).scalars().all()

    async def by_idempotency_key(self, key: str) -> Appointment | None:
        return (
            await self.session.execute(self.scoped().where(Appointment.idempotency_key == key))
        ).scalar_one_or_none()

    async def get_for_update(self, appointment_id: uuid.UUID) -> Appointment | None:
        statement = self.scoped().where(Appointment.id == appointment_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def search(
        self,
        *,
        starts: datetime | None,
        ends: datetime | None,
        staff_id: uuid.UUID | None,
        contact_id: uuid.UUID | None,
        statuses: Collection[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Appointment], int]:
        conditions = [Appointment.tenant_id == self.tenant_id]
        if starts is not None:
            conditions.append(Appointment.ends_at > starts)
        if ends is not None:
            conditions.append(Appointment.starts_at < ends)
        if staff_id is not None:
            conditions.append(Appointment.staff_id == staff_id)
        if contact_id is not None:
            conditions.append(Appointment.contact_id == contact_id)
        if statuses:
            conditions.append(Appointment.status.in_(statuses))
        statement = select(Appointment).where(*conditions).order_by(Appointment.starts_at, Appointment.position)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).scalars().all()
        total = select(func.count()).select_from(Appointment).where(*conditions)
        return rows, int((await self.session.execute(total)).scalar_one())

    async def of_contact_before(
        self, contact_id: uuid.UUID, before: datetime | None, limit: int
    ) -> Sequence[Appointment]:
        """The contact's appointments made before `before`, newest first (the timeline's order)."""
        statement = self.scoped().where(Appointment.contact_id == contact_id, Appointment.status != "held")
        if before is not None:
            statement = statement.where(Appointment.created_at < before)
        statement = statement.order_by(Appointment.created_at.desc(), Appointment.id).limit(limit)
        return (await self.session.execute(statement)).scalars().all()
