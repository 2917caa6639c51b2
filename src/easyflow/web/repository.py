"""Every SQL statement of the dashboard's sessions. A session is found by its token's hash before its tenant
is known, so those look-ups run in system scope, always narrowed to one token or one user."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.models.dashboard import DashboardSession


class DashboardSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, dashboard_session: DashboardSession) -> DashboardSession:
        self.session.add(dashboard_session)
        await self.session.flush()
        return dashboard_session

    async def by_token_hash(self, token_hash: str) -> DashboardSession | None:
        result = await self.session.execute(select(DashboardSession).where(DashboardSession.token_hash == token_hash))
        return result.scalar_one_or_none()

    async def touch(self, session_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(DashboardSession).where(DashboardSession.id == session_id).values(last_seen_at=now)
        )

    async def revoke(self, session_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(DashboardSession)
            .where(DashboardSession.id == session_id, DashboardSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user(self, user_id: uuid.UUID, now: datetime, *, keep: uuid.UUID | None = None) -> int:
        """Revoke every live session of the user, in every tenant, but `keep` (the caller is in system scope)."""
        statement = update(DashboardSession).where(
            DashboardSession.user_id == user_id, DashboardSession.revoked_at.is_(None)
        )
        if keep is not None:
            statement = statement.where(DashboardSession.id != keep)
        result = await self.session.execute(statement.values(revoked_at=now))
        return int(result.rowcount)  # type: ignore[attr-defined]
