"""The SQL of live events: NOTIFY, which PostgreSQL delivers when the transaction commits, and reading the staff
event log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.one_trip import OneTripStatement
from easyflow.live.events import LIVE_CHANNEL, LiveEvent
from easyflow.models.live import StaffEvent


class LiveRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def notify(self, event: LiveEvent) -> None:
        """Announce the event once the session's transaction commits (never if it rolls back)."""
        payload = event.payload()
        if payload is not None:
            await self.session.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": LIVE_CHANNEL, "payload": payload}
            )


@dataclass(frozen=True)
class NumberedStaffEvent:
    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


_NUMBER_STAFF_EVENTS = OneTripStatement(
    select(func.easyflow_number_staff_events(bindparam("tenant", type_=UUID(as_uuid=True))).label("newest"))
)


async def number_staff_events(database: Database, tenant_id: uuid.UUID) -> int:
    """Number the tenant's committed staff events that have no number yet, in a transaction of its own
    (committed when this returns, so no reader is ever shown a number that is later undone); the newest number.
    Readers call it before they read: an event is invisible until it is numbered."""
    rows = await database.in_one_trip(tenant_id, _NUMBER_STAFF_EVENTS, tenant=tenant_id)
    return int(rows[0]["newest"])


class StaffEventRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def after(self, after: int, limit: int) -> list[NumberedStaffEvent]:
        """The numbered events after number `after`, oldest first (unnumbered ones are not yet readable)."""
        statement = (
            select(StaffEvent.id, StaffEvent.kind, StaffEvent.payload, StaffEvent.created_at)
            .where(StaffEvent.tenant_id == self.tenant_id, StaffEvent.id > after)
            .order_by(StaffEvent.id)
            .limit(limit)
        )
        return [NumberedStaffEvent(*row) for row in await self.session.execute(statement)]

    async def oldest_and_newest(self) -> tuple[int | None, int | None]:
        statement = select(func.min(StaffEvent.id), func.max(StaffEvent.id)).where(
            StaffEvent.tenant_id == self.tenant_id
        )
        row = (await self.session.execute(statement)).one()
        return row[0], row[1]
