"""The one SQL statement of live events: NOTIFY, which PostgreSQL delivers when the transaction commits."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.live.events import LIVE_CHANNEL, LiveEvent


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
