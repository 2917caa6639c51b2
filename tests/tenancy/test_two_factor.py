"""Two-factor sign-in: set up with an authenticator app's code, then every sign-in needs a code or a
single-use recovery code; wrong codes are counted and five make the account wait; the audit log sees it."""

from __future__ import annotations

import httpx
import pyotp
import pytest

from tests.conftest import TenantFixture
from tests.tenancy.two_factor_steps import access_token, next_step_code, turned_on


async def test_setting_it_up_shows_a_qr_code_and_the_secret_and_needs_the_apps_first_code(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    token = (await access_token(client, tenant_a)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    setup = (await client.post("/api/v1/auth/two-factor", headers=headers)).json()
    wrong = await client.post("/api/v1/auth/two-factor/confirm", json={"code": "000000"}, headers=headers)
    status_before = (await client.get("/api/v1/auth/two-factor", headers=headers)).json()

    assert setup["qr_svg"].startswith("<svg") and "otpauth://totp/" in setup["otpauth_uri"]
    assert tenant_a.owner_email.replace("@", "%40") in setup["otpauth_uri"]
    assert wrong.status_code == 401
    assert status_before == {"enabled": False, "recovery_codes_left": 0}
    assert (await access_token(client, tenant_a)).status_code == 200, "not on until confirmed"

    right = pyotp.TOTP(setup["secret"]).now()
    codes = (await client.post("/api/v1/auth/two-factor/confirm", json={"code": right}, headers=headers)).json()
    assert len(set(codes["recovery_codes"])) == 10
    assert (await client.get("/api/v1/auth/two-factor", headers=headers)).json() == {
        "enabled": True,
        "recovery_codes_left": 10,
    }


async def test_signing_in_then_needs_a_code_and_the_same_code_works_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    app, _, _ = await turned_on(client, tenant_a)

    without = await access_token(client, tenant_a)
    code = next_step_code(app)
    with_code = await access_token(client, tenant_a, code=code)
    replayed = await access_token(client, tenant_a, code=code)

    assert without.status_code == 401
    assert without.json()["type"].endswith("two-factor-required")
    assert with_code.status_code == 200
    assert replayed.status_code == 401, "a code is accepted once"


async def test_a_recovery_code_works_once_in_place_of_a_code(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    _, recovery, headers = await turned_on(client, tenant_a)

    first = await access_token(client, tenant_a, code=recovery[0].lower().replace("-", " "))
    again = await access_token(client, tenant_a, code=recovery[0])

    assert first.status_code == 200, "typed in lower case with a space still counts"
    assert again.status_code == 401
    assert (await client.get("/api/v1/auth/two-factor", headers=headers)).json()["recovery_codes_left"] == 9


async def test_five_wrong_codes_make_the_account_wait_even_for_the_right_one(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    app, _, _ = await turned_on(client, tenant_a)
    wrong = [await access_token(client, tenant_a, code="123456") for _ in range(5)]
    refused = await access_token(client, tenant_a, code=next_step_code(app))

    assert [answer.status_code for answer in wrong] == [401] * 5
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 800
    failures = (
        await client.get("/api/v1/audit", params={"action": "auth.sign_in_failed"}, headers=tenant_a.headers)
    ).json()
    assert [event["details"]["reason"] for event in failures["items"]] == ["wrong two-factor code"] * 5


async def test_turning_it_off_needs_a_code_and_api_keys_cannot_touch_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    app, _, headers = await turned_on(client, tenant_a)

    no_code = await client.post("/api/v1/auth/two-factor/disable", json={"code": "000000"}, headers=headers)
    by_key = await client.post("/api/v1/auth/two-factor", headers=tenant_a.headers)
    off = await client.post("/api/v1/auth/two-factor/disable", json={"code": next_step_code(app)}, headers=headers)

    assert no_code.status_code == 401
    assert by_key.status_code == 403
    assert off.status_code == 204
    assert (await access_token(client, tenant_a)).status_code == 200
    actions = [e["action"] for e in (await client.get("/api/v1/audit", headers=tenant_a.headers)).json()["items"]]
    assert {"auth.two_factor_enabled", "auth.two_factor_disabled"} <= set(actions)


@pytest.mark.parametrize("code", ["\x00123456", "1" * 33, ""])
async def test_hostile_codes_are_refused_clearly(client: httpx.AsyncClient, tenant_a: TenantFixture, code: str) -> None:
    await turned_on(client, tenant_a)
    answer = await access_token(client, tenant_a, code=code)
    assert answer.status_code in (401, 422)
    assert answer.headers["content-type"].startswith("application/problem+json")
