"""Every SQL statement of the tenancy domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.one_trip import OneTripStatement
from easyflow.db.session import remember_tenant
from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.tenancy import (
    ApiKey,
    Invitation,
    Membership,
    RecoveryCode,
    RefreshToken,
    Role,
    Tenant,
    TwoFactorCredential,
    User,
)
from easyflow.tenancy.keycache import KEYS_CHANNEL

_TENANT_SETTINGS = OneTripStatement(
    select(
        Tenant.id,
        Tenant.name,
        Tenant.default_language,
        Tenant.timezone,
        Tenant.facts,
        Tenant.webhook_url,
        Tenant.csat_enabled,
        Tenant.two_factor_required,
        Tenant.created_at,
    ).where(Tenant.id == bindparam("tenant_id"))
)


async def tenant_settings_in_one_trip(database: Database, tenant_id: uuid.UUID) -> dict[str, Any] | None:
    """The tenant's settings (not its secrets) for a request that reads nothing else: one round trip."""
    rows = await database.in_one_trip(tenant_id, _TENANT_SETTINGS, tenant_id=tenant_id)
    return rows[0] if rows else None


class TenantRepository:
    """The tenant's own row (RLS shows a tenant only itself)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        return tenant


class UserRepository:
    """Users are global (one person, several tenants); tenant views of them go through memberships."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email == email.lower()))
        return result.scalar_one_or_none()

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def set_language(self, user_id: uuid.UUID, language: str | None) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(language=language))

    async def delete(self, user: User) -> None:
        await self.session.delete(user)
        await self.session.flush()

    async def add(self, user: User) -> User:
        user.email = user.email.lower()
        self.session.add(user)
        await self.session.flush()
        return user


class MembershipRepository(TenantScopedRepository[Membership]):
    model = Membership

    async def for_user(self, user_id: uuid.UUID) -> Membership | None:
        result = await self.session.execute(self.scoped().where(Membership.user_id == user_id))
        return result.scalar_one_or_none()

    async def members(self, *, limit: int, offset: int) -> Sequence[tuple[Membership, User]]:
        statement = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == self.tenant_id)
            .order_by(Membership.created_at, User.email)
            .limit(limit)
            .offset(offset)
        )
        return (await self.session.execute(statement)).all()

    async def member(self, user_id: uuid.UUID) -> tuple[Membership, User] | None:
        statement = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == self.tenant_id, Membership.user_id == user_id)
        )
        return (await self.session.execute(statement)).one_or_none()

    async def count(self) -> int:
        statement = select(func.count()).select_from(Membership).where(Membership.tenant_id == self.tenant_id)
        return (await self.session.execute(statement)).scalar_one()

    async def count_owners(self) -> int:
        statement = (
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == self.tenant_id, Membership.role == Role.owner)
        )
        return (await self.session.execute(statement)).scalar_one()


class MemberAccess:
    """Whether a user may act in a tenant, read while scoping the transaction to that tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scope_and_role(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
        """The user's role there if they are an active member, else None; either way the transaction is
        now scoped to the tenant (one round trip: the easyflow_scope_member function)."""
        row = (
            await self.session.execute(
                text("SELECT * FROM easyflow_scope_member(:tenant, :user)"), {"tenant": tenant_id, "user": user_id}
            )
        ).first()
        remember_tenant(self.session, tenant_id)
        return Role(row.role) if row is not None and row.is_active else None


class MembershipDirectory:
    """Memberships across tenants, read in system scope to sign a user in."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: uuid.UUID) -> Sequence[tuple[Membership, Tenant]]:
        statement = (
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.created_at)
        )
        return (await self.session.execute(statement)).all()


class InvitationRepository(TenantScopedRepository[Invitation]):
    model = Invitation

    async def pending(self, *, limit: int) -> Sequence[tuple[Invitation, User]]:
        """The tenant's open invitations with the invited accounts, oldest first."""
        statement = (
            select(Invitation, User)
            .join(User, User.id == Invitation.user_id)
            .where(Invitation.tenant_id == self.tenant_id)
            .order_by(Invitation.created_at, User.email)
            .limit(limit)
        )
        return (await self.session.execute(statement)).all()

    async def for_user(self, user_id: uuid.UUID) -> Invitation | None:
        result = await self.session.execute(self.scoped().where(Invitation.user_id == user_id))
        return result.scalar_one_or_none()


class InvitationDirectory:
    """A user's invitations across tenants, read in system scope and always filtered by that user."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: uuid.UUID) -> Sequence[tuple[Invitation, Tenant]]:
        statement = (
            select(Invitation, Tenant)
            .join(Tenant, Tenant.id == Invitation.tenant_id)
            .where(Invitation.user_id == user_id)
            .order_by(Invitation.created_at)
        )
        return (await self.session.execute(statement)).all()

    async def one_of_user(self, invitation_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Invitation, Tenant] | None:
        statement = (
            select(Invitation, Tenant)
            .join(Tenant, Tenant.id == Invitation.tenant_id)
            .where(Invitation.id == invitation_id, Invitation.user_id == user_id)
            .with_for_update(of=Invitation)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def by_id(self, invitation_id: uuid.UUID) -> tuple[Invitation, Tenant, User] | None:
        """One invitation with its tenant and account, locked: for its link, whose holder is not signed in."""
        statement = (
            select(Invitation, Tenant, User)
            .join(Tenant, Tenant.id == Invitation.tenant_id)
            .join(User, User.id == Invitation.user_id)
            .where(Invitation.id == invitation_id)
            .with_for_update(of=Invitation)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return (row[0], row[1], row[2]) if row is not None else None

    async def joining_on_sign_in(self, user_id: uuid.UUID) -> Sequence[Invitation]:
        statement = (
            select(Invitation)
            .where(Invitation.user_id == user_id, Invitation.joins_on_sign_in.is_(True))
            .with_for_update()
        )
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, invitation: Invitation) -> None:
        await self.session.delete(invitation)
        await self.session.flush()


class ApiKeyRepository(TenantScopedRepository[ApiKey]):
    model = ApiKey

    async def count(self) -> int:
        statement = select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == self.tenant_id)
        return (await self.session.execute(statement)).scalar_one()

    async def announce_revoked(self, prefix: str) -> None:
        """Tell every process's key cache, once the transaction commits (never if it rolls back)."""
        await self.session.execute(
            text("SELECT pg_notify(:channel, :prefix)"), {"channel": KEYS_CHANNEL, "prefix": prefix}
        )


@dataclass(frozen=True)
class FoundApiKey:
    id: uuid.UUID
    tenant_id: uuid.UUID
    key_hash: str
    role: Role
    revoked_at: datetime | None
    last_used_at: datetime | None


_FIND_API_KEY = text("SELECT * FROM easyflow_find_api_key(:prefix)")


class ApiKeyDirectory:
    """API keys by their public prefix, across tenants, to find the caller's tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find_and_scope(self, prefix: str) -> FoundApiKey | None:
        """The key with this prefix; when there is one, the transaction is now scoped to its tenant
        (one round trip: the easyflow_find_api_key function)."""
        row = (await self.session.execute(_FIND_API_KEY, {"prefix": prefix})).first()
        if row is None:
            return None
        remember_tenant(self.session, row.tenant_id)
        return FoundApiKey(row.id, row.tenant_id, row.key_hash, Role(row.role), row.revoked_at, row.last_used_at)

    async def touch(self, key_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


class RefreshTokenRepository:
    """Refresh tokens by id, in system scope (the token is the only thing the caller presents)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_update(self, token_id: uuid.UUID) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add(self, token: RefreshToken) -> RefreshToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user(self, user_id: uuid.UUID, now: datetime) -> None:
        """Every live refresh token of the user, in every tenant (the caller is in system scope)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user_in_tenant(self, tenant_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.tenant_id == tenant_id,
                RefreshToken.user_id == user_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )


class TwoFactorRepository:
    """A user's two-factor secret and recovery codes (users are global, so these are not tenant-scoped)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def credential(self, user_id: uuid.UUID, *, for_update: bool = False) -> TwoFactorCredential | None:
        statement = select(TwoFactorCredential).where(TwoFactorCredential.user_id == user_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def replace(self, credential: TwoFactorCredential) -> None:
        """A new secret for the user, dropping any earlier one and its recovery codes."""
        await self.session.execute(delete(TwoFactorCredential).where(TwoFactorCredential.user_id == credential.user_id))
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == credential.user_id))
        self.session.add(credential)
        await self.session.flush()

    async def remove(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(TwoFactorCredential).where(TwoFactorCredential.user_id == user_id))
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))

    async def add_recovery_codes(self, user_id: uuid.UUID, code_hashes: list[str]) -> None:
        self.session.add_all(RecoveryCode(user_id=user_id, code_hash=code_hash) for code_hash in code_hashes)
        await self.session.flush()

    async def use_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        """Mark the unused code with this hash used; False when there is none (unknown or used already)."""
        used = await self.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash, RecoveryCode.used_at.is_(None))
            .values(used_at=now)
            .returning(RecoveryCode.id)
        )
        return used.first() is not None

    async def unused_recovery_codes(self, user_id: uuid.UUID) -> int:
        statement = select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        return (await self.session.execute(statement)).scalar_one()
