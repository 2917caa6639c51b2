"""Every SQL statement of partners and transfers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.crm_partners import Partner, PartnerTransfer, TransferStatus


class PartnerRepository(TenantScopedRepository[Partner]):
    model = Partner

    async def page(self, *, query: str | None, kind: str | None, limit: int, offset: int) -> tuple[list[Partner], int]:
        conditions = [Partner.tenant_id == self.tenant_id]
        if query:
            pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(func.lower(Partner.name).like(pattern, escape="\\"))
        if kind:
            conditions.append(func.lower(Partner.kind) == kind.lower())
        statement = select(Partner).where(*conditions).order_by(func.lower(Partner.name), Partner.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).scalars().all()
        total = select(func.count()).select_from(Partner).where(*conditions)
        return list(rows), int((await self.session.execute(total)).scalar_one())


@dataclass(frozen=True)
class TokenHolder:
    tenant_id: uuid.UUID
    transfer_id: uuid.UUID


class TransferRepository(TenantScopedRepository[PartnerTransfer]):
    model = PartnerTransfer

    async def of_deal(self, deal_id: uuid.UUID) -> Sequence[PartnerTransfer]:
        statement = self.scoped().where(PartnerTransfer.deal_id == deal_id).order_by(PartnerTransfer.created_at.desc())
        return (await self.session.execute(statement)).scalars().all()

    async def get_for_update(self, transfer_id: uuid.UUID) -> PartnerTransfer | None:
        statement = self.scoped().where(PartnerTransfer.id == transfer_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def mark_sent(self, transfer_id: uuid.UUID, *, now: datetime) -> bool:
        """Sent, unless it was settled meanwhile (a repeated job)."""
        statement = (
            update(PartnerTransfer)
            .where(
                PartnerTransfer.tenant_id == self.tenant_id,
                PartnerTransfer.id == transfer_id,
                PartnerTransfer.status == TransferStatus.queued,
            )
            .values(status=TransferStatus.sent, sent_at=now, error=None)
            .returning(PartnerTransfer.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def record_error(self, transfer_id: uuid.UUID, error: str, *, final: bool) -> bool:
        """Keep why the last attempt failed; `final`: no attempt follows, the transfer failed."""
        values: dict[str, object] = {"error": error}
        if final:
            values["status"] = TransferStatus.failed
        statement = (
            update(PartnerTransfer)
            .where(
                PartnerTransfer.tenant_id == self.tenant_id,
                PartnerTransfer.id == transfer_id,
                PartnerTransfer.status == TransferStatus.queued,
            )
            .values(**values)
            .returning(PartnerTransfer.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def acknowledge(self, transfer_id: uuid.UUID, now: datetime) -> bool:
        """Record the acknowledgement; False when it was already recorded (its first time stays)."""
        statement = (
            update(PartnerTransfer)
            .where(
                PartnerTransfer.tenant_id == self.tenant_id,
                PartnerTransfer.id == transfer_id,
                PartnerTransfer.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now)
            .returning(PartnerTransfer.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None


async def token_holder(session: AsyncSession, token_hash: str) -> TokenHolder | None:
    """The transfer whose acknowledgement token hashes to `token_hash`, in any tenant (the caller is in system
    scope: the link carries no tenant). A unique index makes it one indexed look-up."""
    statement = select(PartnerTransfer.tenant_id, PartnerTransfer.id).where(
        PartnerTransfer.ack_token_hash == token_hash
    )
    row = (await session.execute(statement)).first()
    return TokenHolder(row[0], row[1]) if row is not None else None
