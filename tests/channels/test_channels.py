"""Connecting channels: the widget (public key, allowed origins, identity secret shown once), pausing,
re-routing, removing, roles and tenant isolation."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key

URL = "/api/v1/channels"
WIDGET = {
    "type": "widget",
    "name": "Сайт салона",
    "allowed_origins": ["https://lotos.example", "http://localhost:8080"],
}


async def test_a_widget_gets_a_public_key_and_a_secret_shown_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    created = await client.post(URL, json=WIDGET, headers=tenant_a.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["type"] == "widget" and body["status"] == "active"
    assert body["public_key"].startswith("wk_")
    assert body["config"]["allowed_origins"] == ["https://lotos.example", "http://localhost:8080"]
    secret = body["identity_secret"]
    assert len(secret) >= 32
    read = await client.get(f"{URL}/{body['id']}", headers=tenant_a.headers)
    assert "identity_secret" not in read.json() and secret not in read.text
    await enter_system_scope(session)
    stored = (
        await session.execute(text("SELECT credentials_encrypted FROM channels WHERE id = :id"), {"id": body["id"]})
    ).scalar_one()
    assert secret not in stored


@pytest.mark.parametrize(
    "body",
    [
        {**WIDGET, "allowed_origins": []},
        {**WIDGET, "allowed_origins": ["https://lotos.example/path"]},
        {**WIDGET, "allowed_origins": ["not a url"]},
        {"type": "viber", "name": "x"},
        {"type": "telegram", "token": "not-a-token"},
        {**WIDGET, "assistant_id": str(uuid.uuid4())},
        {**WIDGET, "colour": "red"},
    ],
    ids=["no-origins", "origin-with-path", "bad-origin", "unknown-type", "bad-token", "unknown-assistant", "unknown"],
)
async def test_bad_channels_are_refused(client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict) -> None:
    response = await client.post(URL, json=body, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert (await client.get(URL, headers=tenant_a.headers)).json()["total"] == 0


async def test_pause_reroute_and_remove(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    channel = (await client.post(URL, json=WIDGET, headers=tenant_a.headers)).json()
    assistant = (await client.post("/api/v1/assistants", json={"name": "Продажи"}, headers=tenant_a.headers)).json()
    url = f"{URL}/{channel['id']}"
    paused = await client.patch(
        url, json={"status": "paused", "assistant_id": assistant["id"]}, headers=tenant_a.headers
    )
    assert (paused.json()["status"], paused.json()["assistant_id"]) == ("paused", assistant["id"])
    back = await client.patch(url, json={"assistant_id": None, "status": "active"}, headers=tenant_a.headers)
    assert (back.json()["status"], back.json()["assistant_id"]) == ("active", None)
    assert (await client.delete(url, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(url, headers=tenant_a.headers)).status_code == 404


async def test_roles_and_tenants(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.post(URL, json=WIDGET)).status_code == 401
    assert (await client.post(URL, json=WIDGET, headers=operator)).status_code == 403
    theirs = (await client.post(URL, json=WIDGET, headers=tenant_b.headers)).json()
    for method, body in (("GET", None), ("PATCH", {"status": "paused"}), ("DELETE", None)):
        response = await client.request(method, f"{URL}/{theirs['id']}", json=body, headers=tenant_a.headers)
        assert response.status_code == 404
    assert (await client.get(URL, headers=tenant_a.headers)).json()["total"] == 0
    assert (await client.get(f"{URL}/{theirs['id']}", headers=tenant_b.headers)).json()["status"] == "active"
