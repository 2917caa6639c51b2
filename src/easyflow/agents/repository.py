"""Every SQL statement of the agents domain."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.agents import Assistant, AssistantSpending


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


class SpendingRepository(TenantScopedRepository[AssistantSpending]):
    model = AssistantSpending

    async def spent(self, assistant_id: uuid.UUID, month: date) -> float:
        statement = select(AssistantSpending.cost).where(
            AssistantSpending.tenant_id == self.tenant_id,
            AssistantSpending.assistant_id == assistant_id,
            AssistantSpending.month == month,
        )
        return float((await self.session.execute(statement)).scalar_one_or_none() or 0.0)

    async def by_assistant(self, month: date) -> dict[uuid.UUID, float]:
        statement = select(AssistantSpending.assistant_id, AssistantSpending.cost).where(
            AssistantSpending.tenant_id == self.tenant_id, AssistantSpending.month == month
        )
        return {assistant_id: cost for assistant_id, cost in (await self.session.execute(statement)).all()}

    async def record(self, assistant_id: uuid.UUID, month: date, cost: float) -> None:
        """One reply's cost added to the month's, in one statement however many replies run at once."""
        statement = insert(AssistantSpending).values(
            tenant_id=self.tenant_id, assistant_id=assistant_id, month=month, cost=cost, replies=1
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[AssistantSpending.assistant_id, AssistantSpending.month],
                set_={
                    "cost": AssistantSpending.cost + statement.excluded.cost,
                    "replies": AssistantSpending.replies + 1,
                },
            )
        )
