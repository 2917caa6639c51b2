"""The audit log: what is recorded (sign-ins and failed ones, API keys, members, assistants, channels), who may
read it, that one tenant never sees another's, and that the application cannot change or remove an entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.session import scope_to_tenant
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key

SITE = "https://shop.example"


async def events(client: httpx.AsyncClient, tenant: TenantFixture, **params: str) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/audit", params=params, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_sign_ins_and_failed_ones_are_recorded_but_an_unknown_address_leaves_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": tenant_a.owner_email, "password": tenant_a.owner_password}
    )
    wrong = await client.post("/api/v1/auth/login", json={"email": tenant_a.owner_email, "password": "not-it-123"})
    unknown = await client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12})

    assert signed_in.status_code == 200
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"], "the answer must not tell a known address apart"
    failed, succeeded = await events(client, tenant_a, action="auth.")
    assert (failed["action"], failed["actor"], failed["details"]) == (
        "auth.sign_in_failed",
        tenant_a.owner_email,
        {"reason": "wrong password"},
    )
    assert failed["actor_user_id"] == str(tenant_a.owner_id) and failed["client_ip"]
    assert (succeeded["action"], succeeded["actor"]) == ("auth.signed_in", tenant_a.owner_email)


async def test_api_keys_created_and_revoked_are_recorded_with_who_did_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = (await client.post("/api/v1/api-keys", json={"name": "CRM sync"}, headers=tenant_a.headers)).json()
    await client.delete(f"/api/v1/api-keys/{created['id']}", headers=tenant_a.headers)

    revoked, made = await events(client, tenant_a, action="api_key.")
    assert made["action"] == "api_key.created" and revoked["action"] == "api_key.revoked"
    assert made["target_id"] == revoked["target_id"] == created["id"]
    assert made["details"] == {"name": "CRM sync", "role": "admin", "prefix": created["prefix"]}
    assert made["actor_kind"] == "api_key" and made["actor"].endswith(")")  # "<key name> (<prefix>)"
    assert created["key"] not in str(made), "the key itself is never written down"


async def test_members_assistants_and_channels_changes_are_recorded_without_secret_values(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    headers = tenant_a.headers
    invited = {"email": "admin@example.com", "password": "Lotus-salon-2026!", "role": "operator"}
    assert (await client.post("/api/v1/users", json=invited, headers=headers)).status_code == 202
    assistant = (await client.post("/api/v1/assistants", json={"name": "Продажи"}, headers=headers)).json()
    changed = {"instructions": "Будьте вежливы", "greeting": "Здравствуйте!"}
    await client.patch(f"/api/v1/assistants/{assistant['id']}", json=changed, headers=headers)
    await client.delete(f"/api/v1/assistants/{assistant['id']}", headers=headers)
    widget = {"type": "widget", "name": "Сайт", "allowed_origins": [SITE]}
    channel = (await client.post("/api/v1/channels", json=widget, headers=headers)).json()
    await client.patch(f"/api/v1/channels/{channel['id']}", json={"status": "paused"}, headers=headers)
    await client.delete(f"/api/v1/channels/{channel['id']}", headers=headers)

    recorded = {event["action"]: event for event in await events(client, tenant_a)}
    assert recorded["member.invited"]["details"] == {"email": "admin@example.com", "role": "operator"}
    assert recorded["assistant.created"]["details"] == {"name": "Продажи"}
    assert recorded["assistant.changed"]["details"] == {"changed": ["greeting", "instructions"]}
    assert "Будьте вежливы" not in str(recorded["assistant.changed"])
    assert recorded["assistant.removed"]["target_id"] == assistant["id"]
    assert recorded["channel.connected"]["details"] == {"type": "widget", "name": "Сайт"}
    assert recorded["channel.changed"]["details"] == {"changed": ["status"]}
    assert recorded["channel.removed"]["target_id"] == channel["id"]


async def test_only_admins_read_it_and_each_tenant_sees_its_own(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await client.post("/api/v1/api-keys", json={"name": "A's key"}, headers=tenant_a.headers)
    operator = await make_key(database, tenant_a, Role.operator)

    refused = await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {operator}"})
    theirs = await events(client, tenant_b)

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [event for event in theirs if event["action"] == "api_key.created"] == []
    assert [event["details"]["name"] for event in await events(client, tenant_a, action="api_key.created")] == [
        "A's key"
    ]


async def test_filters_and_hostile_parameters(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await client.post("/api/v1/api-keys", json={"name": "k"}, headers=tenant_a.headers)
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()

    assert await events(client, tenant_a, since=tomorrow) == []
    assert [event["action"] for event in await events(client, tenant_a, action="api_key.created")] == [
        "api_key.created"
    ]
    for bad in ({"action": "auth%"}, {"action": "a\x00b"}, {"action": "x" * 65}, {"since": "yesterday"}):
        answer = await client.get("/api/v1/audit", params=bad, headers=tenant_a.headers)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"])
async def test_the_application_cannot_change_or_remove_an_entry(
    client: httpx.AsyncClient, session: AsyncSession, tenant_a: TenantFixture, statement: str
) -> None:
    await client.post("/api/v1/api-keys", json={"name": "k"}, headers=tenant_a.headers)
    await scope_to_tenant(session, tenant_a.id)
    with pytest.raises(DBAPIError, match="permission denied"):
        async with session.begin_nested():
            await session.execute(text(statement))
