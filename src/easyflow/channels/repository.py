"""Every SQL statement of the channels domain."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.channels import ChannelRecord


class ChannelRepository(TenantScopedRepository[ChannelRecord]):
    model = ChannelRecord

    async def count(self) -> int:
        statement = select(func.count()).select_from(ChannelRecord).where(ChannelRecord.tenant_id == self.tenant_id)
        return (await self.session.execute(statement)).scalar_one()


class ChannelDirectory:
    """Channels by id across tenants, read in system scope by webhooks (the caller is the platform)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, channel_id: uuid.UUID) -> ChannelRecord | None:
        return await self.session.get(ChannelRecord, channel_id)
