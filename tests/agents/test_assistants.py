"""Assistants: the default one every tenant starts with, configuration, secrets, roles and isolation."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key

URL = "/api/v1/assistants"
MODEL = {
    "provider": "openai_compatible",
    "model_name": "qwen2.5:7b",
    "base_url": "http://127.0.0.1:11434/v1",
    "api_key": "sk-very-secret-key",
    "temperature": 0.2,
    "max_tokens": 500,
}


async def test_a_tenant_starts_with_an_offline_default_assistant(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    page = (await client.get(URL, headers=tenant_a.headers)).json()
    assert page["total"] == 1
    [assistant] = page["items"]
    assert assistant["is_default"] is True
    assert assistant["model"]["provider"] == "none"
    assert assistant["greeting"].startswith("Здравствуйте")


async def test_create_with_a_model_keeps_the_key_encrypted_and_hidden(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    created = await client.post(
        URL, json={"name": "Продажи", "instructions": "Продавай туры.", "model": MODEL}, headers=tenant_a.headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["model"]["has_api_key"] is True
    assert "sk-very-secret-key" not in created.text
    assert body["is_default"] is False
    await enter_system_scope(session)
    stored = (
        await session.execute(text("SELECT api_key_encrypted FROM assistants WHERE id = :id"), {"id": body["id"]})
    ).scalar_one()
    assert stored and "sk-very-secret-key" not in stored


async def test_update_keeps_the_key_while_it_goes_to_the_same_place(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = (await client.post(URL, json={"name": "A", "model": MODEL}, headers=tenant_a.headers)).json()
    url = f"{URL}/{created['id']}"
    without_key = {k: v for k, v in MODEL.items() if k != "api_key"}
    kept = (
        await client.patch(url, json={"model": {**without_key, "temperature": 0.9}}, headers=tenant_a.headers)
    ).json()
    assert kept["model"]["has_api_key"] is True and kept["model"]["temperature"] == 0.9
    offline = (await client.patch(url, json={"model": {"provider": "none"}}, headers=tenant_a.headers)).json()
    assert offline["model"]["has_api_key"] is False


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"base_url": "http://127.0.0.1:9999/v1"},  # the tenant admin's own server
        {"provider": "openai", "model_name": "gpt-4o", "base_url": None},
        {"provider": "anthropic", "model_name": "claude"},
    ],
)
async def test_sending_the_stored_key_elsewhere_requires_the_key_again(
    client: httpx.AsyncClient, tenant_a: TenantFixture, elsewhere: dict[str, object]
) -> None:
    created = (await client.post(URL, json={"name": "A", "model": MODEL}, headers=tenant_a.headers)).json()
    url = f"{URL}/{created['id']}"
    moved = {**{k: v for k, v in MODEL.items() if k != "api_key"}, **elsewhere}
    refused = await client.patch(url, json={"model": moved}, headers=tenant_a.headers)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"].startswith("model.api_key:") and "again" in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"] == "model.api_key"
    unchanged = (await client.get(url, headers=tenant_a.headers)).json()["model"]
    assert unchanged["base_url"] == MODEL["base_url"] and unchanged["provider"] == MODEL["provider"]
    assert unchanged["has_api_key"] is True
    with_key = await client.patch(url, json={"model": {**moved, "api_key": "sk-new"}}, headers=tenant_a.headers)
    assert with_key.status_code == 200, with_key.text
    assert with_key.json()["model"]["has_api_key"] is True


async def test_model_urls_into_private_networks_are_refused_unless_allowed(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    strict = create_app(settings.model_copy(update={"allow_private_model_urls": False}), runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://testserver") as client:
        for base_url in ["http://127.0.0.1:11434/v1", "http://[64:ff9b:1::a00:1]/v1", "http://224.0.0.1/v1"]:
            refused = await client.post(
                URL, json={"name": "A", "model": {**MODEL, "base_url": base_url}}, headers=tenant_a.headers
            )
            assert refused.status_code == 422, refused.text
            detail = refused.json()["detail"]
            assert "private or local address" in detail and "EASYFLOW_ALLOW_PRIVATE_MODEL_URLS" in detail
        default = (await client.get(URL, headers=tenant_a.headers)).json()["items"][0]
        patched = await client.patch(f"{URL}/{default['id']}", json={"model": MODEL}, headers=tenant_a.headers)
        assert patched.status_code == 422
        public = {**MODEL, "base_url": "https://93.184.216.34/v1"}
        created = await client.post(URL, json={"name": "A", "model": public}, headers=tenant_a.headers)
        assert created.status_code == 201, created.text
        official = {"provider": "openai", "model_name": "gpt-4o", "api_key": "sk-x"}  # no base_url: nothing to check
        assert (await client.post(URL, json={"name": "B", "model": official}, headers=tenant_a.headers)).is_success


async def test_switching_the_default(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    first_default = (await client.get(URL, headers=tenant_a.headers)).json()["items"][0]
    created = (await client.post(URL, json={"name": "Новый"}, headers=tenant_a.headers)).json()
    refused = await client.delete(f"{URL}/{first_default['id']}", headers=tenant_a.headers)
    assert refused.status_code == 409
    made = await client.patch(f"{URL}/{created['id']}", json={"is_default": True}, headers=tenant_a.headers)
    assert made.json()["is_default"] is True
    defaults = [a for a in (await client.get(URL, headers=tenant_a.headers)).json()["items"] if a["is_default"]]
    assert [a["id"] for a in defaults] == [created["id"]]
    assert (await client.delete(f"{URL}/{first_default['id']}", headers=tenant_a.headers)).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x", "model": {"provider": "openai"}},
        {"name": "x", "model": {"provider": "openai_compatible", "model_name": "m"}},
        {"name": "x", "model": {**MODEL, "temperature": 5}},
        {"name": "x", "language": "de"},
        {"name": "x", "enabled_tools": ["rm_rf"]},
        {"name": "x", "model": {**MODEL, "base_url": "not a url"}},
        {"name": "x", "secret_mode": True},
    ],
    ids=["no-name", "no-model-name", "no-base-url", "hot", "language", "unknown-tool", "bad-url", "unknown-field"],
)
async def test_bad_assistants_are_refused(client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict) -> None:
    response = await client.post(URL, json=body, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert (await client.get(URL, headers=tenant_a.headers)).json()["total"] == 1


async def test_roles(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> None:
    assert (await client.get(URL)).status_code == 401
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get(URL, headers=viewer)).status_code == 200
    assert (await client.post(URL, json={"name": "x"}, headers=viewer)).status_code == 403
    assert (await client.post(URL, json={"name": "x"}, headers=operator)).status_code == 403
    some_id = (await client.get(URL, headers=viewer)).json()["items"][0]["id"]
    assert (await client.patch(f"{URL}/{some_id}", json={"name": "y"}, headers=operator)).status_code == 403
    assert (await client.delete(f"{URL}/{some_id}", headers=operator)).status_code == 403


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_another_tenants_assistant_is_404(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, method: str
) -> None:
    theirs = (await client.post(URL, json={"name": "B's"}, headers=tenant_b.headers)).json()["id"]
    body = {"name": "stolen"} if method == "PATCH" else None
    response = await client.request(method, f"{URL}/{theirs}", json=body, headers=tenant_a.headers)
    assert response.status_code == 404
    assert (await client.get(f"{URL}/{theirs}", headers=tenant_b.headers)).json()["name"] == "B's"
    assert (await client.get(f"{URL}/{uuid.uuid4()}", headers=tenant_a.headers)).status_code == 404
