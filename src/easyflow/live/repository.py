"""The SQL of live events: NOTIFY, which PostgreSQL delivers when the transaction commits, and reading the staff
event log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

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


class StaffEventRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def after(self, after: int, limit: int) -> Sequence[StaffEvent]:
        statement = (
            select(StaffEvent)
            .where(StaffEvent.tenant_id == self.tenant_id, StaffEvent.id > after)
            .order_by(StaffEvent.id)
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def oldest_and_newest(self) -> tuple[int | None, int | None]:
        statement = select(func.min(StaffEvent.id), func.max(StaffEvent.id)).where(
            StaffEvent.tenant_id == self.tenant_id
        )
        row = (await self.session.execute(statement)).one()
        return row[0], row[1]
