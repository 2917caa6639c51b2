"""Helpers of the two-factor tests: an owner with two-factor sign-in on, and the codes their app shows."""

from __future__ import annotations

import time

import httpx
import pyotp

from tests.conftest import TenantFixture

LOGIN = "/api/v1/auth/login"


async def access_token(client: httpx.AsyncClient, tenant: TenantFixture, **extra: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": tenant.owner_email, "password": tenant.owner_password, **extra})


async def turned_on(client: httpx.AsyncClient, tenant: TenantFixture) -> tuple[pyotp.TOTP, list[str], dict[str, str]]:
    """Two-factor on for the tenant's owner: the app, the recovery codes, and an access token's headers."""
    token = (await access_token(client, tenant)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    setup = (await client.post("/api/v1/auth/two-factor", headers=headers)).json()
    app = pyotp.TOTP(setup["secret"])
    confirmed = await client.post("/api/v1/auth/two-factor/confirm", json={"code": app.now()}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return app, confirmed.json()["recovery_codes"], headers


def next_step_code(app: pyotp.TOTP) -> str:
    """The code of the next 30-second step (accepted: a phone's clock may run ahead), unused so far."""
    return app.at(time.time() + app.interval)
