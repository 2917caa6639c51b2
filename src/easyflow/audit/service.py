"""Recording and reading the audit log. A record is written in the caller's transaction, so it exists exactly
when the act it describes was committed (a refused sign-in commits its own record: see tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.audit.repository import AuditRepository
from easyflow.db.database import Database
from easyflow.models.audit import AuditEvent
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.repository import ApiKeyRepository, UserRepository


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "api_key" or "system"
    label: str = ""  # what a reader recognises: the e-mail, the key's name
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    client_ip: str | None = None

    @classmethod
    def of(cls, principal: Principal, client_ip: str | None = None) -> Actor:
        if principal.api_key_id is not None:
            return cls("api_key", api_key_id=principal.api_key_id, client_ip=client_ip)
        return cls("user", user_id=principal.user_id, client_ip=client_ip)


async def record(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: Actor,
    action: str,
    *,
    target: tuple[str, uuid.UUID | str] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event: `action` is "<thing>.<what happened>" (`api_key.created`, `auth.sign_in_failed`)."""
    await AuditRepository(session, tenant_id).add(
        AuditEvent(
            actor_kind=actor.kind,
            actor_user_id=actor.user_id,
            actor_api_key_id=actor.api_key_id,
            actor=actor.label or await _label(session, tenant_id, actor),
            action=action,
            target_kind=target[0] if target else None,
            target_id=str(target[1]) if target else None,
            details=details or {},
            client_ip=actor.client_ip,
        )
    )


async def record_on_its_own(
    database: Database,
    tenant_id: uuid.UUID,
    actor: Actor,
    action: str,
    *,
    target: tuple[str, uuid.UUID | str] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """`record` in a transaction of its own, after an act that committed its own (one that calls an outside
    service between transactions, as connecting a Telegram bot does)."""
    async with database.tenant_transaction(tenant_id) as session:
        await record(session, tenant_id, actor, action, target=target, details=details)


async def _label(session: AsyncSession, tenant_id: uuid.UUID, actor: Actor) -> str:
    """The name a reader knows the actor by, kept in the entry: it outlives the user or key."""
    if actor.user_id is not None:
        user = await UserRepository(session).get(actor.user_id)
        return user.email if user else ""
    if actor.api_key_id is not None:
        key = await ApiKeyRepository(session, tenant_id).get(actor.api_key_id)
        return f"{key.name} ({key.prefix})" if key else ""
    return ""


class AuditService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.repository = AuditRepository(session, tenant_id)

    async def page(
        self, *, action: str | None, since: datetime | None, limit: int, offset: int
    ) -> tuple[Sequence[AuditEvent], int]:
        return await self.repository.page(action=action, since=since, limit=limit, offset=offset)
