"""Helpers of the inbox tests: signed-in staff, customers writing through the API channel, reading back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member, run_queued_jobs

POST = "/api/v1/channels/api/messages"


@dataclass(frozen=True)
class Staff:
    user_id: uuid.UUID
    email: str
    headers: dict[str, str]


async def sign_in(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture, role: Role = Role.operator
) -> Staff:
    email = await make_member(database, tenant, role)
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "member-pass-1", "tenant_id": str(tenant.id)}
    )
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    return Staff(uuid.UUID(me["user_id"]), email, headers)


async def customer_writes(
    client: httpx.AsyncClient, tenant: TenantFixture, text: str, contact: str = "customer-1"
) -> dict:
    body = {"contact": {"external_id": contact}, "text": text, "external_message_id": uuid.uuid4().hex}
    response = await client.post(POST, json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    return response.json()


async def conversation(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: str) -> dict:
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def messages(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: str) -> list[dict]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def events(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: str) -> list[dict]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}/events", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def patch(
    client: httpx.AsyncClient, headers: dict[str, str], conversation_id: str, **changes: object
) -> httpx.Response:
    return await client.patch(f"/api/v1/conversations/{conversation_id}", json=changes, headers=headers)


async def send_as_staff(
    client: httpx.AsyncClient, headers: dict[str, str], conversation_id: str, text: str, *, private: bool = False
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, "private": private}, headers=headers
    )


async def handed_off(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, text: str) -> str:
    """A customer's conversation, handed to people by what they wrote (the assistant's reply job run)."""
    accepted = await customer_writes(client, tenant, text)
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant, accepted["conversation_id"]))["status"] == "pending"
    return str(accepted["conversation_id"])
