"""Every SQL statement of the agents domain."""

from __future__ import annotations

from sqlalchemy import func, select, update

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.agents import Assistant


class AssistantRepository(TenantScopedRepository[Assistant]):
    model = Assistant

    async def default(self) -> Assistant | None:
        result = await self.session.execute(self.scoped().where(Assistant.is_default.is_(True)))
        return result.scalar_one_or_none()

    async def clear_default(self) -> None:
        await self.session.execute(
            update(Assistant)
            .where(Assistant.tenant_id == self.tenant_id, Assistant.is_default.is_(True))
            .values(is_default=False)
        )

    async def count(self) -> int:
        statement = select(func.count()).select_from(Assistant).where(Assistant.tenant_id == self.tenant_id)
        return (await self.session.execute(statement)).scalar_one()
