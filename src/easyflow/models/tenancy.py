"""Tenants, their people and their credentials."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class Role(enum.StrEnum):
    """Who may do what inside a tenant, most powerful first."""

    owner = "owner"
    admin = "admin"
    operator = "operator"
    viewer = "viewer"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2, Role.owner: 3}

role_type = Enum(Role, name="member_role", values_callable=lambda roles: [r.value for r in roles])


class Tenant(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
    default_language: Mapped[str] = mapped_column(String(8), default="ru")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    # What every assistant of the tenant should know (address, hours, policies), in the owner's words.
    facts: Mapped[str] = mapped_column(Text, default="")
    # Replies of the API channel are POSTed here, signed with the encrypted secret (HMAC-SHA256).
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # A customer writing this soon after a person resolved their conversation goes back to that person.
    reopen_window_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # How many conversations an operator holds at once (pending for them or open), unless their membership says.
    operator_capacity: Mapped[int] = mapped_column(Integer, default=5)
    # When its people work, in `timezone` (inbox/hours.py); None: around the clock.
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Whether a customer whose conversation a person resolved is asked to rate it (CSAT).
    csat_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every member signs in with a second factor; one without it is sent to set it up before anything else.
    two_factor_required: Mapped[bool] = mapped_column(Boolean, default=False)


class User(IdMixin, CreatedAtMixin, Base):
    """A person who can sign in; belongs to tenants through memberships (users are not tenant-owned)."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The dashboard's language the person chose; None: their browser's.
    language: Mapped[str | None] = mapped_column(String(8))


class Membership(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(role_type)
    # This member's own limit of conversations held at once (None: the tenant's `operator_capacity`).
    capacity: Mapped[int | None] = mapped_column(Integer)


class Invitation(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A tenant asks a user to join with a role; the user becomes a member only by accepting, so a tenant
    admin cannot pull someone else's account into their tenant."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(role_type)
    # The account was created by this invitation with a password the admin chose: signing in with it is
    # the acceptance (the person has no other tenant to sign in to first).
    joins_on_sign_in: Mapped[bool] = mapped_column(Boolean, default=False)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class ApiKey(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A tenant API key: `ef_<prefix>_<secret>`; only the prefix and a hash of the whole key are kept."""

    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(role_type)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """One link of a rotating refresh-token chain; a spent link used again revokes its whole family."""

    __tablename__ = "refresh_tokens"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TwoFactorCredential(CreatedAtMixin, Base):
    """A user's TOTP secret (encrypted with the app's keys), in use once `confirmed_at` is set; failed codes
    are counted here, so the wait after too many holds across processes and restarts."""

    __tablename__ = "two_factor_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The 30-second step of the last code accepted: a code is never accepted twice.
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCode(IdMixin, CreatedAtMixin, Base):
    """One single-use recovery code, kept as a SHA-256 of the code (ten random characters from a 32-letter
    alphabet: 50 bits, beyond guessing at five attempts per quarter hour)."""

    __tablename__ = "two_factor_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
