"""Use cases of the tenancy domain. Services only flush; the caller's transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.service import create_default_assistant
from easyflow.audit import service as audit
from easyflow.audit.service import Actor
from easyflow.config import Settings
from easyflow.crm.funnel.repository import PipelineRepository
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.crypto import SecretBox
from easyflow.kit.destinations import check_public_destination
from easyflow.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from easyflow.kit.security import (
    constant_time_equals,
    hash_password,
    new_public_id,
    new_secret,
    sha256_hex,
    split_token,
    verify_password,
)
from easyflow.models.tenancy import ApiKey, Invitation, Membership, RefreshToken, Role, Tenant, User
from easyflow.tenancy import schemas
from easyflow.tenancy.keycache import ApiKeyCache, CachedKey
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.ratelimit import LoginRateLimiter
from easyflow.tenancy.repository import (
    ApiKeyDirectory,
    ApiKeyRepository,
    InvitationDirectory,
    InvitationRepository,
    MemberAccess,
    MembershipDirectory,
    MembershipRepository,
    RefreshTokenRepository,
    TenantRepository,
    UserRepository,
    tenant_settings_in_one_trip,
)
from easyflow.tenancy.tokens import issue_access_token, looks_like_jwt, read_access_token
from easyflow.tenancy.two_factor import TwoFactorService, WrongCode

API_KEY_KIND = "ef"
REFRESH_TOKEN_KIND = "rt"
# Writing last_used_at on every call would turn each authenticated GET into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


class RefreshTokenReused(Unauthorized):
    keep_changes = True  # the family revocation must be committed although the request fails


class SignInRefused(Unauthorized):
    keep_changes = True  # the audit log's record of the failed attempt must be committed


async def _record_failed_sign_in(session: AsyncSession, tenants: list[uuid.UUID], actor: Actor, reason: str) -> None:
    for tenant_id in tenants:
        await audit.record(session, tenant_id, actor, "auth.sign_in_failed", details={"reason": reason})


@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: Role
    # The tenant requires two-factor sign-in and the member has not set it up: they may only do that.
    two_factor_setup_only: bool = False


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: User
    api_key: str


class AuthService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def authenticate(self, credential: str, key_cache: ApiKeyCache) -> Principal:
        """Resolve a bearer credential (API key or access token) and scope the transaction to its tenant."""
        if credential.startswith(API_KEY_KIND + "_"):
            return await self._authenticate_api_key(credential, key_cache)
        if looks_like_jwt(credential):
            return await self._authenticate_access_token(credential)
        raise Unauthorized("The bearer credential is neither an API key nor an access token.")

    @staticmethod
    def from_key_cache(credential: str, key_cache: ApiKeyCache) -> Principal | None:
        """The caller, when the credential is an API key the cache holds and the database has nothing to
        learn from this use (its last use is recent); None means: authenticate with the database."""
        parsed = split_token(credential, API_KEY_KIND) if credential.startswith(API_KEY_KIND + "_") else None
        key = key_cache.get(parsed[0]) if parsed is not None else None
        if key is None or key.last_used_at is None or _now() - key.last_used_at > LAST_USED_RESOLUTION:
            return None
        if not constant_time_equals(key.key_hash, sha256_hex(credential)):
            raise Unauthorized("The API key is not valid.")
        return key.principal()

    async def _authenticate_api_key(self, credential: str, key_cache: ApiKeyCache) -> Principal:
        parsed = split_token(credential, API_KEY_KIND)
        if parsed is None:
            raise Unauthorized("The API key is not valid.")
        prefix, keys = parsed[0], ApiKeyDirectory(self.session)
        key = key_cache.get(prefix)
        if key is not None:
            if not constant_time_equals(key.key_hash, sha256_hex(credential)):
                raise Unauthorized("The API key is not valid.")
            await scope_to_tenant(self.session, key.tenant_id)
        else:
            generation = key_cache.generation
            found = await keys.find_and_scope(prefix)
            if found is None or not constant_time_equals(found.key_hash, sha256_hex(credential)):
                raise Unauthorized("The API key is not valid.")
            if found.revoked_at is not None:
                raise Unauthorized("The API key has been revoked.")
            key = CachedKey(found.id, found.tenant_id, found.key_hash, found.role, found.last_used_at)
            key_cache.keep(prefix, key, generation)
        now = _now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            await keys.touch(key.id, now)
            key.last_used_at = now
        return key.principal()

    async def _authenticate_access_token(self, credential: str) -> Principal:
        claims = read_access_token(self.settings.signing_key(), credential)
        role = await MemberAccess(self.session).scope_and_role(claims.tenant_id, claims.user_id)
        if role is None:
            raise Unauthorized("This account no longer has access to the tenant.")
        return Principal(
            tenant_id=claims.tenant_id,
            role=role,
            user_id=claims.user_id,
            two_factor_setup_only=claims.two_factor_setup_only,
        )

    async def login(
        self, request: schemas.LoginRequest, client_ip: str, limiter: LoginRateLimiter
    ) -> schemas.TokenPair:
        signed_in = await self.sign_in(request, client_ip, limiter, via="api")
        return await self._issue(
            signed_in.user_id,
            signed_in.tenant_id,
            signed_in.role,
            family_id=uuid.uuid4(),
            setup_only=signed_in.two_factor_setup_only,
        )

    async def sign_in(
        self, request: schemas.LoginRequest, client_ip: str, limiter: LoginRateLimiter, *, via: str
    ) -> SignedIn:
        """Check the credentials (throttled, two-factor included, audited) and scope the transaction to the
        tenant signed in to: the one path for the API's tokens and the dashboard's sessions alike (`via`)."""
        await limiter.hit(request.email, client_ip)
        await enter_system_scope(self.session)
        user = await UserRepository(self.session).get_by_email(request.email)
        password_ok = verify_password(user.password_hash if user else None, request.password)
        if user is None:
            raise Unauthorized("Wrong email or password.")
        memberships = await MembershipDirectory(self.session).of_user(user.id)
        actor = Actor("user", user.email, user.id, client_ip=client_ip)
        # Each tenant the account belongs to sees a failed attempt; the caller learns no more than before.
        tenants = [membership.tenant_id for membership, _ in memberships]
        if not password_ok or not user.is_active:
            await _record_failed_sign_in(
                self.session, tenants, actor, "wrong password" if not password_ok else "account deactivated"
            )
            raise SignInRefused("Wrong email or password.")
        try:
            second_factor = await TwoFactorService(self.session, self.settings).check(user.id, request.code)
        except WrongCode:
            await _record_failed_sign_in(self.session, tenants, actor, "wrong two-factor code")
            raise
        await InvitationService(self.session).accept_on_sign_in(user.id)
        memberships = await MembershipDirectory(self.session).of_user(user.id)
        chosen, tenant = next(
            ((m, t) for m, t in memberships if request.tenant_id in (None, m.tenant_id)),
            (None, None),
        )
        if chosen is None or tenant is None:
            raise Unauthorized("This account has no access to the requested tenant.")
        await scope_to_tenant(self.session, chosen.tenant_id)
        await audit.record(
            self.session,
            chosen.tenant_id,
            actor,
            "auth.signed_in",
            details={"via": via, "second_factor": second_factor},
        )
        return SignedIn(
            user_id=user.id,
            tenant_id=chosen.tenant_id,
            role=chosen.role,
            two_factor_setup_only=tenant.two_factor_required and second_factor == "off",
        )

    async def refresh(self, refresh_token: str) -> schemas.TokenPair:
        await enter_system_scope(self.session)
        token = await self._find_refresh_token(refresh_token)
        now = _now()
        tokens = RefreshTokenRepository(self.session)
        if token.used_at is not None:
            await tokens.revoke_family(token.family_id, now)
            raise RefreshTokenReused(
                "This refresh token was already used; every session it started has been signed out."
            )
        if token.revoked_at is not None or token.expires_at <= now:
            raise Unauthorized("The refresh token has expired or was revoked; sign in again.")
        token.used_at = now
        membership = await MembershipRepository(self.session, token.tenant_id).for_user(token.user_id)
        user = await UserRepository(self.session).get(token.user_id)
        if membership is None or user is None or not user.is_active:
            await tokens.revoke_family(token.family_id, now)
            raise Unauthorized("This account no longer has access to the tenant.")
        tenant = await TenantRepository(self.session).get(token.tenant_id)
        setup_only = bool(tenant and tenant.two_factor_required) and not await TwoFactorService(
            self.session, self.settings
        ).enabled(token.user_id)
        pair = await self._issue(
            token.user_id, token.tenant_id, membership.role, family_id=token.family_id, setup_only=setup_only
        )
        await scope_to_tenant(self.session, token.tenant_id)
        return pair

    async def logout(self, refresh_token: str) -> None:
        await enter_system_scope(self.session)
        token = await self._find_refresh_token(refresh_token)
        await RefreshTokenRepository(self.session).revoke_family(token.family_id, _now())

    async def _find_refresh_token(self, refresh_token: str) -> RefreshToken:
        parsed = split_token(refresh_token, REFRESH_TOKEN_KIND)
        token_id = _parse_uuid(parsed[0]) if parsed else None
        token = await RefreshTokenRepository(self.session).get_for_update(token_id) if token_id else None
        if token is None or not constant_time_equals(token.token_hash, sha256_hex(refresh_token)):
            raise Unauthorized("The refresh token is not valid.")
        return token

    async def _issue(
        self, user_id: uuid.UUID, tenant_id: uuid.UUID, role: Role, *, family_id: uuid.UUID, setup_only: bool = False
    ) -> schemas.TokenPair:
        token_id = uuid.uuid4()
        refresh_token = f"{REFRESH_TOKEN_KIND}_{token_id.hex}_{new_secret()}"
        await RefreshTokenRepository(self.session).add(
            RefreshToken(
                id=token_id,
                tenant_id=tenant_id,
                user_id=user_id,
                family_id=family_id,
                token_hash=sha256_hex(refresh_token),
                expires_at=_now() + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            )
        )
        access_token = issue_access_token(
            self.settings.signing_key(),
            user_id,
            tenant_id,
            self.settings.access_token_ttl_seconds,
            two_factor_setup_only=setup_only,
        )
        return schemas.TokenPair(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=self.settings.access_token_ttl_seconds,
            tenant_id=tenant_id,
            role=role,
            two_factor_setup_required=setup_only,
        )

    async def describe(self, principal: Principal) -> schemas.Me:
        user = await UserRepository(self.session).get(principal.user_id) if principal.user_id else None
        memberships: list[schemas.MembershipRead] = []
        if user is not None:
            # Only the user's own memberships, so listing them across tenants is safe.
            await enter_system_scope(self.session)
            rows = await MembershipDirectory(self.session).of_user(user.id)
            await scope_to_tenant(self.session, principal.tenant_id)
            memberships = [
                schemas.MembershipRead(tenant_id=m.tenant_id, tenant_name=t.name, role=m.role) for m, t in rows
            ]
        return schemas.Me(
            tenant_id=principal.tenant_id,
            role=principal.role,
            user_id=principal.user_id,
            email=user.email if user else None,
            name=user.name if user else None,
            api_key_id=principal.api_key_id,
            memberships=memberships,
        )


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        return None


class TenantService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, name: str, owner_email: str, owner_password: str, *, owner_name: str = "") -> NewTenant:
        """A tenant, its owner (an existing user keeps their password) and a first admin API key."""
        await enter_system_scope(self.session)
        tenant = await TenantRepository(self.session).add(Tenant(name=name, default_language="ru"))
        users = UserRepository(self.session)
        owner = await users.get_by_email(owner_email)
        if owner is None:
            owner = await users.add(
                User(
                    email=owner_email,
                    name=owner_name,
                    password_hash=hash_password(owner_password),
                    is_active=True,
                )
            )
        await scope_to_tenant(self.session, tenant.id)
        await MembershipRepository(self.session, tenant.id).add(Membership(user_id=owner.id, role=Role.owner))
        await create_default_assistant(self.session, tenant.id, tenant.default_language)
        await PipelineRepository(self.session, tenant.id).seed_default(tenant.default_language)
        _, api_key = await ApiKeyService(self.session, tenant.id).create(
            schemas.ApiKeyCreate(name="First key", role=Role.admin), created_by=owner.id
        )
        return NewTenant(tenant=tenant, owner=owner, api_key=api_key)

    @staticmethod
    async def settings(database: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
        """The tenant's settings, for a request that reads nothing else (one round trip, no transaction)."""
        settings = await tenant_settings_in_one_trip(database, tenant_id)
        if settings is None:
            raise NotFound("Tenant not found.")
        return settings

    async def read(self, tenant_id: uuid.UUID) -> Tenant:
        tenant = await TenantRepository(self.session).get(tenant_id)
        if tenant is None:
            raise NotFound("Tenant not found.")
        return tenant

    async def set_webhook(
        self, tenant_id: uuid.UUID, url: str, secrets: SecretBox, *, allow_private: bool
    ) -> schemas.WebhookRead:
        """Point the API channel's reply webhook at `url` with a new signing secret (shown only now)."""
        await check_public_destination(url, allow_private=allow_private)
        tenant = await self.read(tenant_id)
        secret = new_secret()
        tenant.webhook_url = url
        tenant.webhook_secret_encrypted = secrets.encrypt(secret)
        await self.session.flush()
        return schemas.WebhookRead(url=url, secret=secret)

    async def remove_webhook(self, tenant_id: uuid.UUID) -> None:
        tenant = await self.read(tenant_id)
        tenant.webhook_url = None
        tenant.webhook_secret_encrypted = None
        await self.session.flush()

    async def update(self, tenant_id: uuid.UUID, changes: schemas.TenantUpdate) -> Tenant:
        tenant = await self.read(tenant_id)
        for field, value in changes.model_dump(exclude_unset=True).items():
            if value is None:
                raise InvalidInput(f"{field} cannot be null.")
            setattr(tenant, field, value)
        await self.session.flush()
        return tenant


class MemberService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.memberships = MembershipRepository(session, principal.tenant_id)

    async def list(self, *, limit: int, offset: int) -> tuple[list[schemas.MemberRead], int]:
        rows = await self.memberships.members(limit=limit, offset=offset)
        return [_member(m, u) for m, u in rows], await self.memberships.count()

    async def get(self, user_id: uuid.UUID) -> schemas.MemberRead:
        membership, user = await self._member(user_id)
        return _member(membership, user)

    async def invite(self, request: schemas.MemberCreate) -> schemas.MemberInvited:
        """Ask `request.email` to join with a role. A new address gets an account with the given password
        that joins on its first sign-in; an existing account is invited and joins only if its owner accepts.
        The answer is the same either way, so it tells nothing about which addresses have accounts."""
        self._may_grant(request.role)
        # Hashed whether or not it is used, so both answers take as long.
        password_hash = hash_password(request.password) if request.password is not None else None
        users = UserRepository(self.session)
        user = await users.get_by_email(request.email)
        joins_on_sign_in = user is None
        if user is None and password_hash is not None:
            try:
                async with self.session.begin_nested():
                    user = await users.add(User(email=request.email, name=request.name, password_hash=password_hash))
            except IntegrityError:  # the address got an account a moment ago: it is invited like any other
                user, joins_on_sign_in = await users.get_by_email(request.email), False
        if user is not None:
            if await self.memberships.for_user(user.id) is not None:  # the tenant's own members are no secret
                raise Conflict("This user is already a member of the tenant.")
            await self._invite(user.id, request.role, joins_on_sign_in=joins_on_sign_in)
        return schemas.MemberInvited(email=request.email.lower(), role=request.role)

    async def invite_by_link(self, request: schemas.LinkInvitation) -> uuid.UUID:
        """Invite `request.email` by a link the admin hands over (the dashboard's way): an address without an
        account gets one nobody can sign in to until the link's holder chooses its password
        (`InvitationService.accept_link`); an existing account is invited as by `invite`. The invitation's id."""
        self._may_grant(request.role)
        users = UserRepository(self.session)
        user = await users.get_by_email(request.email)
        joins_on_sign_in = user is None
        if user is None:
            try:
                async with self.session.begin_nested():
                    user = await users.add(
                        User(email=request.email, name=request.name, password_hash=hash_password(new_secret()))
                    )
            except IntegrityError:
                user, joins_on_sign_in = await users.get_by_email(request.email), False
        if user is None:  # pragma: no cover - the address was taken and freed again in between
            raise Conflict("Try again.")
        if await self.memberships.for_user(user.id) is not None:
            raise Conflict("This user is already a member of the tenant.")
        await self._invite(user.id, request.role, joins_on_sign_in=joins_on_sign_in)
        invitation = await InvitationRepository(self.session, self.principal.tenant_id).for_user(user.id)
        if invitation is None:  # pragma: no cover - removed by a concurrent request
            raise Conflict("Try again.")
        return invitation.id

    async def pending_invitations(self, *, limit: int) -> Sequence[schemas.PendingInvitation]:
        rows = await InvitationRepository(self.session, self.principal.tenant_id).pending(limit=limit)
        return [
            schemas.PendingInvitation(
                id=invitation.id, email=user.email, role=invitation.role, invited_at=invitation.created_at
            )
            for invitation, user in rows
        ]

    async def withdraw_invitation(self, invitation_id: uuid.UUID) -> str:
        """Delete an open invitation of this tenant (another tenant's is as unknown as none); the address invited.
        An account the invitation created stays, unusable until another invitation's link gives it a password."""
        invitations = InvitationRepository(self.session, self.principal.tenant_id)
        invitation = await invitations.get(invitation_id)
        user = await UserRepository(self.session).get(invitation.user_id) if invitation is not None else None
        if invitation is None or user is None:
            raise NotFound("No such invitation in this tenant.")
        if invitation.role == Role.owner:
            self._may_grant(Role.owner)
        created_the_account = invitation.joins_on_sign_in
        await invitations.delete(invitation)
        email = user.email
        if created_the_account:
            await self._forget_unused_account(user)
        return email

    async def password_reset_target(self, user_id: uuid.UUID) -> User:
        """The member whose forgotten password an admin may reset (by a link handed to them). Only owners touch
        owners, and never an account that belongs to other tenants too: its password is not this tenant's to give."""
        membership, user = await self._member(user_id)
        self._may_change(membership)
        if user.id != self.principal.user_id and (
            await self._has_other_tenants(user.id) or await self._invited_elsewhere(user.id)
        ):
            raise Forbidden("This user belongs to other tenants too; only they can change their password.")
        return user

    async def _invited_elsewhere(self, user_id: uuid.UUID) -> bool:
        await enter_system_scope(self.session)
        rows = await InvitationDirectory(self.session).of_user(user_id)
        await scope_to_tenant(self.session, self.principal.tenant_id)
        return any(invitation.tenant_id != self.principal.tenant_id for invitation, _ in rows)

    async def _forget_unused_account(self, user: User) -> None:
        """An account an invitation created, still unused (signing in would have spent the invitation) and in no
        tenant nor invited to one, is deleted with it: inviting the address again then creates it afresh, with a
        link that lets its holder choose the password."""
        await enter_system_scope(self.session)
        if not await MembershipDirectory(self.session).of_user(user.id) and not await InvitationDirectory(
            self.session
        ).of_user(user.id):
            await UserRepository(self.session).delete(user)
        await scope_to_tenant(self.session, self.principal.tenant_id)

    async def change_own_password(self, change: schemas.PasswordChange) -> None:
        """The caller's new password, given the current one; their API sessions (refresh tokens) in every
        tenant end, so a stolen session does not outlive the change. Wrong current password: Unauthorized."""
        if self.principal.user_id is None:
            raise Forbidden("Only a person has a password.")
        user = await UserRepository(self.session).get(self.principal.user_id)
        if user is None or not verify_password(user.password_hash, change.current_password):
            raise Unauthorized("The current password is wrong.")
        user.password_hash = hash_password(change.new_password)
        await self.session.flush()
        await enter_system_scope(self.session)
        await RefreshTokenRepository(self.session).revoke_user(user.id, _now())
        await scope_to_tenant(self.session, self.principal.tenant_id)

    async def _invite(self, user_id: uuid.UUID, role: Role, *, joins_on_sign_in: bool) -> None:
        invitations = InvitationRepository(self.session, self.principal.tenant_id)
        invitation = await invitations.for_user(user_id)
        if invitation is not None:
            invitation.role = role
            await self.session.flush()
            return
        try:
            async with self.session.begin_nested():
                await invitations.add(
                    Invitation(
                        user_id=user_id,
                        role=role,
                        joins_on_sign_in=joins_on_sign_in,
                        invited_by=self.principal.user_id,
                    )
                )
        except IntegrityError:
            pass  # invited by a concurrent request a moment ago: the invitation stands either way

    async def add(self, request: schemas.MemberCreate) -> schemas.MemberRead:
        """Make the user a member at once (creating the account if needed): for the platform's operator
        (`easyflow user add`), never for a tenant admin, who can only invite."""
        self._may_grant(request.role)
        users = UserRepository(self.session)
        user = await users.get_by_email(request.email)
        if user is None:
            if request.password is None:
                raise InvalidInput("A password is required to create a new user.")
            user = await users.add(
                User(email=request.email, name=request.name, password_hash=hash_password(request.password))
            )
        elif request.password is not None:
            raise Conflict("A user with this email already exists; omit the password to add them to this tenant.")
        if await self.memberships.for_user(user.id) is not None:
            raise Conflict("This user is already a member of the tenant.")
        try:
            async with self.session.begin_nested():
                membership = await self.memberships.add(Membership(user_id=user.id, role=request.role))
        except IntegrityError as exc:
            raise Conflict("This user is already a member of the tenant.") from exc
        return _member(membership, user)

    async def update(self, user_id: uuid.UUID, changes: schemas.MemberUpdate) -> schemas.MemberRead:
        membership, user = await self._member(user_id)
        if changes.role is not None and changes.role != membership.role:
            self._may_change(membership)
            self._may_grant(changes.role)
            if membership.role == Role.owner and await self.memberships.count_owners() <= 1:
                raise Conflict("The last owner cannot be demoted; make someone else owner first.")
            membership.role = changes.role
        if changes.name is not None:
            if user.id != self.principal.user_id and await self._has_other_tenants(user.id):
                raise Forbidden("This user belongs to other tenants too; only they can change their name.")
            user.name = changes.name
        if "capacity" in changes.model_fields_set and changes.capacity != membership.capacity:
            self._may_change(membership)
            membership.capacity = changes.capacity
        await self.session.flush()
        return _member(membership, user)

    async def set_own_language(self, language: str | None) -> None:
        """The dashboard language the caller chose (None: their browser's); theirs in every workspace."""
        if self.principal.user_id is None:
            raise Forbidden("Only a person has a dashboard language.")
        await UserRepository(self.session).set_language(self.principal.user_id, language)

    async def remove(self, user_id: uuid.UUID) -> None:
        membership, _ = await self._member(user_id)
        self._may_change(membership)
        if membership.role == Role.owner and await self.memberships.count_owners() <= 1:
            raise Conflict("The last owner cannot be removed.")
        await self.memberships.delete(membership)
        await RefreshTokenRepository(self.session).revoke_user_in_tenant(self.principal.tenant_id, user_id, _now())

    async def _member(self, user_id: uuid.UUID) -> tuple[Membership, User]:
        row = await self.memberships.member(user_id)
        if row is None:
            raise NotFound("No such user in this tenant.")
        return row[0], row[1]

    async def _has_other_tenants(self, user_id: uuid.UUID) -> bool:
        await enter_system_scope(self.session)
        rows = await MembershipDirectory(self.session).of_user(user_id)
        await scope_to_tenant(self.session, self.principal.tenant_id)
        return any(m.tenant_id != self.principal.tenant_id for m, _ in rows)

    def _may_grant(self, role: Role) -> None:
        if role == Role.owner and self.principal.role != Role.owner:
            raise Forbidden("Only an owner can make someone an owner.")

    def _may_change(self, membership: Membership) -> None:
        if membership.role == Role.owner and self.principal.role != Role.owner:
            raise Forbidden("Only an owner can change or remove an owner.")


class PasswordResetService:
    """The holder of a password-reset link an admin made chooses the account's new password (the caller checked
    the link). Crosses tenants (system scope): a user is global."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def account(self, user_id: uuid.UUID) -> User:
        await enter_system_scope(self.session)
        user = await UserRepository(self.session).get(user_id)
        if user is None:
            raise NotFound("No such account.")
        return user

    async def reset(self, user: User, reset: schemas.PasswordReset) -> list[uuid.UUID]:
        """The new password; every API session of the account ends. The tenants the account belongs to."""
        await enter_system_scope(self.session)
        user.password_hash = hash_password(reset.new_password)
        await self.session.flush()
        await RefreshTokenRepository(self.session).revoke_user(user.id, _now())
        return [membership.tenant_id for membership, _ in await MembershipDirectory(self.session).of_user(user.id)]


class InvitationService:
    """The invited person's side: see the invitations addressed to them, accept or decline them. Each read
    crosses tenants (system scope) but is always filtered by the person's own user id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.invitations = InvitationDirectory(session)

    async def list(self, principal: Principal) -> list[schemas.InvitationRead]:
        user_id = _signed_in_user(principal)
        await enter_system_scope(self.session)
        rows = await self.invitations.of_user(user_id)
        await scope_to_tenant(self.session, principal.tenant_id)
        return [_invitation(invitation, tenant) for invitation, tenant in rows]

    async def accept(self, principal: Principal, invitation_id: uuid.UUID) -> schemas.MembershipRead:
        user_id = _signed_in_user(principal)
        await enter_system_scope(self.session)
        invitation, tenant = await self._find(invitation_id, user_id)
        membership = await self._join(invitation)
        await scope_to_tenant(self.session, principal.tenant_id)
        return schemas.MembershipRead(tenant_id=tenant.id, tenant_name=tenant.name, role=membership.role)

    async def decline(self, principal: Principal, invitation_id: uuid.UUID) -> None:
        user_id = _signed_in_user(principal)
        await enter_system_scope(self.session)
        invitation, _ = await self._find(invitation_id, user_id)
        await self.invitations.delete(invitation)
        await scope_to_tenant(self.session, principal.tenant_id)

    async def link_target(self, invitation_id: uuid.UUID) -> tuple[Invitation, Tenant, User]:
        """The invitation a link names, for its holder (not signed in; the caller checked the link's token)."""
        await enter_system_scope(self.session)
        found = await self.invitations.by_id(invitation_id)
        if found is None:
            raise NotFound("No such invitation.")
        return found

    async def accept_link(self, invitation_id: uuid.UUID, acceptance: schemas.InvitationAcceptance) -> Tenant:
        """The holder of the link of an invitation that created an account chooses its name and password, and
        the account joins the tenant; the invitation is spent, so the link works once. An existing account's
        invitation is accepted by its owner signed in, never by a link (Forbidden)."""
        invitation, tenant, user = await self.link_target(invitation_id)
        if not invitation.joins_on_sign_in:
            raise Forbidden("This address already has an account: sign in to it to accept the invitation.")
        user.name = acceptance.name
        user.password_hash = hash_password(acceptance.password)
        await self.session.flush()
        await self._join(invitation)
        return tenant

    async def accept_on_sign_in(self, user_id: uuid.UUID) -> None:
        """Join the tenants whose invitation created this account (the caller is in system scope)."""
        for invitation in await self.invitations.joining_on_sign_in(user_id):
            await self._join(invitation)

    async def _find(self, invitation_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Invitation, Tenant]:
        found = await self.invitations.one_of_user(invitation_id, user_id)
        if found is None:  # someone else's invitation is as unknown as one that never existed
            raise NotFound("No such invitation for you.")
        return found

    async def _join(self, invitation: Invitation) -> Membership:
        memberships = MembershipRepository(self.session, invitation.tenant_id)
        membership = await memberships.for_user(invitation.user_id) or await memberships.add(
            Membership(user_id=invitation.user_id, role=invitation.role)
        )
        await self.invitations.delete(invitation)
        return membership


def _signed_in_user(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden("Invitations belong to a person: sign in (POST /api/v1/auth/login), not an API key.")
    return principal.user_id


def _invitation(invitation: Invitation, tenant: Tenant) -> schemas.InvitationRead:
    return schemas.InvitationRead(
        id=invitation.id,
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        role=invitation.role,
        invited_at=invitation.created_at,
    )


def _member(membership: Membership, user: User) -> schemas.MemberRead:
    return schemas.MemberRead(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=membership.role,
        joined_at=membership.created_at,
        active=user.is_active,
        capacity=membership.capacity,
    )


class ApiKeyService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.keys = ApiKeyRepository(session, tenant_id)

    async def create(self, request: schemas.ApiKeyCreate, *, created_by: uuid.UUID | None) -> tuple[ApiKey, str]:
        prefix = new_public_id()
        whole_key = f"{API_KEY_KIND}_{prefix}_{new_secret()}"
        key = await self.keys.add(
            ApiKey(
                name=request.name,
                prefix=prefix,
                key_hash=sha256_hex(whole_key),
                role=request.role,
                created_by=created_by,
            )
        )
        return key, whole_key

    async def list(self, *, limit: int, offset: int) -> tuple[list[ApiKey], int]:
        return list(await self.keys.list(limit=limit, offset=offset)), await self.keys.count()

    async def get(self, key_id: uuid.UUID) -> ApiKey:
        key = await self.keys.get(key_id)
        if key is None:
            raise NotFound("No such API key in this tenant.")
        return key

    async def revoke(self, key_id: uuid.UUID, key_cache: ApiKeyCache) -> ApiKey:
        """Every process drops the key from its cache once this commits (NOTIFY); this one at once."""
        key = await self.get(key_id)
        if key.revoked_at is None:
            key.revoked_at = _now()
            await self.session.flush()
            await self.keys.announce_revoked(key.prefix)
            key_cache.forget(key.prefix)
        return key
