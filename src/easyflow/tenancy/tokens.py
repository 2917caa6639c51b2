"""Short-lived JWT access tokens (HS256 only: `alg=none` and algorithm swaps are refused)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from easyflow.kit.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "easyflow"
ACCESS_AUDIENCE = "easyflow:access"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    two_factor_setup_only: bool = False


# The claim of a token that may only set up two-factor sign-in (the tenant requires it, the member lacks it).
SETUP_ONLY_CLAIM = "2fa_setup_only"


def issue_access_token(
    signing_key: str, user_id: uuid.UUID, tenant_id: uuid.UUID, ttl_seconds: int, *, two_factor_setup_only: bool = False
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": ACCESS_AUDIENCE,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    if two_factor_setup_only:
        claims[SETUP_ONLY_CLAIM] = True
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM)


def read_access_token(signing_key: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            audience=ACCESS_AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "tid", "aud", "iss"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            tenant_id=uuid.UUID(claims["tid"]),
            two_factor_setup_only=claims.get(SETUP_ONLY_CLAIM) is True,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired; refresh it or sign in again.") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise Unauthorized("The access token is invalid.") from exc


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
