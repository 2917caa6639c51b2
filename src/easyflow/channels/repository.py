"""Every SQL statement of the channels domain."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.channels import ChannelRecord, ChannelStatus


class ChannelRepository(TenantScopedRepository[ChannelRecord]):
    model = ChannelRecord

    async def set_offset(self, channel_id: uuid.UUID, offset: int) -> None:
        """Remember the next Telegram update to ask for (long polling)."""
        await self.session.execute(
            text(
                "UPDATE channels SET config = jsonb_set(config, '{offset}', to_jsonb(CAST(:offset AS bigint))) "
                "WHERE id = :id AND tenant_id = :tenant"
            ),
            {"offset": offset, "id": channel_id, "tenant": self.tenant_id},
        )

    async def note_inbound_error(self, channel_id: uuid.UUID, error: dict[str, object]) -> None:
        """Show the tenant (in the channel's `config.inbound_error`) the last inbound item that was set aside."""
        await self.session.execute(
            text(
                "UPDATE channels SET config = config || jsonb_build_object('inbound_error', CAST(:error AS jsonb)) "
                "WHERE id = :id AND tenant_id = :tenant"
            ),
            {"error": json.dumps(error), "id": channel_id, "tenant": self.tenant_id},
        )

    async def count(self) -> int:
        statement = select(func.count()).select_from(ChannelRecord).where(ChannelRecord.tenant_id == self.tenant_id)
        return (await self.session.execute(statement)).scalar_one()


class ChannelDirectory:
    """Channels by id across tenants, read in system scope by webhooks (the caller is the platform)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, channel_id: uuid.UUID) -> ChannelRecord | None:
        return await self.session.get(ChannelRecord, channel_id, populate_existing=True)

    async def by_public_key(self, public_key: str) -> ChannelRecord | None:
        statement = select(ChannelRecord).where(ChannelRecord.public_key == public_key)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def polling_telegram(self) -> list[uuid.UUID]:
        statement = select(ChannelRecord.id).where(
            ChannelRecord.type == "telegram",
            ChannelRecord.status == ChannelStatus.active,
            ChannelRecord.config["mode"].astext == "polling",
        )
        return list((await self.session.execute(statement)).scalars())
