"""Every SQL statement of the catalogue."""

from __future__ import annotations

from sqlalchemy import func, select

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.catalogue import Service


def _contains(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards taken literally."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ServiceRepository(TenantScopedRepository[Service]):
    model = Service

    async def page(
        self, *, query: str | None, category: str | None, archived: bool, limit: int, offset: int
    ) -> tuple[list[Service], int]:
        conditions = [Service.tenant_id == self.tenant_id]
        conditions.append(Service.archived_at.is_not(None) if archived else Service.archived_at.is_(None))
        if query:
            conditions.append(func.lower(Service.name).like(_contains(query), escape="\\"))
        if category:
            conditions.append(func.lower(Service.category) == category.lower())
        statement = select(Service).where(*conditions).order_by(func.lower(Service.name), Service.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).scalars().all()
        total = select(func.count()).select_from(Service).where(*conditions)
        return list(rows), int((await self.session.execute(total)).scalar_one())
