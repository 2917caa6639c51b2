"""HTTP routes of the tenancy domain: sign-in, the tenant's settings, its users and API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.audit import service as audit
from easyflow.audit.service import Actor
from easyflow.kit.errors import Forbidden, Unauthorized
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.models.tenancy import User
from easyflow.tenancy import schemas
from easyflow.tenancy.auth import (
    Admin,
    AppSettings,
    CurrentPrincipal,
    KeyCache,
    Session,
    Viewer,
    ViewerOutsideTransaction,
)
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.repository import UserRepository
from easyflow.tenancy.service import ApiKeyService, AuthService, InvitationService, MemberService, TenantService
from easyflow.tenancy.two_factor import TwoFactorService

router = APIRouter(prefix="/api/v1")


@router.post("/auth/login", tags=["auth"])
async def login(
    body: schemas.LoginRequest, request: Request, session: Session, settings: AppSettings
) -> schemas.TokenPair:
    """Exchange email and password for an access token (minutes) and a refresh token (rotating)."""
    client_ip = request.client.host if request.client else "unknown"
    return await AuthService(session, settings).login(body, client_ip, request.app.state.login_limiter)


@router.post("/auth/refresh", tags=["auth"])
async def refresh(body: schemas.RefreshRequest, session: Session, settings: AppSettings) -> schemas.TokenPair:
    """Trade a refresh token for a new pair. Each refresh token works once; using one twice signs out
    every session descended from the same sign-in."""
    return await AuthService(session, settings).refresh(body.refresh_token)


@router.post("/auth/logout", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: schemas.RefreshRequest, session: Session, settings: AppSettings) -> Response:
    """Revoke the refresh token and all tokens rotated from the same sign-in."""
    await AuthService(session, settings).logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", tags=["auth"])
async def me(principal: CurrentPrincipal, session: Session, settings: AppSettings) -> schemas.Me:
    """Who the credential belongs to, in which tenant, with which role."""
    return await AuthService(session, settings).describe(principal)


async def _signed_in_user(principal: Principal, session: AsyncSession) -> User:
    if principal.user_id is None:
        raise Forbidden("Two-factor sign-in belongs to a person: call this with a user's access token.")
    user = await UserRepository(session).get(principal.user_id)
    if user is None:
        raise Unauthorized("This account no longer exists.")
    return user


@router.get("/auth/two-factor", tags=["auth"])
async def two_factor_status(
    principal: CurrentPrincipal, session: Session, settings: AppSettings
) -> schemas.TwoFactorStatus:
    user = await _signed_in_user(principal, session)
    enabled, left = await TwoFactorService(session, settings).status(user.id)
    return schemas.TwoFactorStatus(enabled=enabled, recovery_codes_left=left)


@router.post("/auth/two-factor", tags=["auth"])
async def begin_two_factor(
    principal: CurrentPrincipal, session: Session, settings: AppSettings
) -> schemas.TwoFactorSetupRead:
    """Start setting up two-factor sign-in: scan the QR code (or type the secret) into an authenticator app,
    then confirm with its first code. Nothing changes for signing in until then."""
    setup = await TwoFactorService(session, settings).begin(await _signed_in_user(principal, session))
    return schemas.TwoFactorSetupRead(secret=setup.secret, otpauth_uri=setup.otpauth_uri, qr_svg=setup.qr_svg)


@router.post("/auth/two-factor/confirm", tags=["auth"])
async def confirm_two_factor(
    body: schemas.TwoFactorCode, principal: CurrentPrincipal, session: Session, settings: AppSettings
) -> schemas.RecoveryCodesRead:
    """Turn two-factor sign-in on with the app's first code; the answer holds ten single-use recovery codes,
    shown only now."""
    user = await _signed_in_user(principal, session)
    codes = await TwoFactorService(session, settings).confirm(user.id, body.code)
    await audit.record(session, principal.tenant_id, Actor.of(principal), "auth.two_factor_enabled")
    return schemas.RecoveryCodesRead(recovery_codes=codes)


@router.post("/auth/two-factor/disable", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT)
async def disable_two_factor(
    body: schemas.TwoFactorCode, principal: CurrentPrincipal, session: Session, settings: AppSettings
) -> Response:
    """Turn two-factor sign-in off; needs a current code or a recovery code."""
    user = await _signed_in_user(principal, session)
    tenant = await TenantService(session).read(principal.tenant_id)
    await TwoFactorService(session, settings).disable(user.id, body.code, required_by_tenant=tenant.two_factor_required)
    await audit.record(session, principal.tenant_id, Actor.of(principal), "auth.two_factor_disabled")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tenant", tags=["tenant"])
async def read_tenant(principal: ViewerOutsideTransaction, request: Request) -> schemas.TenantRead:
    """The calling tenant's settings."""
    settings = await TenantService.settings(request.app.state.runtime.database, principal.tenant_id)
    return schemas.TenantRead.model_validate(settings)


@router.patch("/tenant", tags=["tenant"])
async def update_tenant(body: schemas.TenantUpdate, principal: Admin, session: Session) -> schemas.TenantRead:
    """Change the tenant's name, default language, time zone, facts, whether customers are asked to rate
    conversations (`csat_enabled`), or whether every member must sign in with two factors
    (`two_factor_required`) (admins and owners). Audited."""
    tenant = await TenantService(session).update(principal.tenant_id, body)
    changed = sorted(body.model_dump(exclude_unset=True))
    await audit.record(
        session, principal.tenant_id, Actor.of(principal), "tenant.updated", details={"changed": changed}
    )
    return schemas.TenantRead.model_validate(tenant)


@router.put("/tenant/webhook", tags=["tenant"])
async def set_webhook(
    body: schemas.WebhookUpdate, request: Request, principal: Admin, session: Session
) -> schemas.WebhookRead:
    """Receive the API channel's replies at `url`. Each POST carries `X-Easyflow-Signature:
    sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, `X-Easyflow-Timestamp` and an
    `Idempotency-Key`; failed deliveries are retried with backoff. The URL must be a public address
    (422 for loopback and private networks, unless the operator allows them)."""
    secrets = request.app.state.runtime.secrets
    allow_private = request.app.state.settings.allow_private_webhooks
    return await TenantService(session).set_webhook(
        principal.tenant_id, str(body.url), secrets, allow_private=allow_private
    )


@router.delete("/tenant/webhook", tags=["tenant"], status_code=status.HTTP_204_NO_CONTENT)
async def remove_webhook(principal: Admin, session: Session) -> Response:
    await TenantService(session).remove_webhook(principal.tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", tags=["users"])
async def list_users(
    principal: Viewer, session: Session, limit: Limit = 100, offset: Offset = 0
) -> Page[schemas.MemberRead]:
    """The tenant's members with their roles."""
    items, total = await MemberService(session, principal).list(limit=limit, offset=offset)
    return Page(items=items, total=total)


@router.post("/users", tags=["users"], status_code=status.HTTP_202_ACCEPTED)
async def add_user(body: schemas.MemberCreate, principal: Admin, session: Session) -> schemas.MemberInvited:
    """Invite someone by e-mail. An address without an account gets one with `password`, and joins this
    tenant when it first signs in; an existing account is invited (its password is never changed) and joins
    when its owner accepts (`POST /api/v1/invitations/{id}/accept`). The answer is the same in both cases,
    so it does not tell whether the address has an account."""
    invited = await MemberService(session, principal).invite(body)
    details = {"email": str(body.email), "role": body.role.value}
    await audit.record(session, principal.tenant_id, Actor.of(principal), "member.invited", details=details)
    return invited


@router.get("/users/{user_id}", tags=["users"])
async def read_user(user_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.MemberRead:
    return await MemberService(session, principal).get(user_id)


@router.patch("/users/{user_id}", tags=["users"])
async def update_user(
    user_id: uuid.UUID, body: schemas.MemberUpdate, principal: Admin, session: Session
) -> schemas.MemberRead:
    """Change a member's role or name. Only owners may touch owners; the last owner stays."""
    member = await MemberService(session, principal).update(user_id, body)
    changes = body.model_dump(mode="json", exclude_unset=True)
    await audit.record(
        session, principal.tenant_id, Actor.of(principal), "member.changed", target=("user", user_id), details=changes
    )
    return member


@router.delete("/users/{user_id}", tags=["users"], status_code=status.HTTP_204_NO_CONTENT)
async def remove_user(user_id: uuid.UUID, principal: Admin, session: Session) -> Response:
    """Remove a member from this tenant and sign them out of it (the account itself stays)."""
    await MemberService(session, principal).remove(user_id)
    await audit.record(session, principal.tenant_id, Actor.of(principal), "member.removed", target=("user", user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/invitations", tags=["invitations"])
async def list_invitations(principal: CurrentPrincipal, session: Session) -> Page[schemas.InvitationRead]:
    """The signed-in person's invitations to join other tenants (access tokens only; 403 for API keys)."""
    invitations = await InvitationService(session).list(principal)
    return Page(items=invitations, total=len(invitations))


@router.post("/invitations/{invitation_id}/accept", tags=["invitations"])
async def accept_invitation(
    invitation_id: uuid.UUID, principal: CurrentPrincipal, session: Session
) -> schemas.MembershipRead:
    """Join the inviting tenant with the role offered; sign in to it with `tenant_id` at /auth/login."""
    return await InvitationService(session).accept(principal, invitation_id)


@router.delete("/invitations/{invitation_id}", tags=["invitations"], status_code=status.HTTP_204_NO_CONTENT)
async def decline_invitation(invitation_id: uuid.UUID, principal: CurrentPrincipal, session: Session) -> Response:
    """Decline: the invitation is deleted."""
    await InvitationService(session).decline(principal, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api-keys", tags=["api keys"])
async def list_api_keys(
    principal: Admin, session: Session, limit: Limit = 100, offset: Offset = 0
) -> Page[schemas.ApiKeyRead]:
    """The tenant's API keys, revoked ones included; the keys themselves are never shown again."""
    keys, total = await ApiKeyService(session, principal.tenant_id).list(limit=limit, offset=offset)
    return Page(items=[schemas.ApiKeyRead.model_validate(k) for k in keys], total=total)


@router.post("/api-keys", tags=["api keys"], status_code=status.HTTP_201_CREATED)
async def create_api_key(body: schemas.ApiKeyCreate, principal: Admin, session: Session) -> schemas.ApiKeyCreated:
    """Create a key. The answer carries the whole key once; only a hash is kept."""
    key, whole_key = await ApiKeyService(session, principal.tenant_id).create(body, created_by=principal.user_id)
    details = {"name": key.name, "role": key.role.value, "prefix": key.prefix}
    await audit.record(
        session,
        principal.tenant_id,
        Actor.of(principal),
        "api_key.created",
        target=("api_key", key.id),
        details=details,
    )
    return schemas.ApiKeyCreated(**schemas.ApiKeyRead.model_validate(key).model_dump(), key=whole_key)


@router.get("/api-keys/{key_id}", tags=["api keys"])
async def read_api_key(key_id: uuid.UUID, principal: Admin, session: Session) -> schemas.ApiKeyRead:
    return schemas.ApiKeyRead.model_validate(await ApiKeyService(session, principal.tenant_id).get(key_id))


@router.delete("/api-keys/{key_id}", tags=["api keys"])
async def revoke_api_key(
    key_id: uuid.UUID, principal: Admin, session: Session, key_cache: KeyCache
) -> schemas.ApiKeyRead:
    """Revoke a key: it stops working at once and stays listed as revoked."""
    key = await ApiKeyService(session, principal.tenant_id).revoke(key_id, key_cache)
    details = {"name": key.name, "prefix": key.prefix}
    await audit.record(
        session,
        principal.tenant_id,
        Actor.of(principal),
        "api_key.revoked",
        target=("api_key", key.id),
        details=details,
    )
    return schemas.ApiKeyRead.model_validate(key)
