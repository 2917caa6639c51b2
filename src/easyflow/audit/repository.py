"""Every SQL statement of the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.audit import AuditEvent


class AuditRepository(TenantScopedRepository[AuditEvent]):
    model = AuditEvent

    async def page(
        self, *, action: str | None, since: datetime | None, limit: int, offset: int
    ) -> tuple[Sequence[AuditEvent], int]:
        """Newest first, optionally one action (or every action under a prefix ending in '.') and since a time."""
        chosen = self.scoped()
        if action is not None:
            chosen = chosen.where(
                AuditEvent.action.startswith(action, autoescape=True)
                if action.endswith(".")
                else AuditEvent.action == action
            )
        if since is not None:
            chosen = chosen.where(AuditEvent.created_at >= since)
        total = await self.session.scalar(select(func.count()).select_from(chosen.subquery()))
        rows = await self.session.execute(
            chosen.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
        )
        return rows.scalars().all(), total or 0
