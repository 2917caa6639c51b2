"""FastAPI dependencies that say who is calling and what they may do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.config import Settings
from easyflow.db.session import session_in_transaction
from easyflow.kit.errors import Unauthorized
from easyflow.models.tenancy import Role
from easyflow.tenancy.keycache import ApiKeyCache
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.service import AuthService
from easyflow.tenancy.two_factor import TwoFactorSetupRequired

# What a member who must still set up two-factor sign-in may reach: the sign-in routes and the setup itself.
SETUP_ONLY_PATHS = "/api/v1/auth/"
_bearer = HTTPBearer(auto_error=False, description="A tenant API key (`ef_…`) or an access token from /auth/login.")

Session = Annotated[AsyncSession, Depends(session_in_transaction, scope="function")]


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` in its thread pool,
# a hand-off that cost more than the rest of the dependency on every request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def api_key_cache(request: Request) -> ApiKeyCache:
    cache: ApiKeyCache = request.app.state.runtime.api_keys
    return cache


KeyCache = Annotated[ApiKeyCache, Depends(api_key_cache)]


async def current_principal(
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Authentication required: send `Authorization: Bearer <API key or access token>`.")
    # Settings and the key cache straight from the app, not as dependencies of their own: on every
    # authenticated request each dependency FastAPI resolves costs more than reading the attribute.
    state = request.app.state
    principal = await AuthService(session, state.settings).authenticate(credentials.credentials, state.runtime.api_keys)
    if principal.two_factor_setup_only and not request.url.path.startswith(SETUP_ONLY_PATHS):
        raise TwoFactorSetupRequired(
            "This workspace requires two-factor sign-in: set it up (POST /api/v1/auth/two-factor, then "
            "/api/v1/auth/two-factor/confirm) and sign in again."
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def principal_in_own_transaction(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, found without the request's transaction: for routes that call another platform
    (Telegram) and open their own short transactions around that call, never across it, and for routes
    that need one statement (`db/one_trip.py`), which then cost no transaction at all when the API key is
    in the cache; otherwise found in a transaction of its own that ends at once."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        cached = AuthService.from_key_cache(credentials.credentials, request.app.state.runtime.api_keys)
        if cached is not None:
            return cached
    async with request.app.state.runtime.database.session() as session, session.begin():
        return await current_principal(request, session, credentials)


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through callers with `role` or a more powerful one (403 otherwise)."""

    async def check(caller: CurrentPrincipal) -> Principal:
        caller.require(role)
        return caller

    return check


Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]
Admin = Annotated[Principal, Depends(require_role(Role.admin))]


def outside_transaction(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency for routes without the request's transaction (see `principal_in_own_transaction`) that
    lets through callers with `role` or a more powerful one (403 otherwise). One dependency, not a role check
    around a principal dependency: on the one-trip routes each dependency FastAPI solves is a visible cost."""

    async def caller(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        principal = await principal_in_own_transaction(request, credentials)
        principal.require(role)
        return principal

    return caller


ViewerOutsideTransaction = Annotated[Principal, Depends(outside_transaction(Role.viewer))]
OperatorOutsideTransaction = Annotated[Principal, Depends(outside_transaction(Role.operator))]
AdminOutsideTransaction = Annotated[Principal, Depends(outside_transaction(Role.admin))]
