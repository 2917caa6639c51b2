"""Dashboard sign-in: server-side sessions behind an HttpOnly cookie, and the CSRF tokens bound to them.
Services only flush; the request's transaction commits."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.config import Settings
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.security import constant_time_equals, new_secret, sha256_hex
from easyflow.models.dashboard import DashboardSession
from easyflow.models.tenancy import Role
from easyflow.tenancy import schemas
from easyflow.tenancy.ratelimit import LoginRateLimiter
from easyflow.tenancy.repository import MemberAccess
from easyflow.tenancy.service import AuthService
from easyflow.web.repository import DashboardSessionRepository

# An absolute lifetime, not a sliding one: a stolen cookie stops working on a known date however it is used.
SESSION_LIFETIME = timedelta(days=14)
# Writing last_seen_at on every page would turn each page view into a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# Purposes keep a token derived for one use from being accepted for another.
_SESSION_CSRF = "dashboard-session-csrf"
_LOGIN_CSRF = "dashboard-login-csrf"
# Far above any real token; a longer cookie is refused before it is hashed.
MAX_TOKEN_LENGTH = 128


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedInMember:
    session_id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: Role


def derived_token(settings: Settings, purpose: str, secret: str) -> str:
    """A token only the server can compute from `secret`: the CSRF token a form must carry is derived from
    the cookie it travels with, so nothing more is stored and a cookie planted by a neighbouring site without
    the server's key yields no usable token."""
    message = f"{purpose}:{secret}".encode()
    return hmac.new(settings.signing_key().encode(), message, hashlib.sha256).hexdigest()


def session_csrf_token(settings: Settings, session_token: str) -> str:
    return derived_token(settings, _SESSION_CSRF, session_token)


def login_csrf_token(settings: Settings, login_nonce: str) -> str:
    return derived_token(settings, _LOGIN_CSRF, login_nonce)


def csrf_matches(expected: str | None, submitted: str | None) -> bool:
    if not expected or not submitted:
        return False
    return constant_time_equals(expected, submitted)


class DashboardSessions:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.sessions = DashboardSessionRepository(session)

    async def sign_in(
        self, request: schemas.LoginRequest, client_ip: str, limiter: LoginRateLimiter
    ) -> tuple[NewSession, SignedInMember]:
        """Check the credentials through the API's own sign-in (same hashes, same throttle) and open a session."""
        signed_in = await AuthService(self.session, self.settings).sign_in(request, client_ip, limiter, via="dashboard")
        token, now = new_secret(), _now()
        row = await self.sessions.add(
            DashboardSession(
                tenant_id=signed_in.tenant_id,
                user_id=signed_in.user_id,
                token_hash=sha256_hex(token),
                last_seen_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        member = SignedInMember(row.id, signed_in.user_id, signed_in.tenant_id, signed_in.role)
        return NewSession(token=token, expires_at=row.expires_at), member

    async def resume(self, token: str | None) -> SignedInMember | None:
        """The member a session cookie stands for, with the transaction scoped to their tenant; None when the
        cookie is absent, unknown, expired or revoked, or the member has since lost access."""
        found = await self._find(token)
        now = _now()
        if found is None or found.revoked_at is not None or found.expires_at <= now:
            return None
        role = await MemberAccess(self.session).scope_and_role(found.tenant_id, found.user_id)
        if role is None:
            return None
        if now - found.last_seen_at > LAST_SEEN_RESOLUTION:
            await self.sessions.touch(found.id, now)
        return SignedInMember(found.id, found.user_id, found.tenant_id, role)

    async def sign_out(self, token: str | None) -> None:
        found = await self._find(token)
        if found is not None:
            await self.sessions.revoke(found.id, _now())

    async def sign_out_everywhere(self, member: SignedInMember) -> int:
        """Revoke every session of the member's account, in every tenant; how many were live."""
        await enter_system_scope(self.session)
        return await self.sessions.revoke_user(member.user_id, _now())

    async def sign_out_account(self, user_id: uuid.UUID) -> int:
        """Revoke every session of the account, in every tenant (its password was reset)."""
        await enter_system_scope(self.session)
        return await self.sessions.revoke_user(user_id, _now())

    async def sign_out_others(self, member: SignedInMember) -> int:
        """Revoke every other session of the member's account, in every tenant (after a password change)."""
        await enter_system_scope(self.session)
        revoked = await self.sessions.revoke_user(member.user_id, _now(), keep=member.session_id)
        await scope_to_tenant(self.session, member.tenant_id)
        return revoked

    async def _find(self, token: str | None) -> DashboardSession | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        await enter_system_scope(self.session)
        # Looked up by the hash of a 256-bit random token: the timing of the index look-up says nothing
        # about a token an attacker does not already hold.
        return await self.sessions.by_token_hash(sha256_hex(token))
