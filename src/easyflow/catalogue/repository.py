"""Every SQL statement of the catalogue."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.catalogue import Product, Resource, ResourceService, Service, StaffMember, StaffService


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

    async def current_ids(self, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `ids` are this tenant's services, not archived."""
        if not ids:
            return set()
        statement = (
            self.scoped().with_only_columns(Service.id).where(Service.id.in_(ids), Service.archived_at.is_(None))
        )
        return set((await self.session.execute(statement)).scalars().all())

    async def bookable(self) -> list[Service]:
        """The current services customers may book themselves, by category and name."""
        statement = self.scoped().where(Service.archived_at.is_(None), Service.online_bookable.is_(True))
        statement = statement.order_by(func.lower(Service.category), func.lower(Service.name), Service.id)
        return list((await self.session.execute(statement)).scalars().all())


class StaffRepository(TenantScopedRepository[StaffMember]):
    model = StaffMember

    async def page(self, *, query: str | None, limit: int, offset: int) -> tuple[list[StaffMember], int]:
        conditions = [StaffMember.tenant_id == self.tenant_id]
        if query:
            conditions.append(func.lower(StaffMember.name).like(_contains(query), escape="\\"))
        statement = select(StaffMember).where(*conditions).order_by(func.lower(StaffMember.name), StaffMember.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).scalars().all()
        total = select(func.count()).select_from(StaffMember).where(*conditions)
        return list(rows), int((await self.session.execute(total)).scalar_one())

    async def all_by_name(self) -> list[StaffMember]:
        statement = self.scoped().order_by(func.lower(StaffMember.name), StaffMember.id)
        return list((await self.session.execute(statement)).scalars().all())


class StaffServiceRepository(TenantScopedRepository[StaffService]):
    model = StaffService

    async def of_staff(self, staff_ids: Collection[uuid.UUID]) -> Sequence[StaffService]:
        statement = self.scoped().where(StaffService.staff_id.in_(staff_ids)).order_by(StaffService.service_id)
        return (await self.session.execute(statement)).scalars().all()

    async def performers(
        self, service_id: uuid.UUID, staff_id: uuid.UUID | None = None
    ) -> list[tuple[StaffMember, int | None]]:
        """The members who perform the service (or just `staff_id`, if they do), by name, each with their own
        length of it when they have one."""
        statement = (
            select(StaffMember, StaffService.duration_minutes)
            .join(StaffService, StaffService.staff_id == StaffMember.id)
            .where(
                StaffService.tenant_id == self.tenant_id,
                StaffMember.tenant_id == self.tenant_id,
                StaffService.service_id == service_id,
            )
            .order_by(func.lower(StaffMember.name), StaffMember.id)
        )
        if staff_id is not None:
            statement = statement.where(StaffMember.id == staff_id)
        return [(member, duration) for member, duration in (await self.session.execute(statement)).all()]

    async def replace(self, staff_id: uuid.UUID, links: Sequence[StaffService]) -> None:
        await self.session.execute(
            delete(StaffService).where(StaffService.tenant_id == self.tenant_id, StaffService.staff_id == staff_id)
        )
        for link in links:
            link.tenant_id, link.staff_id = self.tenant_id, staff_id
            self.session.add(link)
        await self.session.flush()


class ResourceRepository(TenantScopedRepository[Resource]):
    model = Resource

    async def page(self, *, limit: int, offset: int) -> tuple[list[Resource], int]:
        statement = self.scoped().order_by(func.lower(Resource.name), Resource.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).scalars().all()
        total = select(func.count()).select_from(Resource).where(Resource.tenant_id == self.tenant_id)
        return list(rows), int((await self.session.execute(total)).scalar_one())


class ResourceServiceRepository(TenantScopedRepository[ResourceService]):
    model = ResourceService

    async def of_resources(self, resource_ids: Collection[uuid.UUID]) -> Sequence[ResourceService]:
        statement = self.scoped().where(ResourceService.resource_id.in_(resource_ids))
        return (await self.session.execute(statement.order_by(ResourceService.service_id))).scalars().all()

    async def replace(self, resource_id: uuid.UUID, service_ids: Collection[uuid.UUID]) -> None:
        await self.session.execute(
            delete(ResourceService).where(
                ResourceService.tenant_id == self.tenant_id, ResourceService.resource_id == resource_id
            )
        )
        for service_id in service_ids:
            self.session.add(ResourceService(tenant_id=self.tenant_id, resource_id=resource_id, service_id=service_id))
        await self.session.flush()


class ProductRepository(TenantScopedRepository[Product]):
    model = Product

    async def page(self, *, query: str | None, limit: int, offset: int) -> tuple[list[Product], int]:
        """By name; with `query`, the products whose name or description has its words in any form (Russian
        stemming: «туры» finds «тур») or holds it as written, best matches first."""
        conditions = [Product.tenant_id == self.tenant_id]
        order: list[Any] = []
        if query:
            document = func.to_tsvector("russian", Product.name + " " + Product.description)
            words = func.plainto_tsquery("russian", query)
            conditions.append(
                or_(
                    document.op("@@")(words),
                    func.lower(Product.name).like(_contains(query), escape="\\"),
                    func.lower(Product.description).like(_contains(query), escape="\\"),
                )
            )
            order.append(func.ts_rank(document, words).desc())
        statement = select(Product).where(*conditions).order_by(*order, func.lower(Product.name), Product.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).scalars().all()
        total = select(func.count()).select_from(Product).where(*conditions)
        return list(rows), int((await self.session.execute(total)).scalar_one())
