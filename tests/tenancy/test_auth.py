"""Sign-in, token rotation and the ways a credential can be wrong."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.kit.errors import RateLimited
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.tenancy.ratelimit import LoginRateLimiter
from tests.conftest import TEST_SECRET_KEY, TenantFixture, make_member

PROBLEM = "application/problem+json"


async def login(client: httpx.AsyncClient, tenant: TenantFixture, **extra: object) -> dict[str, object]:
    response = await client.post(
        "/api/v1/auth/login", json={"email": tenant.owner_email, "password": tenant.owner_password, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_returns_tokens_that_open_the_tenant(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    tokens = await login(client, tenant_a)
    assert tokens["tenant_id"] == str(tenant_a.id)
    assert tokens["role"] == "owner"
    me = await client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == tenant_a.owner_email
    assert me.json()["memberships"] == [
        {"tenant_id": str(tenant_a.id), "tenant_name": "Салон «Лотос»", "role": "owner"}
    ]


async def test_email_is_case_insensitive(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": tenant_a.owner_email.upper(), "password": tenant_a.owner_password}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nobody@example.com", "password": "whatever-1"},
        {"password": "wrong-password"},
    ],
)
async def test_wrong_credentials_are_401_problems_with_one_message(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict[str, str]
) -> None:
    body = {"email": tenant_a.owner_email, **body}
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "Wrong email or password."


async def test_login_to_a_tenant_the_user_does_not_belong_to_is_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": tenant_a.owner_email, "password": tenant_a.owner_password, "tenant_id": str(tenant_b.id)},
    )
    assert response.status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    first = await login(client, tenant_a)
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]

    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]

    # The thief's replay signed out the legitimate holder of the newer token too.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_other_sign_ins_survive_a_revoked_family(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    stolen = await login(client, tenant_a)
    other = await login(client, tenant_a)
    await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    still = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert still.status_code == 200


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    tokens = await login(client, tenant_a)
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


@pytest.mark.parametrize(
    "token",
    ["rt_nothex_secret", "rt_" + "5f" * 16 + "_guessed", "garbage", "rt__", ""],
)
async def test_forged_refresh_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert response.status_code in (401, 422)
    assert response.headers["content-type"] == PROBLEM


async def test_a_tampered_refresh_secret_is_refused(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    tokens = await login(client, tenant_a)
    tampered = str(tokens["refresh_token"])[:-2] + "zz"
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": tampered})).status_code == 401


def _token(claims: dict[str, object], key: str = TEST_SECRET_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(tenant: TenantFixture, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": "easyflow",
        "aud": "easyflow:access",
        "sub": str(tenant.owner_id),
        "tid": str(tenant.id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return claims


def _alg_none(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, default=lambda v: int(v.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_a_well_formed_token_is_accepted(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.get("/api/v1/tenant", headers=bearer(_token(_claims(tenant_a))))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda t: _token(_claims(t, exp=datetime.now(UTC) - timedelta(seconds=1))), "expired"),
        (lambda t: _token(_claims(t), key="another-key-" + "y" * 40), "invalid"),
        (lambda t: _alg_none(_claims(t)), "invalid"),
        (lambda t: _token(_claims(t), algorithm="HS512"), "invalid"),
        (lambda t: _token(_claims(t, aud="someone-else")), "invalid"),
        (lambda t: _token({k: v for k, v in _claims(t).items() if k != "exp"}), "invalid"),
        (lambda t: _token(_claims(t, tid="not-a-uuid")), "invalid"),
    ],
    ids=["expired", "forged-signature", "alg-none", "alg-swap", "wrong-audience", "no-expiry", "bad-tenant"],
)
async def test_bad_access_tokens_are_401(client: httpx.AsyncClient, tenant_a: TenantFixture, make, reason: str) -> None:
    response = await client.get("/api/v1/tenant", headers=bearer(make(tenant_a)))
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_token_for_a_tenant_the_user_left_is_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    crafted = _token(_claims(tenant_a, tid=str(tenant_b.id)))
    assert (await client.get("/api/v1/tenant", headers=bearer(crafted))).status_code == 401


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-key", "Bearer ef_000000000000_wrong", "Bearer ef_"],
)
async def test_missing_or_unknown_credentials_are_401(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/api/v1/tenant", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


async def test_a_revoked_api_key_stops_working_at_once(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "CI"}, headers=tenant_a.headers)
    key = created.json()
    assert (await client.get("/api/v1/tenant", headers=bearer(key["key"]))).status_code == 200
    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=tenant_a.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = await client.get("/api/v1/tenant", headers=bearer(key["key"]))
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key has been revoked."


async def test_api_key_use_is_recorded(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    created = (await client.post("/api/v1/api-keys", json={"name": "used"}, headers=tenant_a.headers)).json()
    assert created["last_used_at"] is None
    await client.get("/api/v1/tenant", headers=bearer(created["key"]))
    listed = await client.get(f"/api/v1/api-keys/{created['id']}", headers=tenant_a.headers)
    assert listed.json()["last_used_at"] is not None


async def test_a_removed_member_loses_access_and_refresh(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    email = await make_member(database, tenant_a, Role.operator)
    login_body = {"email": email, "password": "member-pass-1"}
    tokens = (await client.post("/api/v1/auth/login", json=login_body)).json()
    user_id = tokens and (await client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))).json()["user_id"]
    assert (await client.delete(f"/api/v1/users/{user_id}", headers=tenant_a.headers)).status_code == 204
    assert (await client.get("/api/v1/tenant", headers=bearer(tokens["access_token"]))).status_code == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


async def test_a_strangers_guesses_do_not_lock_the_owner_out(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    app = create_app(settings, runtime=runtime)  # one app, so both clients share its limiter

    def from_address(address: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url="http://t")

    limit = int(settings.login_rate_limit_per_account_and_ip.split("/")[0])
    wrong = {"email": tenant_a.owner_email, "password": "wrong-password"}
    right = {"email": tenant_a.owner_email.upper(), "password": tenant_a.owner_password}
    async with from_address("198.51.100.66") as stranger, from_address("203.0.113.20") as owner:
        statuses = [(await stranger.post("/api/v1/auth/login", json=wrong)).status_code for _ in range(limit)]
        assert statuses == [401] * limit
        blocked = await stranger.post("/api/v1/auth/login", json=right)  # even the right password, from there
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert blocked.headers["content-type"] == PROBLEM
        assert (await owner.post("/api/v1/auth/login", json=right)).status_code == 200


async def test_guesses_spread_over_addresses_meet_the_account_ceiling(runtime: Runtime) -> None:
    limiter = LoginRateLimiter.from_settings(
        runtime.rate_limits, per_account_and_ip="2/minute", per_account="5/minute", per_ip="9/minute"
    )
    for attempt in range(5):
        await limiter.hit("Owner@Example.com", f"198.51.100.{attempt}")
    with pytest.raises(RateLimited):
        await limiter.hit("owner@example.com", "198.51.100.200")  # a fresh address, but the account is spent
    await limiter.hit("someone-else@example.com", "198.51.100.200")  # other accounts are not affected


async def test_login_is_rate_limited_per_ip(client: httpx.AsyncClient, settings: Settings) -> None:
    limit = int(settings.login_rate_limit_per_ip.split("/")[0])
    statuses = []
    for attempt in range(limit + 1):
        body = {"email": f"spray-{attempt}@example.com", "password": "guess-1234"}
        statuses.append((await client.post("/api/v1/auth/login", json=body)).status_code)
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
