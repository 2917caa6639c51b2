"""Services the business sells by the appointment: create, change, list, and archive (never delete, so the
appointments that name a service keep their meaning)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.catalogue import schemas
from easyflow.catalogue.repository import ServiceRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.catalogue import Service


def read_service(service: Service) -> schemas.ServiceRead:
    return schemas.ServiceRead.model_validate(
        {
            **{name: getattr(service, name) for name in schemas.ServiceRead.model_fields if name != "archived"},
            "archived": service.archived_at is not None,
        }
    )


class Services:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.services = ServiceRepository(session, tenant_id)
        self.session = session

    async def page(
        self, *, query: str | None, category: str | None, archived: bool, limit: int, offset: int
    ) -> tuple[list[schemas.ServiceRead], int]:
        rows, total = await self.services.page(
            query=query, category=category, archived=archived, limit=limit, offset=offset
        )
        return [read_service(row) for row in rows], total

    async def get(self, service_id: uuid.UUID) -> schemas.ServiceRead:
        return read_service(await self._service(service_id))

    async def create(self, body: schemas.ServiceCreate) -> schemas.ServiceRead:
        service = await self.services.add(Service(**body.model_dump()))
        await self.session.refresh(service)  # the prices as the column keeps them ("1500" reads "1500.00")
        return read_service(service)

    async def update(self, service_id: uuid.UUID, body: schemas.ServiceUpdate) -> schemas.ServiceRead:
        service = await self._service(service_id)
        changes = body.model_dump(exclude_unset=True)
        for field in ("category", "name", "description", "duration_minutes", "buffer_after_minutes", "online_bookable"):
            if field in changes and changes[field] is None:
                raise Unprocessable(f"{field} cannot be null")
        if changes.get("price") is not None:
            changes.update(price_from=None, price_to=None)
        elif changes.get("price_from") is not None or changes.get("price_to") is not None:
            changes["price"] = None
        for field, value in changes.items():
            setattr(service, field, value)
        if service.price_from is not None and service.price_to is not None and service.price_from > service.price_to:
            raise Unprocessable("price_from is above price_to")
        await self.session.flush()
        await self.session.refresh(service)
        return read_service(service)

    async def archive(self, service_id: uuid.UUID) -> None:
        service = await self._service(service_id)
        if service.archived_at is None:
            service.archived_at = datetime.now(UTC)
            await self.session.flush()

    async def _service(self, service_id: uuid.UUID) -> Service:
        service = await self.services.get(service_id)
        if service is None:
            raise NotFound("no such service")
        return service
