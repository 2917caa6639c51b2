"""Teams of operators: created and named by admins, with their members (operators or above of the tenant)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.inbox import schemas
from easyflow.inbox.repository import TeamRepository
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.inbox import Team
from easyflow.models.tenancy import Role
from easyflow.tenancy.repository import MembershipRepository


class Teams:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.teams = TeamRepository(session, tenant_id)

    async def list(self) -> list[schemas.TeamRead]:
        return [await self._read(team) for team in await self.teams.all()]

    async def read(self, team_id: uuid.UUID) -> schemas.TeamRead:
        return await self._read(await self.get(team_id))

    async def create(self, body: schemas.TeamCreate) -> schemas.TeamRead:
        await self._name_is_free(body.name)
        return await self._read(await self.teams.add(Team(name=body.name)))

    async def rename(self, team_id: uuid.UUID, body: schemas.TeamCreate) -> schemas.TeamRead:
        team = await self.get(team_id)
        if body.name.lower() != team.name.lower():
            await self._name_is_free(body.name)
        team.name = body.name
        await self.session.flush()
        return await self._read(team)

    async def set_members(self, team_id: uuid.UUID, body: schemas.TeamMembers) -> schemas.TeamRead:
        team = await self.get(team_id)
        members = MembershipRepository(self.session, self.tenant_id)
        for user_id in body.user_ids:
            membership = await members.for_user(user_id)
            if membership is None or not membership.role.at_least(Role.operator):
                raise Unprocessable(f"user_ids: {user_id} is not an operator (or above) of this tenant.")
        await self.teams.replace_members(team.id, list(dict.fromkeys(body.user_ids)))
        return await self._read(team)

    async def delete(self, team_id: uuid.UUID) -> None:
        await self.teams.delete(await self.get(team_id))

    async def get(self, team_id: uuid.UUID) -> Team:
        team = await self.teams.get(team_id)
        if team is None:
            raise NotFound("No such team in this tenant.")
        return team

    async def _name_is_free(self, name: str) -> None:
        if await self.teams.named(name) is not None:
            raise Conflict(f"name: a team is already called «{name}».")

    async def _read(self, team: Team) -> schemas.TeamRead:
        return schemas.TeamRead(
            id=team.id,
            name=team.name,
            member_ids=list(await self.teams.member_ids(team.id)),
            created_at=team.created_at,
        )
