"""The base every tenant-owned repository derives from: each statement starts already filtered by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import tenant_of

ModelT = TypeVar("ModelT", bound=Any)


class TenantScopedRepository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None = None) -> None:
        """Without `tenant_id`, the tenant the session's transaction is scoped to (`Database.tenant_transaction`,
        or the request's authentication); a flow that moves between tenants names each one."""
        self.session = session
        self.tenant_id = tenant_of(session) if tenant_id is None else tenant_id

    def scoped(self) -> Select[Any]:
        """SELECT of this tenant's rows; every read starts here, so the tenant filter cannot be forgotten."""
        return select(self.model).where(self.model.tenant_id == self.tenant_id)

    async def get(self, row_id: uuid.UUID) -> ModelT | None:
        result = await self.session.execute(self.scoped().where(self.model.id == row_id))
        return result.scalar_one_or_none()

    async def list(self, *order_by: Any, limit: int = 100, offset: int = 0) -> Sequence[ModelT]:
        statement = self.scoped().order_by(*(order_by or (self.model.created_at,))).limit(limit).offset(offset)
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, row: ModelT) -> ModelT:
        row.tenant_id = self.tenant_id
        self.session.add(row)
        await self.session.flush()
        return row

    async def delete(self, row: ModelT) -> None:
        if row.tenant_id != self.tenant_id:
            raise LookupError("row belongs to another tenant")
        await self.session.delete(row)
        await self.session.flush()
