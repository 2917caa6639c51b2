"""Staff (who performs which services, with their own length or price, and when they work) and resources (a
chair, a room a service needs). Services named must be this tenant's current ones: unknown, archived or
another tenant's ids are refused by name."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Collection
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.catalogue import schemas
from easyflow.catalogue.repository import (
    ResourceRepository,
    ResourceServiceRepository,
    ServiceRepository,
    StaffRepository,
    StaffServiceRepository,
)
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.catalogue import Resource, StaffMember, StaffService
from easyflow.tenancy.repository import MembershipRepository


async def _check_services(services: ServiceRepository, ids: Collection[uuid.UUID]) -> None:
    unknown = sorted(str(service_id) for service_id in set(ids) - await services.current_ids(ids))
    if unknown:
        raise Unprocessable(f"no such services: {', '.join(unknown)}", services=unknown)


def _schedule(body: schemas.StaffCreate | schemas.StaffUpdate) -> dict[str, Any]:
    """The schedule fields sent, as the JSON they are stored as."""
    dumped = body.model_dump(mode="json", include={"working_hours", "days_off", "exceptions"}, exclude_unset=True)
    return {field: value for field, value in dumped.items() if value is not None}


# restrict_violation, foreign_key_violation: appointments name the row (their ON DELETE RESTRICT).
STILL_REFERENCED = {"23001", "23503"}


async def _delete_unless_booked(session: AsyncSession, deletion: Awaitable[None], what: str) -> None:
    """Run the deletion unless appointments name the row (their history keeps its meaning): then 409."""
    try:
        async with session.begin_nested():
            await deletion
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) in STILL_REFERENCED:
            raise Conflict(f"this {what} has appointments; it cannot be deleted") from error
        raise


class Staff:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.staff = StaffRepository(session, tenant_id)
        self.links = StaffServiceRepository(session, tenant_id)
        self.services = ServiceRepository(session, tenant_id)

    async def page(self, *, query: str | None, limit: int, offset: int) -> tuple[list[schemas.StaffRead], int]:
        rows, total = await self.staff.page(query=query, limit=limit, offset=offset)
        return await self._read(rows), total

    async def get(self, staff_id: uuid.UUID) -> schemas.StaffRead:
        return (await self._read([await self._member(staff_id)]))[0]

    async def create(self, body: schemas.StaffCreate) -> schemas.StaffRead:
        await _check_services(self.services, body.services)
        await self._check_user(body.user_id)
        member = await self.staff.add(StaffMember(name=body.name, user_id=body.user_id, **_schedule(body)))
        await self._link(member.id, body.services, body.service_overrides)
        return await self.get(member.id)

    async def update(self, staff_id: uuid.UUID, body: schemas.StaffUpdate) -> schemas.StaffRead:
        member = await self._member(staff_id)
        if "name" in body.model_fields_set and body.name is None:
            raise Unprocessable("name cannot be null")
        if body.name is not None:
            member.name = body.name
        for field, value in _schedule(body).items():
            setattr(member, field, value)
        if "user_id" in body.model_fields_set:
            await self._check_user(body.user_id)
            member.user_id = body.user_id
        if body.services is not None:
            await _check_services(self.services, body.services)
            await self._link(member.id, body.services, body.service_overrides or [])
        await self.session.flush()
        return await self.get(member.id)

    async def delete(self, staff_id: uuid.UUID) -> None:
        await _delete_unless_booked(self.session, self.staff.delete(await self._member(staff_id)), "staff member")

    async def _link(
        self, staff_id: uuid.UUID, service_ids: list[uuid.UUID], overrides: list[schemas.ServiceOverride]
    ) -> None:
        own = {override.service_id: override for override in overrides}
        links = []
        for service_id in dict.fromkeys(service_ids):
            override = own.get(service_id)
            links.append(
                StaffService(
                    service_id=service_id,
                    duration_minutes=override.duration_minutes if override else None,
                    price=override.price if override else None,
                )
            )
        await self.links.replace(staff_id, links)

    async def _read(self, members: list[StaffMember]) -> list[schemas.StaffRead]:
        by_member: dict[uuid.UUID, list[StaffService]] = defaultdict(list)
        for link in await self.links.of_staff([member.id for member in members]):
            by_member[link.staff_id].append(link)
        return [
            schemas.StaffRead.model_validate(
                {
                    "id": member.id,
                    "name": member.name,
                    "services": [link.service_id for link in by_member[member.id]],
                    "service_overrides": [
                        {"service_id": link.service_id, "duration_minutes": link.duration_minutes, "price": link.price}
                        for link in by_member[member.id]
                        if link.duration_minutes is not None or link.price is not None
                    ],
                    "working_hours": member.working_hours,
                    "days_off": member.days_off,
                    "exceptions": member.exceptions,
                    "user_id": member.user_id,
                    "created_at": member.created_at,
                    "updated_at": member.updated_at,
                }
            )
            for member in members
        ]

    async def _check_user(self, user_id: uuid.UUID | None) -> None:
        if user_id is not None and await MembershipRepository(self.session, self.tenant_id).member(user_id) is None:
            raise Unprocessable("user_id: no member of this workspace has this id")

    async def _member(self, staff_id: uuid.UUID) -> StaffMember:
        member = await self.staff.get(staff_id)
        if member is None:
            raise NotFound("no such staff member")
        return member


class Resources:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.resources = ResourceRepository(session, tenant_id)
        self.links = ResourceServiceRepository(session, tenant_id)
        self.services = ServiceRepository(session, tenant_id)

    async def page(self, *, limit: int, offset: int) -> tuple[list[schemas.ResourceRead], int]:
        rows, total = await self.resources.page(limit=limit, offset=offset)
        return await self._read(rows), total

    async def get(self, resource_id: uuid.UUID) -> schemas.ResourceRead:
        return (await self._read([await self._resource(resource_id)]))[0]

    async def create(self, body: schemas.ResourceCreate) -> schemas.ResourceRead:
        await _check_services(self.services, body.services)
        resource = await self.resources.add(Resource(name=body.name))
        await self.links.replace(resource.id, dict.fromkeys(body.services))
        return await self.get(resource.id)

    async def update(self, resource_id: uuid.UUID, body: schemas.ResourceUpdate) -> schemas.ResourceRead:
        resource = await self._resource(resource_id)
        if "name" in body.model_fields_set and body.name is None:
            raise Unprocessable("name cannot be null")
        if body.name is not None:
            resource.name = body.name
        if body.services is not None:
            await _check_services(self.services, body.services)
            await self.links.replace(resource.id, dict.fromkeys(body.services))
        await self.session.flush()
        return await self.get(resource.id)

    async def delete(self, resource_id: uuid.UUID) -> None:
        resource = await self._resource(resource_id)
        await _delete_unless_booked(self.session, self.resources.delete(resource), "resource")

    async def _read(self, resources: list[Resource]) -> list[schemas.ResourceRead]:
        by_resource: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for link in await self.links.of_resources([resource.id for resource in resources]):
            by_resource[link.resource_id].append(link.service_id)
        return [
            schemas.ResourceRead.model_validate(
                {
                    "id": resource.id,
                    "name": resource.name,
                    "services": by_resource[resource.id],
                    "created_at": resource.created_at,
                    "updated_at": resource.updated_at,
                }
            )
            for resource in resources
        ]

    async def _resource(self, resource_id: uuid.UUID) -> Resource:
        resource = await self.resources.get(resource_id)
        if resource is None:
            raise NotFound("no such resource")
        return resource
