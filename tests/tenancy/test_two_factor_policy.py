"""A workspace that requires two-factor sign-in of every member: a member without it signs in to a token that
reaches only /api/v1/auth/ (set it up, then sign in again), cannot turn it off while the rule stands, and the
rule is the workspace's own setting."""

from __future__ import annotations

import httpx
import pyotp

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key
from tests.tenancy.two_factor_steps import access_token, next_step_code, turned_on


async def require_two_factor(client: httpx.AsyncClient, tenant: TenantFixture, required: bool = True) -> None:
    changed = await client.patch("/api/v1/tenant", json={"two_factor_required": required}, headers=tenant.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["two_factor_required"] is required


async def test_a_member_without_it_may_only_set_it_up_then_signs_in_with_a_code(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await require_two_factor(client, tenant_a)
    signed_in = await access_token(client, tenant_a)
    assert signed_in.status_code == 200 and signed_in.json()["two_factor_setup_required"] is True
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

    refused = await client.get("/api/v1/conversations", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("two-factor-setup-required")
    assert "two-factor" in refused.json()["detail"]
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200

    setup = (await client.post("/api/v1/auth/two-factor", headers=headers)).json()
    app = pyotp.TOTP(setup["secret"])
    confirmed = await client.post("/api/v1/auth/two-factor/confirm", json={"code": app.now()}, headers=headers)
    assert confirmed.status_code == 200

    again = await access_token(client, tenant_a, code=next_step_code(app))
    assert again.status_code == 200 and again.json()["two_factor_setup_required"] is False
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await client.get("/api/v1/conversations", headers=fresh)).status_code == 200

    other = await access_token(client, tenant_b)
    assert other.json()["two_factor_setup_required"] is False, "another workspace's rule is its own"


async def test_refreshing_a_token_applies_the_rule_as_it_stands_now(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    before = (await access_token(client, tenant_a)).json()
    assert before["two_factor_setup_required"] is False
    await require_two_factor(client, tenant_a)

    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": before["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["two_factor_setup_required"] is True
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.get("/api/v1/assistants", headers=headers)).status_code == 403

    await require_two_factor(client, tenant_a, required=False)
    relaxed = await client.post("/api/v1/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert relaxed.json()["two_factor_setup_required"] is False


async def test_it_cannot_be_turned_off_while_the_workspace_requires_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    app, _, headers = await turned_on(client, tenant_a)
    await require_two_factor(client, tenant_a)

    refused = await client.post("/api/v1/auth/two-factor/disable", json={"code": next_step_code(app)}, headers=headers)
    assert refused.status_code == 403, refused.text
    assert (await client.get("/api/v1/auth/two-factor", headers=headers)).json()["enabled"] is True


async def test_only_admins_set_the_rule_a_non_boolean_is_refused_and_the_change_is_audited(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    refused = await client.patch("/api/v1/tenant", json={"two_factor_required": True}, headers=operator)
    bad = await client.patch("/api/v1/tenant", json={"two_factor_required": "sometimes"}, headers=tenant_a.headers)

    assert refused.status_code == 403
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert "two_factor_required" in bad.text
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["two_factor_required"] is False
    await require_two_factor(client, tenant_a)
    audit = (await client.get("/api/v1/audit", params={"action": "tenant."}, headers=tenant_a.headers)).json()
    assert [event["details"] for event in audit["items"]] == [{"changed": ["two_factor_required"]}]
