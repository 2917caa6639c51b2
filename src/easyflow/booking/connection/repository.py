"""Every SQL statement about booking connections and their webhook events."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.booking_connections import BookingConnection, BookingSyncEvent


class BookingConnectionRepository(TenantScopedRepository[BookingConnection]):
    model = BookingConnection

    async def current(self) -> BookingConnection | None:
        return (await self.session.execute(self.scoped())).scalar_one_or_none()

    async def put(
        self, *, kind: str, account: str, credentials_encrypted: str, webhook_secret_hash: str, details: dict[str, Any]
    ) -> BookingConnection:
        """Connect, or replace the tenant's connection keeping its id (two connects at once: the last wins)."""
        values = {
            "kind": kind,
            "account": account,
            "credentials_encrypted": credentials_encrypted,
            "webhook_secret_hash": webhook_secret_hash,
            "details": details,
        }
        statement = (
            insert(BookingConnection)
            .values(id=uuid.uuid4(), tenant_id=self.tenant_id, **values)
            .on_conflict_do_update(index_elements=["tenant_id"], set_={**values, "updated_at": func.now()})
            .returning(BookingConnection)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one()


class BookingSyncEventRepository(TenantScopedRepository[BookingSyncEvent]):
    model = BookingSyncEvent

    async def keep(self, event: BookingSyncEvent) -> bool:
        """Insert unless the same delivery is already kept (webhooks are redelivered); True when new."""
        values = {c.key: getattr(event, c.key) for c in BookingSyncEvent.__table__.columns if c.key != "received_at"}
        statement = (
            insert(BookingSyncEvent)
            .values(**{**values, "tenant_id": self.tenant_id})
            .on_conflict_do_nothing(constraint="uq_booking_sync_events_delivery")
            .returning(BookingSyncEvent.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def of_connection(self, connection_id: uuid.UUID, *, limit: int = 100) -> list[BookingSyncEvent]:
        statement = (
            self.scoped()
            .where(BookingSyncEvent.connection_id == connection_id)
            .order_by(BookingSyncEvent.received_at.desc(), BookingSyncEvent.id)
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars().all())


class BookingConnectionDirectory:
    """Connections by id across tenants, read in system scope by webhooks (the caller is the booking system)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, connection_id: uuid.UUID) -> BookingConnection | None:
        statement = select(BookingConnection).where(BookingConnection.id == connection_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
