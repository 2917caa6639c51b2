"""The tenant's own settings, users and API keys: what each role may do, and that another tenant's ids
are 404 on every route."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key, make_member


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def key_id_of(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    keys = (await client.get("/api/v1/api-keys", headers=tenant.headers)).json()["items"]
    return str(keys[0]["id"])


# (method, path template, JSON body, the least role allowed). {user} is a member's id, {key} a key id.
ROUTES = [
    ("GET", "/api/v1/tenant", None, Role.viewer),
    ("PATCH", "/api/v1/tenant", {"name": "Renamed"}, Role.admin),
    ("GET", "/api/v1/users", None, Role.viewer),
    ("GET", "/api/v1/users/{user}", None, Role.viewer),
    ("POST", "/api/v1/users", {"email": "new@example.com", "password": "new-pass-123"}, Role.admin),
    ("PATCH", "/api/v1/users/{user}", {"role": "viewer"}, Role.admin),
    ("DELETE", "/api/v1/users/{user}", None, Role.admin),
    ("GET", "/api/v1/api-keys", None, Role.admin),
    ("GET", "/api/v1/api-keys/{key}", None, Role.admin),
    ("POST", "/api/v1/api-keys", {"name": "k"}, Role.admin),
    ("DELETE", "/api/v1/api-keys/{key}", None, Role.admin),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES)
async def test_roles_below_the_least_are_403_and_anonymous_is_401(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    method: str,
    path: str,
    body: dict[str, str] | None,
    least: Role,
) -> None:
    target_email = await make_member(database, tenant_a, Role.operator)
    members = (await client.get("/api/v1/users", headers=tenant_a.headers)).json()["items"]
    target = next(m["user_id"] for m in members if m["email"] == target_email)
    url = path.format(user=target, key=await key_id_of(client, tenant_a))

    anonymous = await client.request(method, url, json=body)
    assert anonymous.status_code == 401

    for role in Role:
        if role == Role.owner:
            continue  # API keys cannot be owners; owners are covered through sign-in below
        response = await client.request(
            method, url, json=body, headers=bearer(await make_key(database, tenant_a, role))
        )
        if role.at_least(least):
            assert response.status_code < 300, (role, response.text)
            break  # a successful write (e.g. delete) changes what the next role would see
        assert response.status_code == 403, (role, response.text)
        assert "needs the" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/users/{user}", None),
        ("PATCH", "/api/v1/users/{user}", {"role": "viewer"}),
        ("DELETE", "/api/v1/users/{user}", None),
        ("GET", "/api/v1/api-keys/{key}", None),
        ("DELETE", "/api/v1/api-keys/{key}", None),
    ],
)
async def test_another_tenants_ids_are_404(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    url = path.format(user=tenant_b.owner_id, key=await key_id_of(client, tenant_b))
    response = await client.request(method, url, json=body, headers=tenant_a.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    # and B's rows are untouched
    still = await client.request(
        "GET", url if "api-keys" in url else f"/api/v1/users/{tenant_b.owner_id}", headers=tenant_b.headers
    )
    assert still.status_code == 200
    assert still.json().get("revoked_at") is None
    assert still.json().get("role", "admin") in ("owner", "admin")


async def test_lists_show_only_the_callers_tenant(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    users = (await client.get("/api/v1/users", headers=tenant_a.headers)).json()
    assert [u["email"] for u in users["items"]] == [tenant_a.owner_email]
    assert users["total"] == 1
    keys = (await client.get("/api/v1/api-keys", headers=tenant_a.headers)).json()
    b_keys = (await client.get("/api/v1/api-keys", headers=tenant_b.headers)).json()
    assert {k["id"] for k in keys["items"]}.isdisjoint({k["id"] for k in b_keys["items"]})
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["id"] == str(tenant_a.id)


async def test_tenant_settings_update(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.patch(
        "/api/v1/tenant",
        json={"name": "Салон «Лотос» на Арбате", "default_language": "en", "timezone": "Asia/Bishkek"},
        headers=tenant_a.headers,
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Салон «Лотос» на Арбате"
    again = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert (again["default_language"], again["timezone"]) == ("en", "Asia/Bishkek")


@pytest.mark.parametrize(
    "body",
    [{"timezone": "Mars/Olympus"}, {"default_language": "fr"}, {"name": ""}, {"name": None}, {"colour": "red"}],
)
async def test_bad_tenant_settings_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict[str, object]
) -> None:
    response = await client.patch("/api/v1/tenant", json=body, headers=tenant_a.headers)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["name"] == "Салон «Лотос»"


async def test_members_lifecycle(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    created = await client.post(
        "/api/v1/users",
        json={
            "email": "Operator@Example.com",
            "name": "Айгуль",
            "password": "reception-tea-garden",
            "role": "operator",
        },
        headers=tenant_a.headers,
    )
    assert created.status_code == 202, created.text
    assert created.json() == {"email": "operator@example.com", "role": "operator"}

    # the new account joins on its first sign-in, with the password the admin chose
    login = await client.post(
        "/api/v1/auth/login", json={"email": "operator@example.com", "password": "reception-tea-garden"}
    )
    assert login.json()["role"] == "operator"
    members = (await client.get("/api/v1/users", headers=tenant_a.headers)).json()["items"]
    member = next(m for m in members if m["email"] == "operator@example.com")
    assert (member["name"], member["role"]) == ("Айгуль", "operator")

    promoted = await client.patch(
        f"/api/v1/users/{member['user_id']}", json={"role": "admin"}, headers=tenant_a.headers
    )
    assert promoted.json()["role"] == "admin"
    duplicate = await client.post(
        "/api/v1/users", json={"email": "operator@example.com", "role": "viewer"}, headers=tenant_a.headers
    )
    assert duplicate.status_code == 409  # already one of this tenant's members, which the admin can list anyway
    removed = await client.delete(f"/api/v1/users/{member['user_id']}", headers=tenant_a.headers)
    assert removed.status_code == 204
    assert (await client.get(f"/api/v1/users/{member['user_id']}", headers=tenant_a.headers)).status_code == 404


async def test_only_owners_touch_owners_and_the_last_owner_stays(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    admin = bearer(await make_key(database, tenant_a, Role.admin))
    owner_url = f"/api/v1/users/{tenant_a.owner_id}"
    assert (await client.patch(owner_url, json={"role": "viewer"}, headers=admin)).status_code == 403
    assert (await client.delete(owner_url, headers=admin)).status_code == 403
    make_owner = await client.post(
        "/api/v1/users",
        json={"email": "x@example.com", "password": "owner-by-surprise", "role": "owner"},
        headers=admin,
    )
    assert make_owner.status_code == 403

    tokens = (
        await client.post(
            "/api/v1/auth/login", json={"email": tenant_a.owner_email, "password": tenant_a.owner_password}
        )
    ).json()
    owner = bearer(tokens["access_token"])
    assert (await client.patch(owner_url, json={"role": "admin"}, headers=owner)).status_code == 409
    assert (await client.delete(owner_url, headers=owner)).status_code == 409


async def test_api_keys_are_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "Zapier", "role": "viewer"}, headers=tenant_a.headers)
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(f"ef_{body['prefix']}_")
    listed = await client.get("/api/v1/api-keys", headers=tenant_a.headers)
    assert all("key" not in item for item in listed.json()["items"])
    assert body["key"] not in listed.text

    await enter_system_scope(session)
    stored = (await session.execute(text("SELECT key_hash FROM api_keys WHERE id = :id"), {"id": body["id"]})).scalar()
    assert stored is not None and body["key"] not in stored and len(stored) == 64

    viewer = await client.get("/api/v1/tenant", headers=bearer(body["key"]))
    assert viewer.status_code == 200
    refused = await client.patch("/api/v1/tenant", json={"name": "x"}, headers=bearer(body["key"]))
    assert refused.status_code == 403


async def test_an_api_key_cannot_be_an_owner(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.post("/api/v1/api-keys", json={"name": "root", "role": "owner"}, headers=tenant_a.headers)
    assert response.status_code == 422


async def test_unknown_ids_are_404_and_malformed_ids_422(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    assert (await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=tenant_a.headers)).status_code == 404
    assert (await client.get("/api/v1/api-keys/not-a-uuid", headers=tenant_a.headers)).status_code == 422


async def test_pagination(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    for index in range(3):
        await client.post("/api/v1/api-keys", json={"name": f"k{index}"}, headers=tenant_a.headers)
    page = (await client.get("/api/v1/api-keys?limit=2&offset=1", headers=tenant_a.headers)).json()
    assert page["total"] == 4
    assert [k["name"] for k in page["items"]] == ["k0", "k1"]
    assert (await client.get("/api/v1/api-keys?limit=0", headers=tenant_a.headers)).status_code == 422
