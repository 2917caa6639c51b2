"""Today at a glance, for the home page: since midnight in the tenant's time zone, how many conversations were
active, how many replies the assistant and people sent, who waits now, and how fast customers were answered."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.inbox.repository import ActivityRepository, DayActivity


def start_of_day(now: datetime, timezone: str) -> datetime:
    """Midnight of `now`'s date where the tenant is (UTC when its zone is unknown to this machine)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)


async def today(session: AsyncSession, tenant_id: uuid.UUID, timezone: str, now: datetime) -> DayActivity:
    return await ActivityRepository(session, tenant_id).since(start_of_day(now, timezone))
